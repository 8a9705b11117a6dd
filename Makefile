# One command to run the pipeline, one to run the tests; both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: run test test-fast bench bench-quick lint format clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask]'
	touch $(STAMP)

## make run ARGS="--archs lstm,gru --epochs 3": the comparison flow (seed defaults, canonical URL)
run: $(STAMP)
	$(BIN)/imdb-rnn run $(ARGS)

## make test: the whole suite, real-data and flow tests included
test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

## make test-fast: unit tests only (no Keras training, no Prefect server)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not flow and not real_data and not server" $(ARGS)

## make bench: pipeline vs the plain Keras script on the full data, 10 seeds (about 23 min on a fast 2-core host); make bench ARGS=--best
## make bench ARGS=--whole-run: the first imdb-rnn run of release 0.3.0 against this code's, 3 each (about 21 min)
## make bench ARGS=--predict: imdb-rnn predict --file on 1, 10,000 and 100,000 reviews
## make bench ARGS=--scale: each stage's time and peak memory on 1x, 4x and 16x IMDb's reviews (ARGS="--scale --scale-factors 0.02,0.04": a quick check)
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

## make bench-quick: the same harness on 2,000 reviews per split, 1 epoch (a few minutes)
bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick $(ARGS)

## make lint: ruff, and the layers of docs/ARCHITECTURE.md (import-linter's contracts in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-venv:
	rm -rf $(VENV)
