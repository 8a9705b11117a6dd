"""Trained models on disk: what identifies one, the models a run plans, reading a folder back."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from imdb_rnn.config import FitConfig, TrainingConfig
from imdb_rnn.folds import Fold
from imdb_rnn.trained import (
    HISTORY_FILE,
    MODEL_FILE,
    RECORD_FILE,
    TrainingRecipe,
    load_trained,
    plan_models,
    save_model_folder,
)
from rnn_models.config import ModelConfig

DATA = "0123456789abcdef"
HEX16 = re.compile(r"[0-9a-f]{16}")

# One value other than the default for every field; the tests below check that these cover
# every field, so a field added later has to be added here too.
CHANGED_FIT = {
    "epochs": 3,
    "batch_size": 32,
    "learning_rate": 2e-3,
    "seed": 7,
    "early_stopping_patience": 2,
    "lazy_embeddings": True,
    "clipnorm": 1.0,
}
CHANGED_MODEL = {
    "embedding_dim": 16,
    "units": 8,
    "dropout": 0.25,
    "embedding_dropout": 0.1,
    "pooling": "max",
    "bigram_buckets": 100,
    "skip_padding": True,
}


def _recipe(**changes) -> TrainingRecipe:
    recipe = TrainingRecipe("lstm", ModelConfig(), FitConfig(), DATA)
    return dataclasses.replace(recipe, **changes)


def test_the_changed_values_cover_every_field_of_the_fit_and_the_model():
    assert set(CHANGED_FIT) == set(FitConfig.model_fields)
    assert set(CHANGED_MODEL) == set(ModelConfig.model_fields)
    for name, value in CHANGED_FIT.items():
        assert FitConfig.model_fields[name].default != value, name
    for name, value in CHANGED_MODEL.items():
        assert ModelConfig.model_fields[name].default != value, name


@pytest.mark.parametrize(("field", "value"), CHANGED_FIT.items())
def test_every_fit_field_changes_the_fingerprint(field, value):
    changed = _recipe(fit=FitConfig(**{field: value}))
    assert changed.fingerprint != _recipe().fingerprint


@pytest.mark.parametrize(("field", "value"), CHANGED_MODEL.items())
def test_every_model_field_changes_the_fingerprint(field, value):
    changed = _recipe(model=ModelConfig(**{field: value}))
    assert changed.fingerprint != _recipe().fingerprint


def test_the_architecture_the_data_and_the_fold_change_the_fingerprint():
    recipes = [
        _recipe(),
        _recipe(architecture="gru"),
        _recipe(data_fingerprint="fedcba9876543210"),
        _recipe(fold=Fold(0, 5)),
        _recipe(fold=Fold(1, 5)),
        _recipe(fold=Fold(0, 3)),
    ]
    fingerprints = [recipe.fingerprint for recipe in recipes]
    assert len(set(fingerprints)) == len(recipes)


def test_equal_recipes_have_the_same_fingerprint():
    first = TrainingRecipe("gru", ModelConfig(units=8), FitConfig(epochs=3), DATA, Fold(2, 4))
    second = TrainingRecipe("gru", ModelConfig(units=8), FitConfig(epochs=3), DATA, Fold(2, 4))
    assert first.fingerprint == second.fingerprint
    # A default given explicitly is the same recipe as the default left out.
    assert _recipe(fit=FitConfig(epochs=2, batch_size=64)).fingerprint == _recipe().fingerprint
    assert _recipe(model=ModelConfig(units=32)).fingerprint == _recipe().fingerprint
    assert HEX16.fullmatch(first.fingerprint)


def test_the_folder_is_named_by_architecture_and_fingerprint():
    for architecture in ("simple_rnn", "bigru"):
        recipe = _recipe(architecture=architecture)
        assert re.fullmatch(rf"{architecture}-[0-9a-f]{{16}}", recipe.folder_name)
        assert recipe.folder_name.endswith(recipe.fingerprint)


def test_the_weights_seed_is_the_fit_seed_without_a_fold_and_the_member_seed_with_one():
    assert _recipe(fit=FitConfig(seed=5)).weights_seed == 5
    member = _recipe(fit=FitConfig(seed=5), fold=Fold(2, 5))
    assert member.weights_seed == Fold(2, 5).member_seed(5) == 6002  # (5 + 1) * 1000 + 2
    seeds = {_recipe(fit=FitConfig(seed=5), fold=fold).weights_seed for fold in Fold.all(5)}
    assert seeds == {6000, 6001, 6002, 6003, 6004}


def test_single_models_are_planned_per_architecture_and_seed():
    training = TrainingConfig(architectures=("lstm", "gru"), seed=10, seeds=2, epochs=3)
    model = ModelConfig(units=8)
    planned = plan_models(training, model, DATA)

    assert [p.label for p in planned] == ["lstm-seed10", "lstm-seed11", "gru-seed10", "gru-seed11"]
    expected = [("lstm", 10), ("lstm", 11), ("gru", 10), ("gru", 11)]
    for plan, (architecture, seed) in zip(planned, expected, strict=True):
        assert plan.label == training.run_label(architecture, seed)
        assert not plan.is_ensemble
        [(recipe, member_label)] = plan.members
        assert member_label == plan.label
        assert recipe == TrainingRecipe(
            architecture, model, FitConfig(seed=seed, epochs=3), DATA, None
        )
    assert len({plan.members[0][0].fingerprint for plan in planned}) == 4


def test_one_seed_labels_a_model_by_its_architecture_alone():
    planned = plan_models(TrainingConfig(architectures=("simple_rnn",)), ModelConfig(), DATA)
    assert [(p.label, [label for _, label in p.members]) for p in planned] == [
        ("simple_rnn", ["simple_rnn"])
    ]


def test_an_ensemble_is_planned_as_one_member_per_fold():
    training = TrainingConfig(architectures=("gru",), ensemble_folds=3, seed=4)
    [plan] = plan_models(training, ModelConfig(), DATA)

    assert plan.label == "gru-ensemble3" == training.run_label("gru", 4)
    assert plan.is_ensemble
    assert [label for _, label in plan.members] == [
        "gru-ensemble3-fold1of3",
        "gru-ensemble3-fold2of3",
        "gru-ensemble3-fold3of3",
    ]
    assert [recipe.fold for recipe, _ in plan.members] == [Fold(0, 3), Fold(1, 3), Fold(2, 3)]
    assert all(recipe.fit == FitConfig(seed=4) for recipe, _ in plan.members)
    assert len({recipe.fingerprint for recipe, _ in plan.members}) == 3
    assert len({recipe.weights_seed for recipe, _ in plan.members}) == 3


def test_ensembles_of_several_seeds_carry_the_seed_in_every_label():
    training = TrainingConfig(architectures=("lstm",), ensemble_folds=2, seeds=2, seed=0)
    planned = plan_models(training, ModelConfig(), DATA)
    assert [(p.label, [label for _, label in p.members]) for p in planned] == [
        (
            "lstm-ensemble2-seed0",
            ["lstm-ensemble2-seed0-fold1of2", "lstm-ensemble2-seed0-fold2of2"],
        ),
        (
            "lstm-ensemble2-seed1",
            ["lstm-ensemble2-seed1-fold1of2", "lstm-ensemble2-seed1-fold2of2"],
        ),
    ]
    assert [recipe.fit.seed for p in planned for recipe, _ in p.members] == [0, 0, 1, 1]


RECORD = {"parameters": 1234, "train_seconds": 5.5, "epochs": 2, "fit": {"seed": 42}}
HISTORY = {"loss": [0.6, 0.4], "val_loss": [0.5, 0.45]}


def _model_folder(directory: Path, *, model=True, record=RECORD, history=HISTORY) -> Path:
    directory.mkdir(parents=True)
    if model:
        (directory / MODEL_FILE).write_bytes(b"weights")
    if record is not None:
        text = record if isinstance(record, str) else json.dumps(record)
        (directory / RECORD_FILE).write_text(text, encoding="utf-8")
    if history is not None:
        (directory / HISTORY_FILE).write_text(json.dumps(history), encoding="utf-8")
    return directory


def test_a_complete_folder_is_loaded_as_a_reused_model(tmp_path):
    recipe = _recipe()
    directory = _model_folder(tmp_path / recipe.folder_name)
    trained = load_trained(directory, recipe)
    assert trained.reused
    assert (trained.architecture, trained.fingerprint) == ("lstm", recipe.fingerprint)
    assert (trained.parameters, trained.train_seconds, trained.epochs) == (1234, 5.5, 2)
    assert trained.seed == 42
    assert trained.history == HISTORY
    assert trained.model_path == directory / MODEL_FILE
    assert trained.finished_at == 0.0  # not recorded by older folders


@pytest.mark.parametrize(
    ("folder", "error"),
    [
        ({"model": False}, FileNotFoundError),
        ({"record": "{not json"}, ValueError),
        ({"record": ""}, ValueError),
        ({"record": {"parameters": 1}}, KeyError),
        ({"record": None}, FileNotFoundError),
        ({"history": None}, FileNotFoundError),
    ],
    ids=[
        "no model.keras",
        "broken training.json",
        "empty training.json",
        "training.json without its fields",
        "no training.json",
        "no history.json",
    ],
)
def test_an_incomplete_folder_raises_so_the_model_trains_again(tmp_path, folder, error):
    recipe = _recipe()
    directory = _model_folder(tmp_path / recipe.folder_name, **folder)
    # What the train task catches to train the model again instead of failing the run.
    with pytest.raises((OSError, KeyError, ValueError)) as raised:
        load_trained(directory, recipe)
    assert isinstance(raised.value, error)


class _StandInModel:
    """Saves like a Keras model: one file at the path it is given."""

    def __init__(self, content: bytes = b"weights", fail: bool = False) -> None:
        self.content = content
        self.fail = fail
        self.saved_to: list[Path] = []

    def save(self, path: Path) -> None:
        self.saved_to.append(Path(path))
        if self.fail:
            raise OSError("disk went away")
        Path(path).write_bytes(self.content)


def test_a_model_folder_is_written_with_its_three_files(tmp_path):
    target = tmp_path / "models" / "lstm-0123456789abcdef"
    model = _StandInModel()
    save_model_folder(target, model, HISTORY, RECORD)

    assert sorted(p.name for p in target.iterdir()) == sorted(
        [MODEL_FILE, HISTORY_FILE, RECORD_FILE]
    )
    assert (target / MODEL_FILE).read_bytes() == b"weights"
    assert json.loads((target / HISTORY_FILE).read_text(encoding="utf-8")) == HISTORY
    assert json.loads((target / RECORD_FILE).read_text(encoding="utf-8")) == RECORD
    # Keras picks the format from the name it is given.
    assert [path.name for path in model.saved_to] == [MODEL_FILE]
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no staging left over
    assert load_trained(target, _recipe()).parameters == 1234


def test_a_model_folder_replaces_the_old_one_whole(tmp_path):
    target = _model_folder(tmp_path / "models" / "lstm-0123456789abcdef")
    (target / "stale.txt").write_text("from an older training", encoding="utf-8")
    save_model_folder(
        target, _StandInModel(b"new weights"), {"loss": [0.1]}, {**RECORD, "epochs": 1}
    )

    assert sorted(p.name for p in target.iterdir()) == sorted(
        [MODEL_FILE, HISTORY_FILE, RECORD_FILE]
    )
    assert (target / MODEL_FILE).read_bytes() == b"new weights"
    assert json.loads((target / RECORD_FILE).read_text(encoding="utf-8"))["epochs"] == 1
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_failed_save_leaves_no_folder_and_keeps_the_old_one(tmp_path):
    models = tmp_path / "models"
    with pytest.raises(OSError, match="disk went away"):
        save_model_folder(
            models / "gru-0123456789abcdef", _StandInModel(fail=True), HISTORY, RECORD
        )
    assert list(models.iterdir()) == []

    kept = _model_folder(models / "lstm-0123456789abcdef")
    with pytest.raises(OSError, match="disk went away"):
        save_model_folder(kept, _StandInModel(fail=True), {"loss": [9.0]}, RECORD)
    assert [p.name for p in models.iterdir()] == [kept.name]
    assert (kept / MODEL_FILE).read_bytes() == b"weights"
    assert json.loads((kept / HISTORY_FILE).read_text(encoding="utf-8")) == HISTORY
