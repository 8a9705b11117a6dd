"""The real aclImdb archive next to the project, capped for time: are the numbers sane?"""

from __future__ import annotations

import os

import pytest

from imdb_rnn.config import (
    BaselineConfig,
    ModelConfig,
    PreprocessConfig,
    SourceConfig,
    TrainingConfig,
)
from imdb_rnn.paths import DataPaths
from tasks.baseline import train_and_score_baseline
from tasks.download import fetch_archive, locate_dataset
from tasks.evaluate import evaluate_trained_model
from tasks.prepare import prepare_dataset
from tasks.train import train_architecture
from tests.conftest import REAL_ARCHIVE

pytestmark = [pytest.mark.real_data, pytest.mark.slow]

REVIEWS_PER_SPLIT = 4_000


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


def test_lstm_beats_chance_clearly_and_baseline_beats_075(prepared):
    paths, data = prepared
    training = TrainingConfig(architectures=("lstm",), epochs=3)
    trained = train_architecture("lstm", data, ModelConfig(), training, paths.models)
    lstm = evaluate_trained_model(trained, data)
    baseline = train_and_score_baseline(data, BaselineConfig(), paths.models)
    print(f"lstm {lstm.metrics}\nbaseline {baseline.metrics}")
    assert lstm.metrics["accuracy"] > 0.65
    assert lstm.metrics["roc_auc"] > 0.75
    assert baseline.metrics["accuracy"] > 0.75
