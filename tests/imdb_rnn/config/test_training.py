"""What a run trains and how it runs: seed-notes defaults, architectures, the fit of one
model, and the execution settings a 0.3.0 deployment passes inside ``training``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from imdb_rnn.config import ExecutionConfig, FitConfig, TrainingConfig
from imdb_rnn.errors import ConfigError
from tests.samples import assert_only_field_refused

ALL_ARCHITECTURES = ("simple_rnn", "lstm", "gru", "bilstm", "bigru")


def test_training_defaults_match_the_seed_notes():
    config = TrainingConfig()

    assert config.architectures == ("simple_rnn", "lstm", "gru")
    assert config.epochs == 2
    assert config.batch_size == 64
    assert config.learning_rate == 0.001  # adam's default
    assert config.seed == 42
    assert ExecutionConfig().retrain is False
    assert ExecutionConfig().memory_budget_mib == 1024


def test_unknown_architecture_is_named_with_the_choices():
    with pytest.raises(ValidationError) as caught:
        TrainingConfig(architectures=("lstm", "transformer"))

    message = str(caught.value)
    assert "unknown architecture 'transformer'; " in message  # 'lstm' is known: not named
    assert "choose from simple_rnn, lstm, gru, bilstm, bigru" in message


def test_every_unknown_architecture_is_listed():
    with pytest.raises(ValidationError, match="unknown architecture 'rnn', 'cnn'"):
        TrainingConfig(architectures="rnn,gru,cnn")


def test_repeated_architecture_is_rejected():
    with pytest.raises(ValidationError, match="architectures repeat a name: gru, lstm, gru"):
        TrainingConfig(architectures=("gru", "lstm", "gru"))


def test_no_architecture_is_rejected():
    with pytest.raises(ValidationError, match="architectures"):
        TrainingConfig(architectures=" , ")


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (TrainingConfig, "epochs", 0),
        (TrainingConfig, "batch_size", 0),
        (TrainingConfig, "learning_rate", 0.0),
        (TrainingConfig, "seeds", 0),
        (ExecutionConfig, "batch_parts", 0),
        (ExecutionConfig, "threads", -1),
        (ExecutionConfig, "memory_budget_mib", -1),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else str(value),
)
def test_out_of_range_values_are_rejected(model, field, value):
    assert_only_field_refused(model, field, value)


def test_comma_string_of_architectures_is_split():
    config = TrainingConfig(architectures=" lstm, gru,bilstm ,")

    assert config.architectures == ("lstm", "gru", "bilstm")


def test_architecture_list_becomes_a_tuple():
    assert TrainingConfig(architectures=["gru"]).architectures == ("gru",)


def test_every_registered_architecture_is_accepted():
    assert TrainingConfig(architectures=ALL_ARCHITECTURES).architectures == ALL_ARCHITECTURES


@pytest.mark.parametrize(
    "moved",
    [{"retrain": True}, {"threads": 4}, {"xla": "off"}, {"batch_parts": 1}, {"mirrored": True}],
)
def test_execution_settings_that_release_0_3_took_in_training_still_apply(moved):
    # Deployments saved with 0.3.0 pass these inside `training`; they go where they belong.
    training = TrainingConfig(epochs=3, **moved)
    assert training.epochs == 3
    assert training.execution(ExecutionConfig()).model_dump(include=set(moved)) == moved
    # What is trained is untouched, so the model is the same as without them.
    assert training.model_dump() == TrainingConfig(epochs=3).model_dump()
    assert training.fit_for_seed(42) == TrainingConfig(epochs=3).fit_for_seed(42)


def test_execution_given_in_its_own_section_wins_over_the_release_0_3_place():
    training = TrainingConfig(threads=4, retrain=True)
    execution = training.execution(ExecutionConfig(threads=2))
    assert execution.threads == 2 and execution.retrain is True


def test_a_bad_execution_value_in_the_release_0_3_place_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match="threads"):
        TrainingConfig(threads=-1)


def test_the_fit_of_one_model_holds_exactly_what_changes_its_weights():
    training = TrainingConfig(epochs=3, seeds=4, ensemble_folds=5, clipnorm=1.0)
    fit = training.fit_for_seed(45)
    assert set(fit.model_dump()) == set(FitConfig.model_fields)
    assert fit == FitConfig(epochs=3, clipnorm=1.0, seed=45)
    assert not set(FitConfig.model_fields) & set(ExecutionConfig.model_fields)


def test_lazy_embedding_updates_with_xla_forced_on_are_refused():
    with pytest.raises(ConfigError, match="--lazy-embeddings trains without XLA"):
        TrainingConfig(lazy_embeddings=True).execution(ExecutionConfig(xla="on"))
    assert TrainingConfig(lazy_embeddings=True).execution(ExecutionConfig()).xla == "auto"


def test_run_label_names_the_ensemble_and_the_seed():
    assert TrainingConfig(ensemble_folds=4).run_label("gru", 42) == "gru-ensemble4"
    assert TrainingConfig(ensemble_folds=4, seeds=2).run_label("gru", 43) == "gru-ensemble4-seed43"
    assert TrainingConfig().run_label("gru", 42) == "gru"


def test_seed_values_and_labels():
    training = TrainingConfig(seed=7, seeds=3)
    assert training.seed_values() == (7, 8, 9)
    fit = training.fit_for_seed(8)
    assert type(fit) is FitConfig and fit.seed == 8 and fit.epochs == training.epochs
    assert training.run_label("gru", 8) == "gru-seed8"
    assert TrainingConfig().run_label("gru", 42) == "gru"
