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
    monkeypatch.setattr(rnn_models.probes, "synthetic_accuracies", must_not_run)
    again = compare_architectures(**parameters)
    assert json.loads(read_artifact("seed-claims").data) == table
    assert again.run_id != result.run_id

    # Turned off: no table, no section.
    off = compare_architectures(**{**parameters, "claims": ClaimsConfig(enabled=False)})
    assert "seed notes' claims" not in off.markdown


@pytest.mark.slow
def test_a_three_class_models_gradient_by_position_is_that_of_its_own_loss(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    from imdb_rnn.prepared import load_arrays
    from imdb_rnn.trained import TrainedModel
    from rnn_models import build_model
    from rnn_models.runtime import seeded_construction
    from tasks.claims import cached_gradient_curve
    from tests.samples import three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    with seeded_construction(4):
        model = build_model("gru", ModelConfig(embedding_dim=4, units=3), 50, 12, classes=3)
    folder = tmp_path / "models" / "gru-x"
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    trained = TrainedModel("gru", folder, "x", model.count_params(), 1.0, 1, {})
    claims = ClaimsConfig(sample_reviews=100)  # more than the 12 test reviews: all of them

    curve, reused = cached_gradient_curve(trained, prepared, claims, seed=0)

    # By hand, review by review: the gradient of -log p(label) with respect to the
    # embedding output, through the model's own layers; its length at each position.
    tokens, labels, _ = load_arrays(prepared, "test")
    expected = np.zeros(12)
    for review, label in zip(tokens, labels, strict=True):
        embedded = model.get_layer("embedding")(review[None, :])
        with tf.GradientTape() as tape:
            tape.watch(embedded)
            probabilities = model.get_layer("class_probabilities")(model.get_layer("gru")(embedded))
            loss = -keras.ops.log(probabilities[0, int(label)])
        expected += tf.norm(tape.gradient(loss, embedded)[0], axis=-1).numpy()
    assert not reused
    np.testing.assert_allclose(curve, expected / len(labels), rtol=1e-4, atol=1e-9)
    assert cached_gradient_curve(trained, prepared, claims, seed=0) == (curve, True)
