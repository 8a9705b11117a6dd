"""Cross-validated ensembles: members, their average, and the flow that trains them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imdb_rnn.config import (
    BaselineConfig,
    ClaimsConfig,
    PreprocessConfig,
    SourceConfig,
    TrainingConfig,
)
from imdb_rnn.errors import DatasetLayoutError
from rnn_models.config import ModelConfig


def _member_folders(models, members):
    return [m["architecture"] + "-" + m["fingerprint"] for m in members]


def test_a_failed_member_fails_the_ensemble_and_nothing_is_saved(tmp_path):
    from imdb_rnn.trained import TrainedModel
    from tasks.ensemble import combine_members

    healthy = TrainedModel("gru", tmp_path / "a", "fa", 10, 1.0, 1, {"loss": [0.5]})
    diverged = TrainedModel(
        "gru", tmp_path / "b", "fb", 10, 2.0, 1, {"loss": [float("nan")]}, failure="loss became nan"
    )
    result = combine_members("gru", [healthy, diverged], None, tmp_path / "models")
    assert result.failure == "1 of 2 ensemble members failed (gru: loss became nan)"
    assert result.parameters == 20 and result.train_seconds == 3.0
    assert not (tmp_path / "models").exists()


def test_training_span_counts_overlapping_members_once(tmp_path):
    from imdb_rnn.trained import TrainedModel
    from tasks.ensemble import training_span

    def member(seconds, finished_at):
        return TrainedModel("gru", tmp_path, "f", 1, seconds, 1, {}, finished_at=finished_at)

    # Two at once from t=100, then a third: 100..250 on the wall, 330 s of fits.
    at_once = [member(100.0, 200.0), member(110.0, 210.0), member(120.0, 250.0)]
    assert training_span(at_once) == pytest.approx(150.0)
    one_after_another = [member(100.0, 200.0), member(100.0, 305.0)]  # 5 s between them
    assert training_span(one_after_another) == pytest.approx(200.0)  # the fits, not the gap
    assert training_span([member(100.0, 200.0), member(50.0, 0.0)]) == pytest.approx(150.0)


@pytest.mark.slow
def test_ensemble_model_outputs_the_mean_of_its_members_and_survives_a_reload(tmp_path):
    import keras

    from rnn_models import build_model
    from rnn_models.combined import average_of
    from rnn_models.optimizers import load_model

    config = ModelConfig(embedding_dim=4, units=3, pooling="max_mean", bigram_buckets=11)
    members = []
    for seed in (1, 2, 3):
        keras.utils.set_random_seed(seed)
        members.append(build_model("bigru", config, vocab_size=20, maxlen=9))
    tokens = np.random.default_rng(0).integers(0, 20, size=(5, 9)).astype("int32")
    tokens[0] = 0  # an empty review
    expected = np.mean([m.predict(tokens, verbose=0).reshape(-1) for m in members], axis=0)
    assert np.ptp([m.predict(tokens, verbose=0)[1, 0] for m in members]) > 1e-4

    ensemble = average_of(members, name="bigru_ensemble")
    ensemble.save(tmp_path / "model.keras")
    reloaded = load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(tokens, verbose=0).reshape(-1), expected, atol=1e-6)

    # A stack's recurrent part: the members' outputs side by side, a column each.
    from rnn_models.combined import side_by_side
    from rnn_models.inference import predict_probabilities

    columns = predict_probabilities(side_by_side(members, name="members"), tokens)
    each = np.column_stack([m.predict(tokens, verbose=0).reshape(-1) for m in members])
    assert columns.shape == (5, 3)
    np.testing.assert_allclose(columns, each, atol=1e-6)


@pytest.mark.slow
def test_a_three_class_ensemble_averages_each_class_and_keeps_whole_out_of_fold_rows(tmp_path):
    import pyarrow.parquet as pq

    from imdb_rnn.folds import OUT_OF_FOLD_FILE, Fold, fold_indices, pooled_rows
    from imdb_rnn.prepared import load_arrays
    from imdb_rnn.trained import read_record
    from rnn_models.inference import predict_probabilities
    from rnn_models.optimizers import load_model
    from tasks.ensemble import combine_members
    from tests.conftest import train_model
    from tests.samples import three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    training = TrainingConfig(architectures=("gru",), epochs=1, batch_size=8, seed=2)
    model = ModelConfig(embedding_dim=4, units=3)
    members = [
        train_model("gru", prepared, model, training, tmp_path / "models", fold=fold)
        for fold in Fold.all(2)
    ]
    ensemble = combine_members("gru", members, prepared, tmp_path / "models")
    loaded = [load_model(member.model_path) for member in members]

    test_tokens, _, _ = load_arrays(prepared, "test")
    each = [predict_probabilities(m, test_tokens).astype(np.float64) for m in loaded]
    combined = predict_probabilities(load_model(ensemble.model_path), test_tokens)
    assert combined.shape == (len(test_tokens), 3)
    np.testing.assert_allclose(combined, (each[0] + each[1]) / 2, atol=1e-6)

    # Each pooled row's three probabilities come from the member that never trained on it.
    tokens, labels = pooled_rows(prepared)
    expected = np.empty((len(labels), 3))
    for index, member in enumerate(loaded):
        _, holdout = fold_indices(labels, Fold(index, 2), prepared.preprocess.split_seed)
        expected[holdout] = predict_probabilities(member, tokens)[holdout]
    saved = pq.read_table(ensemble.directory / OUT_OF_FOLD_FILE).column("probabilities")
    out_of_fold = np.array(saved.to_pylist())
    assert out_of_fold.shape == (len(labels), 3)
    np.testing.assert_allclose(out_of_fold, expected, atol=1e-6)
    record = read_record(ensemble.directory)
    rows = np.arange(len(labels))
    assert record["out_of_fold"]["accuracy"] == pytest.approx(
        np.mean(expected.argmax(axis=1) == labels)
    )
    assert record["history"]["val_loss"][0] == pytest.approx(
        -np.mean(np.log(expected[rows, labels])), rel=1e-5
    )


@pytest.mark.flow
@pytest.mark.slow
def test_flow_trains_fold_members_and_scores_their_ensemble(
    prefect_harness, fake_archive, tmp_path
):
    from entrypoints.predict import predict_reviews
    from flows.compare import compare_architectures
    from imdb_rnn.champion import load_champion
    from rnn_models import reads_any_length
    from tests.conftest import read_artifact
    from tests.samples import SMALL_CLAIMS

    data_dir = tmp_path / "data"
    result = compare_architectures(
        source=SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256),
        # As in the best profile: members skip padding, so fit, validation and prediction
        # run on batches cut to their longest review.
        preprocess=PreprocessConfig(vocab_size=60, maxlen=40, padding="post"),
        model=ModelConfig(embedding_dim=8, units=8, pooling="mean", skip_padding=True),
        training=TrainingConfig(
            architectures=("gru",), epochs=1, batch_size=8, seed=5, ensemble_folds=3
        ),
        baseline=BaselineConfig(enabled=False),
        claims=SMALL_CLAIMS,
        data_dir=str(data_dir),
    )

    assert [row["model"] for row in result.rows] == ["gru-ensemble3"]
    # The claims step measures gradients inside the ensemble's first member.
    (claims_row,) = json.loads(read_artifact("seed-claims").data)
    assert claims_row["model"] == "gru" and claims_row["memory_span"] is not None
    models = data_dir / "models"
    members = [json.loads(p.read_text()) for p in models.glob("gru-*/training.json")]
    members = sorted((m for m in members if "fold" in m), key=lambda m: m["fold"])
    assert [m["fold"] for m in members] == [[0, 3], [1, 3], [2, 3]]
    pooled = 24  # 12 reviews per label in the generated train split: train + validation
    assert all(m["rows"]["fit"] + m["rows"]["validation"] == pooled for m in members)
    assert sorted(m["rows"]["validation"] for m in members) == [8, 8, 8]

    (ensemble_dir,) = models.glob("gru-ensemble3-*")
    record = json.loads((ensemble_dir / "training.json").read_text())
    # Out-of-fold accuracy: each member's own validation accuracy (Keras' metric, at the
    # end of its one epoch) weighted by its fold's size.
    expected = (
        sum(
            m["rows"]["validation"]
            * json.loads((models / name / "history.json").read_text())["val_accuracy"][-1]
            for m, name in zip(members, _member_folders(models, members), strict=True)
        )
        / pooled
    )
    assert record["out_of_fold"]["accuracy"] == pytest.approx(expected, abs=1e-6)
    assert record["parameters"] == sum(m["parameters"] for m in members)
    assert "## Cross-validated ensembles" in result.markdown
    page = (data_dir / "reports" / result.run_id / "report.html").read_text(encoding="utf-8")
    assert "<h2>Cross-validated ensembles</h2>" in page and "<code>gru-ensemble3</code>" in page
    assert f"| `gru-ensemble3` | {record['out_of_fold']['accuracy']:.4f} |" in result.markdown

    # The ensemble is an ordinary saved model: it becomes the champion and serves predictions.
    champion = load_champion(data_dir / "models" / "champion")
    assert reads_any_length(champion.model)
    predictions = predict_reviews(["a review", "another one"], champion)
    assert len(predictions) == 2 and predictions["probability"].between(0, 1).all()


@pytest.mark.flow
@pytest.mark.slow
def test_too_many_folds_stop_the_flow_with_the_members_error(
    prefect_harness, fake_archive, tmp_path
):
    from flows.compare import compare_architectures

    with pytest.raises(DatasetLayoutError, match="13 folds need at least 13 reviews of each"):
        compare_architectures(
            source=SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256),
            preprocess=PreprocessConfig(vocab_size=60, maxlen=40),
            model=ModelConfig(embedding_dim=8, units=8),
            training=TrainingConfig(architectures=("gru",), epochs=1, ensemble_folds=13),
            baseline=BaselineConfig(enabled=False),
            claims=ClaimsConfig(enabled=False),
            data_dir=str(tmp_path / "data"),
        )
