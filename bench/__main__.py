"""``python -m bench``: the pipeline against the plain Keras script, measured in one invocation.

    python -m bench          # full data, 10 seeds -> docs/benchmarks.json and docs/BENCHMARKS.md
    python -m bench --quick  # 2,000 reviews per split and 1 epoch: checks that the harness works
    python -m bench --best   # the `best` profile from scratch: test accuracy, training time
    python -m bench --scale-out  # seed comparison sequentially vs on 2 local Dask workers
    python -m bench --whole-run  # a first run with the defaults: this code vs release 0.3.0
    python -m bench --predict    # imdb-rnn predict --file on 1, 10,000 and 100,000 reviews
    python -m bench --scale      # each stage on 1x, 4x and 16x IMDb's reviews: time, memory

Results of every mode are kept side by side in the JSON file; the Markdown table is
rewritten from it each time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import ROOT, BenchSettings, run_best_profile, run_scale_out, run_speed_suite
from bench.markdown import write_markdown
from bench.scale_corpus import DEFAULT_FACTORS, parse_factors

DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"
# One seed moves test accuracy by up to 0.03; over ten, the mean difference to the plain
# script has a 95 % interval of about ±0.013 for LSTM and GRU (docs/BENCHMARKS.md).
DEFAULT_SEEDS = 10


def _read_sha256(source: Path) -> str | None:
    checksum_file = source.with_name(source.name + ".sha256")
    if checksum_file.is_file():
        return checksum_file.read_text(encoding="utf-8").split()[0]
    return None


def _scale_factors(args: argparse.Namespace) -> tuple[float, ...]:
    """``--scale-factors`` as sorted numbers (the default when not given)."""
    return parse_factors(args.scale_factors) if args.scale_factors else DEFAULT_FACTORS


def _shown_arguments(args: argparse.Namespace) -> list[str]:
    """The options that change what is measured (not where files go)."""
    shown = ["--quick"] if args.quick else ["--best"] if args.best else []
    if args.scale_out:
        shown += ["--scale-out", *(["--repeats", str(args.repeats)] if args.repeats else [])]
    if args.predict:
        shown += ["--predict"]
    if args.scale:
        factors = _scale_factors(args)
        shown += ["--scale"]
        if factors != DEFAULT_FACTORS:
            shown += ["--scale-factors", ",".join(f"{factor:g}" for factor in factors)]
    if args.whole_run:
        shown += ["--whole-run", *(["--repeats", str(args.repeats)] if args.repeats else [])]
    if args.seeds != DEFAULT_SEEDS:
        shown += ["--seeds", str(args.seeds)]
    if args.source:
        shown += ["--source", f"<archive {args.source.name}>"]
    return shown


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the pipeline against a plain Keras script of the seed notes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--source",
        type=Path,
        help="the aclImdb archive, a local .tar.gz "
        "(default: ../shared/data/aclImdb_v1_labeled.tar.gz beside the project)",
    )
    parser.add_argument("--sha256", help="its sha256; default: read from <source>.sha256")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="2,000 reviews per split, 1 epoch, 2 seeds"
    )
    mode.add_argument("--best", action="store_true", help="measure the best profile instead")
    mode.add_argument(
        "--whole-run",
        action="store_true",
        help="time the first imdb-rnn run with the defaults on a fresh data folder: this code "
        "(the same work as 0.3.0, and the default) and release 0.3.0, taking turns",
    )
    mode.add_argument(
        "--scale",
        action="store_true",
        help="time each stage (prepare, one LSTM epoch in memory and one streamed from row "
        "groups, evaluation, the TF-IDF baseline) and its peak memory on corpora of "
        "--scale-factors x IMDb's 50,000 reviews",
    )
    mode.add_argument(
        "--predict",
        action="store_true",
        help="time imdb-rnn predict --file with the seed champion on 1, 10,000 and 100,000 "
        "reviews: start-up cost and reviews/s",
    )
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="time the seed comparison sequentially and on a local cluster of 2 Dask workers "
        "(with --quick: on the quick subset)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help="runs of each mode, taking turns (--scale-out: default 2; --whole-run: 3)",
    )
    parser.add_argument(
        "--scale-factors",
        help="--scale: corpus sizes as multiples of IMDb's 50,000 reviews, comma-separated "
        "(default: 1,4,16); a fraction is a sample balanced by split and label",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help="seeds per architecture: the accuracy difference to the plain script is a mean "
        "over them, and a single seed moves test accuracy by up to 0.03",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder of benchmarks.json and BENCHMARKS.md "
        "(default: docs/, or a temporary folder in quick mode)",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the runs' data folders go (default: temporary)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    source = (args.source or DEFAULT_SOURCE).expanduser().resolve()
    if not source.is_file():
        parser.error(f"--source {source}: no such file; pass the aclImdb .tar.gz archive")
    sha256 = args.sha256 or _read_sha256(source)
    if not sha256:
        parser.error(f"--sha256 is needed: there is no {source.name}.sha256 beside {source}")
    if args.scale_factors is not None and not args.scale:
        parser.error("--scale-factors goes with --scale")
    try:
        factors = _scale_factors(args)
    except ValueError as problem:
        parser.error(f"--scale-factors {args.scale_factors}: {problem}")
    if args.scale_out and (args.best or args.whole_run or args.predict or args.scale):
        parser.error("--scale-out measures something else; give it on its own")
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")

    with tempfile.TemporaryDirectory(prefix="imdb-rnn-bench-") as scratch:
        work_dir = (args.work_dir or Path(scratch)).resolve()
        out = args.out or (Path(scratch) / "out" if args.quick else ROOT / "docs")
        quick = {
            "max_reviews_per_split": 2000,
            "epochs": 1,
            "seeds": min(args.seeds, 2),
            "prepare_repeats": 2,
            "extra_pipeline_args": (
                "--claims-train",
                "256",
                "--claims-epochs",
                "1",
                "--claims-distances",
                "10,50",
                "--claims-reviews",
                "32",
            ),
        }
        settings = BenchSettings(
            source=str(source),
            sha256=sha256,
            work_dir=work_dir,
            **({"seeds": args.seeds} | (quick if args.quick else {})),
            log=lambda line: print(line, flush=True),
        )
        if args.scale_out:
            key, results = "scale_out", run_scale_out(settings, args.repeats or 2)
        elif args.whole_run:
            from bench.whole_run import run_whole_run

            key, results = "whole_run", run_whole_run(settings, args.repeats or 3)
        elif args.scale:
            from bench.scale import CHART_FILE, draw_chart, run_scale

            key, results = "scale", run_scale(settings, factors)
            draw_chart(results, out / CHART_FILE)
        elif args.predict:
            from bench.predict_speed import run_predict_speed

            key, results = "predict", run_predict_speed(settings)
        elif args.best:
            key, results = "best", run_best_profile(settings)
        else:
            key, results = ("quick" if args.quick else "speed"), run_speed_suite(settings)
        results["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        results["invocation"] = " ".join(["python -m bench", *_shown_arguments(args)])

        out.mkdir(parents=True, exist_ok=True)
        json_path = out / "benchmarks.json"
        everything = json.loads(json_path.read_text("utf-8")) if json_path.is_file() else {}
        everything[key] = results
        from imdb_rnn.files import write_json_atomic

        write_json_atomic(json_path, everything)
        markdown_path = write_markdown(everything, out / "BENCHMARKS.md")
        print(f"\nResults: {json_path}\nTable:   {markdown_path}")
        print(markdown_path.read_text("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
