"""The real aclImdb archive next to the project, capped for time: are the numbers sane?"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from entrypoints.predict import predict_reviews
from imdb_rnn.aclimdb import read_reviews
from imdb_rnn.champion import load_champion
from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    PreprocessConfig,
    SourceConfig,
    TableConfig,
    TrainingConfig,
)
from imdb_rnn.paths import DataPaths
from imdb_rnn.text import tokenize_all
from rnn_models.config import ModelConfig
from tasks.baseline import train_and_score_baseline
from tasks.champion import decide_and_promote
from tasks.download import fetch_archive
from tasks.evaluate import evaluate_trained_model
from tasks.prepare import prepare_dataset
from tasks.unpack import locate_dataset
from tests.conftest import REAL_ARCHIVE, train_model

pytestmark = [pytest.mark.real_data, pytest.mark.slow]

REVIEWS_PER_SPLIT = 4_000


OBVIOUS_REVIEWS = [
    "One of the best films I have seen. Brilliant acting, a wonderful story, I loved it.",
    "A beautiful, moving and funny movie. The cast is excellent. Highly recommended!",
    "The worst movie ever made. Awful acting, a boring plot and terrible dialogue.",
    "What a waste of time. Stupid, dull and badly written. I hated every minute.",
]


@pytest.fixture(scope="module")
def real_archive():
    if not REAL_ARCHIVE.is_file():
        if os.environ.get("IMDB_RNN_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"the real archive is required but missing: {REAL_ARCHIVE}")
        pytest.skip(f"real archive not found at {REAL_ARCHIVE}")
    return REAL_ARCHIVE


@pytest.fixture(scope="module")
def prepared(real_archive, tmp_path_factory):
    paths = DataPaths.at(tmp_path_factory.mktemp("real-data"))
    source = fetch_archive(
        SourceConfig(source=str(real_archive)), paths.archives
    )  # .sha256 sidecar
    raw = locate_dataset(source, paths)
    return paths, prepare_dataset(
        raw, PreprocessConfig(max_reviews_per_split=REVIEWS_PER_SPLIT), paths.processed
    )


def test_real_archive_has_the_documented_layout(prepared):
    _, data = prepared
    assert data.rows == {"train": 3_200, "validation": 800, "test": 4_000}
    assert (
        data.source_sha256
        == REAL_ARCHIVE.with_name(REAL_ARCHIVE.name + ".sha256").read_text().split()[0]
    )


def test_bulk_tokenizer_finds_the_words_the_regular_expression_finds_in_every_review(prepared):
    """The documented definition of a word, checked against the bulk tokenizer on all 50,000."""
    paths, _ = prepared
    raw = locate_dataset(
        fetch_archive(SourceConfig(source=str(REAL_ARCHIVE)), paths.archives), paths
    )
    word = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
    for split in ("train", "test"):
        texts = read_reviews(raw.root, split, cap=None, seed=0).frame["text"]
        bulk = tokenize_all(texts).to_pylist()
        assert len(bulk) == 25_000
        assert bulk == [word.findall(text) for text in texts]


def test_lstm_beats_chance_clearly_and_baseline_beats_075(prepared):
    paths, data = prepared
    training = TrainingConfig(architectures=("lstm",), epochs=3)
    trained = train_model("lstm", data, ModelConfig(), training, paths.models)
    lstm = evaluate_trained_model(trained, data)
    baseline = train_and_score_baseline(data, BaselineConfig(), paths.models)
    print(f"lstm {lstm.metrics}\nbaseline {baseline.metrics}")
    assert lstm.metrics["accuracy"] > 0.65
    assert lstm.metrics["roc_auc"] > 0.75
    assert baseline.metrics["accuracy"] > 0.75


def test_champion_trained_on_all_reviews_labels_obvious_reviews(prepared):
    """The seed LSTM on the full training split, promoted, then asked about plain reviews."""
    paths, _ = prepared
    raw = locate_dataset(
        fetch_archive(SourceConfig(source=str(REAL_ARCHIVE)), paths.archives), paths
    )
    data = prepare_dataset(raw, PreprocessConfig(), paths.processed)
    assert data.rows == {"train": 20_000, "validation": 5_000, "test": 25_000}
    training = TrainingConfig(architectures=("lstm",))
    trained = train_model("lstm", data, ModelConfig(), training, paths.models)
    lstm = evaluate_trained_model(trained, data)
    assert lstm.metrics["accuracy"] > 0.8  # the seed notes' script gave about 0.855 here

    decision = decide_and_promote("real-run", [lstm], data, ChampionConfig(), paths)
    assert decision.promoted
    predictions = predict_reviews(OBVIOUS_REVIEWS, load_champion(paths.champion))
    assert list(predictions["label"]) == ["positive", "positive", "negative", "negative"]


def test_a_table_of_the_same_reviews_prepares_to_the_same_tensors(prepared, tmp_path):
    """The real reviews the capped aclImdb prepare read, written as a CSV with the archive's
    split: the table path gives the same token ids, vocabulary and labels, split by split."""
    from imdb_rnn.aclimdb import list_review_files, open_reviews
    from imdb_rnn.prepared import load_arrays, load_split
    from imdb_rnn.text import VOCABULARY_FILE

    paths, from_archive = prepared
    raw = locate_dataset(
        fetch_archive(SourceConfig(source=str(REAL_ARCHIVE)), paths.archives), paths
    )
    config = from_archive.preprocess
    rows = []
    reviews = open_reviews(raw.root)
    for split in ("train", "test"):
        for file in list_review_files(
            reviews, split, config.max_reviews_per_split, config.split_seed
        ):
            text = reviews.read(file.location).decode("utf-8", errors="replace")
            rows.append(
                {"review": text, "sentiment": "pos" if file.label else "neg", "part": split}
            )
    table = tmp_path / "reviews.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    source = fetch_archive(SourceConfig(source=str(table)), paths.archives)
    from_table = prepare_dataset(
        locate_dataset(source, paths),
        config.model_copy(update={"max_reviews_per_split": None}),
        paths.processed,
        table=TableConfig(split_column="part"),
    )

    assert from_table.classes == ("neg", "pos")
    assert from_table.rows == from_archive.rows
    assert json.loads((from_table.directory / VOCABULARY_FILE).read_text()) == json.loads(
        (from_archive.directory / VOCABULARY_FILE).read_text()
    )
    for split in ("train", "validation", "test"):
        tokens, labels, lengths = load_arrays(from_table, split)
        expected_tokens, expected_labels, expected_lengths = load_arrays(from_archive, split)
        np.testing.assert_array_equal(tokens, expected_tokens)
        np.testing.assert_array_equal(labels, expected_labels)
        np.testing.assert_array_equal(lengths, expected_lengths)
        assert list(load_split(from_table, split, ["text"])["text"]) == list(
            load_split(from_archive, split, ["text"])["text"]
        )
