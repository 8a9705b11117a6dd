"""Named profiles: each names real config fields, builds valid configs, and says what it sets."""

from __future__ import annotations

import pytest

from imdb_rnn import config
from imdb_rnn.profiles import PROFILES, Profile
from rnn_models.config import ModelConfig

# The flow's parameter name of each config, as imdb_rnn.config documents them. Built here
# rather than taken from the CLI, so that the library's test does not lean on entrypoints.
SECTIONS = {
    "source": config.SourceConfig,
    "preprocess": config.PreprocessConfig,
    "model": ModelConfig,
    "training": config.TrainingConfig,
    "execution": config.ExecutionConfig,
    "runner": config.RunnerConfig,
    "baseline": config.BaselineConfig,
    "champion": config.ChampionConfig,
    "claims": config.ClaimsConfig,
}


def build(profile: Profile) -> dict:
    return {name: cls(**profile.settings.get(name, {})) for name, cls in SECTIONS.items()}


def test_there_is_a_seed_and_a_best_profile_each_with_a_summary():
    assert {"seed", "best"} <= set(PROFILES)
    for name, profile in PROFILES.items():
        assert profile.summary.strip(), name


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_setting_names_a_real_section_and_field(name):
    for section, values in PROFILES[name].settings.items():
        assert section in SECTIONS, f"{name}: unknown section {section!r}"
        fields = SECTIONS[section].model_fields
        unknown = sorted(set(values) - set(fields))
        assert not unknown, f"{name}: {section} has no field {unknown}"


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_builds_valid_configs_that_hold_its_values(name):
    built = build(PROFILES[name])
    for section, values in PROFILES[name].settings.items():
        for field, value in values.items():
            assert getattr(built[section], field) == value, f"{name}: {section}.{field}"
    # The training settings go with the default execution settings too.
    built["training"].execution(built["execution"])


def test_the_seed_profile_changes_nothing():
    seed = PROFILES["seed"]
    assert seed.settings == {}
    assert build(seed) == {name: cls() for name, cls in SECTIONS.items()}


def test_the_best_profile_sets_what_its_summary_says():
    best = PROFILES["best"]
    built = build(best)
    summary = best.summary
    assert "10 bidirectional GRUs" in summary
    assert built["training"].architectures == ("bigru",)
    assert built["training"].ensemble_folds == 10
    assert "one epoch" in summary and built["training"].epochs == 1
    assert "200,000 buckets" in summary and built["model"].bigram_buckets == 200_000
    assert "max and mean pooling" in summary and built["model"].pooling == "max_mean"
    assert "maxlen 600" in summary and built["preprocess"].maxlen == 600
    assert "padding skipped" in summary and built["model"].skip_padding is True
    assert "vocabulary 20,000" in summary and built["preprocess"].vocab_size == 20_000
    assert "embedding 64" in summary and built["model"].embedding_dim == 64
    assert "spatial and output dropout" in summary
    assert built["model"].embedding_dropout > 0 and built["model"].dropout > 0
    assert "batch 128" in summary and built["training"].batch_size == 128
    assert "learning rate 0.002" in summary and built["training"].learning_rate == 0.002


def test_the_best_profile_changes_only_what_it_names():
    built = build(PROFILES["best"])
    untouched = set(SECTIONS) - set(PROFILES["best"].settings)
    assert untouched == {"source", "execution", "runner", "baseline", "champion", "claims"}
    for section in untouched:
        assert built[section] == SECTIONS[section](), section
    assert built["preprocess"].validation_fraction == config.PreprocessConfig().validation_fraction
