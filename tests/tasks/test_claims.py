"""The claims step in a flow: the seed-claims artifact, and its cache."""

from __future__ import annotations

import json

import pytest

from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    PreprocessConfig,
    SourceConfig,
    TrainingConfig,
)
from rnn_models.config import ModelConfig
from tests.samples import SMALL_CLAIMS


@pytest.mark.flow
@pytest.mark.slow
def test_flow_publishes_the_seed_claims_table_and_reuses_it(
    prefect_harness, fake_archive, tmp_path, monkeypatch
):
    import rnn_models.probes
    from flows.compare import compare_architectures
    from tests.conftest import read_artifact

    data_dir = tmp_path / "data"
    parameters = dict(
        source=SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256),
        preprocess=PreprocessConfig(vocab_size=60, maxlen=24),
        model=ModelConfig(embedding_dim=4, units=4),
        training=TrainingConfig(epochs=1, batch_size=8),
        baseline=BaselineConfig(enabled=False),
        champion=ChampionConfig(enabled=False),
        claims=SMALL_CLAIMS,
        data_dir=str(data_dir),
    )
    result = compare_architectures(**parameters)

    table = json.loads(read_artifact("seed-claims").data)
    assert [row["model"] for row in table] == ["simple_rnn", "lstm", "gru"]
    expected = {
        "model",
        "memory_span",
        "window",
        "memory",
        "oldest_to_peak",
        "accuracy_d2",
        "accuracy_d6",
        "handled_up_to",
        "long_term",
        "parameters",
        "complexity",
        "seconds_per_epoch",
        "reviews_per_second",
        "gradient_norm_first",
        "gradient_norm_max",
        "gradient_norm_growth",
        "exploding",
        "status",
    }
    assert all(set(row) == expected for row in table)
    assert all(0 < row["memory_span"] <= 24 and row["window"] == 24 for row in table)
    assert all(0.0 <= row["accuracy_d6"] <= 1.0 for row in table)
    assert all(row["gradient_norm_max"] > 0 for row in table)
    assert "## The seed notes' claims, measured" in result.markdown
    assert "The seed notes' claims, measured" in result.html_path.read_text()
    metrics = json.loads((result.directory / "metrics.json").read_text())
    assert metrics["run"]["claims"]["distances"] == [2, 6]
    assert len(list((data_dir / "claims").glob("*.json"))) == 3
    assert len(list((data_dir / "models").glob("*/claims.json"))) == 3

    # Same inputs again: no gradient and no synthetic training is computed a second time.
    def must_not_run(*args, **kwargs):
        raise AssertionError("the claims were measured again although nothing changed")

    monkeypatch.setattr(rnn_models.probes, "gradient_by_position", must_not_run)
    monkeypatch.setattr(rnn_models.probes, "synthetic_accuracy", must_not_run)
    again = compare_architectures(**parameters)
    assert json.loads(read_artifact("seed-claims").data) == table
    assert again.run_id != result.run_id

    # Turned off: no table, no section.
    off = compare_architectures(**{**parameters, "claims": ClaimsConfig(enabled=False)})
    assert "seed notes' claims" not in off.markdown
