"""The claims step: gradient by position, memory span, synthetic task, gradient norm, verdicts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imdb_rnn.claim_rules import (
    complexity_classes,
    complexity_supported,
    effective_span,
    is_exploding,
    long_term_class,
    longest_handled,
    memory_class,
    norm_growth,
)
from imdb_rnn.claims import ArchitectureClaims, ClaimsResult, claim_verdicts
from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    PreprocessConfig,
    SourceConfig,
    TrainingConfig,
)
from imdb_rnn.reporting.claims_tables import contradictions, measured_table
from rnn_models.config import ModelConfig
from rnn_models.probes import FIRST_DISTRACTOR, MARKER_NEGATIVE, MARKER_POSITIVE, synthetic_task
from rnn_models.training import NORM_MAX_KEY, NORM_MEAN_KEY

# Claims measured in seconds: a few reviews, two distances, a tiny synthetic task.
SMALL_CLAIMS = ClaimsConfig(
    sample_reviews=8,
    distances=(2, 6),
    synthetic_train=32,
    synthetic_test=16,
    synthetic_epochs=1,
    synthetic_vocab=8,
)

# --------------------------------------------------------------------- effective span


@pytest.mark.parametrize(
    ("curve", "span"),
    [
        ([0.0, 0.0, 0.0, 2.0], 1),  # only the last token matters
        ([1.0, 1.0, 1.0, 1.0], 4),  # flat: the whole window
        ([0.5**k for k in range(10)][::-1], 7),  # halves each step back: 0.5**6 > 1 % > 0.5**7
        ([1.0, 1.0, 0.001, 1.0, 1.0], 2),  # a dip below 1 % ends the span; no recovery
        ([0.01, 1.0], 1),  # exactly 1 % is not above it
        ([5.0, 0.2, 1.0], 3),  # the peak need not be the last position
        ([0.0, 0.0], 0),
        ([], 0),
        ([1.0, math.nan], 0),
    ],
)
def test_effective_span_on_hand_made_curves(curve, span):
    assert effective_span(curve) == span


# ------------------------------------------------------------------ synthetic task


@pytest.mark.parametrize("distance", [1, 5, 19])
def test_synthetic_label_is_the_marker_at_distance_d_and_classes_balance(distance):
    tokens, labels = synthetic_task(200, 20, distance, vocab_size=12, seed=3)
    assert tokens.shape == (200, 20) and tokens.dtype == np.int32 and labels.shape == (200,)
    assert labels.sum() == 100  # exactly balanced
    marker = tokens[:, 20 - 1 - distance]
    assert (marker == np.where(labels == 1, MARKER_POSITIVE, MARKER_NEGATIVE)).all()
    others = np.delete(tokens, 20 - 1 - distance, axis=1)
    assert others.min() >= FIRST_DISTRACTOR and others.max() < 12  # never a marker, nor 0/1
    assert len(np.unique(others)) == 12 - FIRST_DISTRACTOR  # every distractor is used


def test_synthetic_training_set_places_the_marker_up_to_d_steps_back():
    tokens, labels = synthetic_task(301, 30, 10, vocab_size=50, seed=0, exact=False)
    assert labels.sum() == 150  # odd n: one more 0
    is_marker = (tokens == MARKER_POSITIVE) | (tokens == MARKER_NEGATIVE)
    assert (is_marker.sum(axis=1) == 1).all()
    position = is_marker.argmax(axis=1)
    distance = 30 - 1 - position
    assert distance.min() >= 1 and distance.max() <= 10 and len(np.unique(distance)) == 10
    assert (tokens[np.arange(301), position] == np.where(labels == 1, 3, 2)).all()


def test_synthetic_task_refuses_a_distance_that_does_not_fit():
    with pytest.raises(ValueError, match=r"distance 20 must be in 1\.\.19"):
        synthetic_task(4, 20, 20, vocab_size=12, seed=0)


def test_same_seed_gives_the_same_synthetic_data():
    first, second = synthetic_task(16, 12, 4, 20, 7), synthetic_task(16, 12, 4, 20, 7)
    assert (first[0] == second[0]).all() and (first[1] == second[1]).all()


# ------------------------------------------------------------------------- verdicts


def test_verdict_rules_on_hand_made_numbers():
    assert memory_class(100, 200) == "long" and memory_class(99, 200) == "short"
    accuracy = {10: 0.99, 50: 0.95, 100: 0.7, 200: 0.93}
    assert longest_handled(accuracy) == 50  # 100 fails, so 200 does not count
    assert long_term_class(accuracy) == "no"
    assert long_term_class({10: 0.9, 200: 0.9}) == "yes"
    assert longest_handled({10: 0.5}) is None
    assert norm_growth(0.5, 60.0) == 120.0 and is_exploding(120.0) is True
    assert is_exploding(norm_growth(0.5, 40.0)) is False
    assert norm_growth(None, 3.0) is None and is_exploding(None) is None
    parameters = {"simple_rnn": 100, "gru": 300, "lstm": 400}
    assert complexity_classes(parameters) == {"simple_rnn": "low", "gru": "medium", "lstm": "high"}
    assert all(complexity_supported(name, parameters) for name in parameters)
    swapped = {"simple_rnn": 100, "gru": 500, "lstm": 400}
    assert not complexity_supported("gru", swapped) and not complexity_supported("lstm", swapped)
    assert complexity_supported("simple_rnn", swapped)


def _measured(name, curve, accuracy, parameters, norms=(1.0, 2.0)):
    return ArchitectureClaims(
        model=name,
        window=len(curve),
        gradient_curve=list(curve),
        synthetic={
            str(d): {"accuracy": a, "epochs": 1, "seconds": 0.1} for d, a in accuracy.items()
        },
        parameters=parameters,
        seconds_per_epoch=12.0,
        reviews_per_second=5000.0,
        gradient_norm_first=norms[0],
        gradient_norm_max=norms[1],
    )


def hand_made_result() -> ClaimsResult:
    decaying = [0.5**k for k in range(200)][::-1]  # span 7: short
    flat_end = [0.001] * 20 + [1.0] * 180  # span 180: long
    return ClaimsResult(
        distances=(10, 200),
        measured=[
            _measured("simple_rnn", decaying, {10: 0.99, 200: 0.5}, 1000, norms=(0.1, 50.0)),
            _measured("lstm", flat_end, {10: 1.0, 200: 0.95}, 4000),
            _measured("gru", flat_end, {10: 1.0, 200: 0.6}, 3000),
        ],
        seconds=1.0,
        reused=False,
    )


def test_claim_verdicts_say_which_claims_hold_with_the_evidence():
    verdicts = {(v["model"], v["claim"]): v for v in claim_verdicts(hand_made_result().measured)}
    assert verdicts[("gru", "memory")]["text"] == (
        "GRU: long memory: supported, span 180 of 200 positions (long means at least 100)"
    )
    assert verdicts[("simple_rnn", "memory")]["supported"] is True
    assert verdicts[("gru", "long_term")]["supported"] is False
    assert verdicts[("gru", "long_term")]["text"].startswith(
        "GRU: handles long-term dependency: yes: not supported, accuracy 0.600 at d=200"
    )
    assert verdicts[("lstm", "long_term")]["supported"] is True
    assert verdicts[("simple_rnn", "long_term")]["measured"] == "no"
    assert verdicts[("lstm", "complexity")]["supported"] is True
    assert "4,000 parameters" in verdicts[("lstm", "complexity")]["text"]
    gradients = verdicts[("simple_rnn", "gradients")]
    assert gradients["supported"] is True and "exploding: more than 100x" in gradients["text"]
    assert "vanishing: below 1 %" in gradients["text"]
    sentence = contradictions(hand_made_result().to_dict())
    assert sentence.startswith("This run's numbers contradict the notes on 1 of 10 claims")
    assert "GRU: handles long-term dependency: yes" in sentence


def test_claims_rows_and_report_sections():
    from imdb_rnn.reporting.html import claims_html
    from imdb_rnn.reporting.markdown import claims_markdown

    section = json.loads(json.dumps(hand_made_result().to_dict()))  # as stored in metrics.json
    rows = {row["model"]: row for row in section["rows"]}
    assert rows["simple_rnn"]["memory_span"] == 7 and rows["simple_rnn"]["memory"] == "short"
    assert rows["gru"]["accuracy_d200"] == 0.6 and rows["gru"]["handled_up_to"] == 10
    assert rows["simple_rnn"]["exploding"] is True and rows["lstm"]["exploding"] is False
    assert rows["lstm"]["complexity"] == "high"
    markdown = claims_markdown(section, "Real data say so.")
    assert "## The seed notes' claims, measured" in markdown
    assert "| RNN | short | low | no |" in markdown  # the notes' table as asserted
    assert "- GRU: long memory: supported, span 180 of 200 positions" in markdown
    assert "**Real-data evidence (accuracy by review length).** Real data say so." in markdown
    page = claims_html(section, "Real data say so.")
    assert page.count('<img src="data:image/png;base64,') == 2
    assert "As asserted by the notes" in page and "As measured in this run" in page


def test_a_failed_model_gets_a_row_but_no_verdicts():
    from dataclasses import replace

    result = hand_made_result()
    failed = replace(result.measured[2], gradient_curve=[], synthetic={}, failure="loss became nan")
    section = replace(result, measured=[*result.measured[:2], failed]).to_dict()
    row = section["rows"][2]
    assert row["status"] == "failed: loss became nan" and row["memory_span"] is None
    assert row["accuracy_d200"] is None and row["complexity"] is None
    assert not [v for v in section["verdicts"] if v["model"] == "gru"]
    assert measured_table(section)[1][2][:2] == ["GRU", "failed: loss became nan"]


# ------------------------------------------------------------- gradients (TensorFlow)


@pytest.mark.slow
def test_a_model_that_reads_only_the_last_token_has_zero_gradient_elsewhere():
    import keras

    from rnn_models.probes import gradient_by_position

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(6,), dtype="int32"),
            keras.layers.Embedding(10, 4, name="embedding"),
            keras.layers.Lambda(lambda x: x[:, -1, :]),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    tokens = np.random.default_rng(0).integers(0, 10, size=(70, 6)).astype("int32")
    labels = np.arange(70) % 2
    curve = gradient_by_position(model, tokens, labels, batch_size=32)  # 3 batches, one short
    assert curve.shape == (6,)
    assert (curve[:-1] == 0).all() and curve[-1] > 0
    assert effective_span(curve) == 1


@pytest.mark.slow
def test_gradient_norm_is_measured_before_clipping_and_clipnorm_is_applied():
    import keras

    from rnn_models.optimizers import GradientNormAdam

    def one_step(clipnorm):
        variable = keras.Variable([0.0, 0.0])
        optimizer = GradientNormAdam(learning_rate=0.1, clipnorm=clipnorm)
        optimizer.apply([keras.ops.convert_to_tensor([3.0, 4.0])], [variable])
        return np.abs(variable.numpy()).max(), optimizer.gradient_norm_stats()

    moved, stats = one_step(None)
    assert stats == {NORM_MEAN_KEY: pytest.approx(5.0), NORM_MAX_KEY: pytest.approx(5.0)}
    assert moved == pytest.approx(0.1, rel=1e-3)  # Adam's first step is the learning rate
    # Clipped to norm 1e-10, the gradient drowns in Adam's epsilon (1e-7): a tiny step.
    moved, stats = one_step(1e-10)
    assert stats[NORM_MEAN_KEY] == pytest.approx(5.0)  # the norm is the one before clipping
    assert moved < 1e-3


def test_sparse_gradient_norm_sums_repeated_rows_like_the_dense_one():
    import tensorflow as tf

    from rnn_models.optimizers import global_gradient_norm

    # Rows 2, 0, 2 of a 5-row table: row 2 gets [1, 2] + [3, 4] = [4, 6], row 0 gets [0, 3].
    rows = tf.IndexedSlices(
        tf.constant([[1.0, 2.0], [0.0, 3.0], [3.0, 4.0]]),
        tf.constant([2, 0, 2]),
        tf.constant([5, 2]),
    )
    dense = tf.constant([1.0, 2.0])
    expected = np.sqrt(4**2 + 6**2 + 3**2 + 1**2 + 2**2)
    for sparse in (False, True):
        norm = float(global_gradient_norm([rows, dense, None], sparse=sparse))
        assert norm == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_training_logs_the_gradient_norm_and_saves_clipnorm(tmp_path):
    from imdb_rnn.aclimdb import RawDataset
    from rnn_models.optimizers import load_model
    from tasks.prepare import prepare_dataset
    from tests.conftest import make_aclimdb, train_model

    dataset = make_aclimdb(tmp_path / "source", per_label=16)
    raw = RawDataset(dataset.root, "d" * 64, "generated")
    prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=20), tmp_path / "p")
    training = TrainingConfig(epochs=2, batch_size=8, clipnorm=0.5)
    trained = train_model(
        "simple_rnn", prepared, ModelConfig(embedding_dim=4, units=4), training, tmp_path / "m"
    )
    history = json.loads((trained.directory / "history.json").read_text())
    assert len(history[NORM_MEAN_KEY]) == len(history[NORM_MAX_KEY]) == 2
    assert all(
        0 < m <= x for m, x in zip(history[NORM_MEAN_KEY], history[NORM_MAX_KEY], strict=True)
    )
    assert json.loads((trained.directory / "training.json").read_text())["fit"]["clipnorm"] == 0.5
    model = load_model(trained.model_path)
    assert model.optimizer.clipnorm == 0.5
    assert model.optimizer.sparse_norm is False  # simple_rnn's last state: XLA on, on CPU
    unclipped = TrainingConfig(epochs=2, batch_size=8)
    assert (
        train_model(
            "simple_rnn", prepared, ModelConfig(embedding_dim=4, units=4), unclipped, tmp_path / "m"
        ).fingerprint
        != trained.fingerprint
    )  # clipnorm changes the weights, so the folder


# ---------------------------------------------------------------------------- flow


@pytest.mark.flow
@pytest.mark.slow
def test_flow_publishes_the_seed_claims_table_and_reuses_it(
    prefect_harness, fake_archive, tmp_path, monkeypatch
):
    import rnn_models.probes
    from flows.compare import compare_architectures
    from tests.test_flow import read_artifact

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
