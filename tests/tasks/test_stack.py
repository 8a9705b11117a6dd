"""The stacked model: fitted on out-of-fold scores only, saved, scored and served."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from imdb_rnn.config import BaselineConfig, PreprocessConfig, SourceConfig, TrainingConfig
from rnn_models.config import ModelConfig
from tests.conftest import small_prepared, train_model

pytestmark = pytest.mark.slow

BASELINE = BaselineConfig(models=("nbsvm",), nbsvm_c_grid=(0.1,), nbsvm_betas=(1.0,))


def _ensemble(prepared, models_dir):
    """A 3-fold GRU ensemble of the small prepared data, and its test evaluation."""
    from imdb_rnn.evaluation import TrainedAndScored
    from imdb_rnn.folds import Fold
    from tasks.ensemble import combine_members
    from tasks.evaluate import evaluate_trained_model

    training = TrainingConfig(architectures=("gru",), epochs=2, batch_size=8, seed=3)
    model = ModelConfig(embedding_dim=8, units=4)
    members = [
        train_model("gru", prepared, model, training, models_dir, fold=fold) for fold in Fold.all(3)
    ]
    ensemble = combine_members("gru", members, prepared, models_dir)
    evaluation = evaluate_trained_model(ensemble, prepared)
    return TrainedAndScored([ensemble], [evaluation], 0.0)


def test_the_stack_never_sees_a_test_label(tmp_path, monkeypatch):
    import tasks.stack
    from imdb_rnn.prepared import load_split
    from tasks.stack import stack_models

    prepared = small_prepared(tmp_path)
    recurrent = _ensemble(prepared, tmp_path / "models")
    training = TrainingConfig(architectures=("gru",), ensemble_folds=3, stack=True)
    honest, honest_score = stack_models(recurrent, prepared, training, BASELINE, tmp_path / "a")

    def poisoned_split(prepared, split, columns=None):
        frame = load_split(prepared, split, columns)
        if split == "test" and "label" in frame:
            frame["label"] = 1 - frame["label"]
        return frame

    monkeypatch.setattr(tasks.stack, "load_split", poisoned_split)
    poisoned, poisoned_score = stack_models(recurrent, prepared, training, BASELINE, tmp_path / "b")

    # The poison reached the test scores: every label flipped, so accuracy turns into 1 - it.
    assert poisoned_score.metrics["accuracy"] == pytest.approx(1 - honest_score.metrics["accuracy"])
    # ... and nothing the stack learned: the same members, weights and out-of-fold figures.
    fitted = [json.loads((t.directory / "stack.json").read_text()) for t in (honest, poisoned)]
    assert fitted[0]["coefficients"] == fitted[1]["coefficients"]
    assert fitted[0]["intercept"] == fitted[1]["intercept"]
    assert fitted[0]["members"] == ["gru", "nbsvm"]
    assert honest.history == poisoned.history


def test_a_promoted_stack_serves_what_evaluation_scored(tmp_path):
    from entrypoints.predict import predict_reviews
    from imdb_rnn.champion import load_champion
    from imdb_rnn.evaluation import load_predictions
    from imdb_rnn.paths import DataPaths
    from imdb_rnn.prepared import load_split
    from tasks.champion import promote
    from tasks.stack import stack_models

    prepared = small_prepared(tmp_path)
    recurrent = _ensemble(prepared, tmp_path / "models")
    training = TrainingConfig(architectures=("gru",), ensemble_folds=3, stack=True)
    trained, evaluation = stack_models(recurrent, prepared, training, BASELINE, tmp_path / "models")
    paths = DataPaths.at(tmp_path / "data")
    promote("run-1", evaluation, prepared, paths)

    champion = load_champion(paths.champion)
    assert champion.stack is not None and champion.record["architecture"] == "stack"
    texts = load_split(prepared, "test", ["text"])["text"].tolist()[:10]
    served = predict_reviews(texts, champion)["probability"].to_numpy()
    saved = load_predictions(trained.directory / "predictions.parquet")[1][:10]
    np.testing.assert_allclose(served, saved, atol=1e-5)


def test_a_stack_without_ensembles_is_refused():
    with pytest.raises(ValueError, match="needs out-of-fold scores"):
        TrainingConfig(stack=True)


def test_three_classes_run_on_without_a_stack_and_the_log_says_why(tmp_path, monkeypatch):
    from dataclasses import replace

    import tasks.stack
    from imdb_rnn.evaluation import TrainedAndScored, failed_evaluation
    from imdb_rnn.storage import DataStore
    from imdb_rnn.trained import TrainedModel
    from tests.samples import listening_logger, three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    member = TrainedModel("gru", tmp_path / "gru-x", "x", 10, 1.0, 1, {"loss": [0.5]})
    # A scored model (a failed one would be left out for that reason first).
    evaluation = replace(failed_evaluation(member, prepared.classes), failure="")
    recurrent = TrainedAndScored([member], [evaluation], 1.0)
    training = TrainingConfig(architectures=("gru",), ensemble_folds=3, stack=True)
    store = DataStore.open(str(tmp_path / "store"))
    logger, said = listening_logger("stack-test")
    monkeypatch.setattr(tasks.stack, "get_run_logger", lambda: logger)

    result = tasks.stack.stack.fn(recurrent, prepared, training, BASELINE, store)

    assert result is recurrent
    assert said == [
        "The stack combines two-class scores with NBSVM's; this data has 3 classes, so the "
        "run has no stack (--stack)"
    ]
    assert not (tmp_path / "store").exists()


@pytest.mark.flow
def test_flow_stacks_the_ensemble_with_nbsvm_and_serves_the_stack(
    prefect_harness, fake_archive, tmp_path
):
    from flows.compare import compare_architectures
    from imdb_rnn.config import ChampionConfig, ClaimsConfig

    data_dir = tmp_path / "data"
    result = compare_architectures(
        source=SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256),
        preprocess=PreprocessConfig(vocab_size=60, maxlen=40),
        model=ModelConfig(embedding_dim=8, units=4),
        training=TrainingConfig(
            architectures=("gru",), epochs=1, batch_size=8, seed=5, ensemble_folds=3, stack=True
        ),
        baseline=BASELINE,
        claims=ClaimsConfig(enabled=False),
        # Accuracy, so that the stack (above the ensemble on this easy data) is promoted.
        champion=ChampionConfig(metric="accuracy"),
        data_dir=str(data_dir),
    )
    models = {row["model"] for row in result.rows}
    assert models == {"gru-ensemble3", "stack", "nbsvm"}
    assert "The stack is a logistic regression over its members' scores" in result.markdown
    (stack_dir,) = (data_dir / "models").glob("stack-*")
    record = json.loads((stack_dir / "training.json").read_text())
    assert set(record["coefficients"]) == {"gru-ensemble3", "nbsvm"}

    # Like every model of the run, the stack has its row in the history.
    history = pd.read_parquet(data_dir / "reports" / "history.parquet")
    assert "stack" in set(history["model"])


def _first_test_texts(data_dir, count):
    import pyarrow.parquet as pq

    (test_split,) = (data_dir / "processed").glob("*/test.parquet")
    return pq.read_table(test_split, columns=["text"]).column("text").to_pylist()[:count]
