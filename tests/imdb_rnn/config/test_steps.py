"""The configs of the steps after training: the baseline, the champion and the claims."""

from __future__ import annotations

import pytest

from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ReportConfig,
    check_champion_evidence,
)
from imdb_rnn.errors import ConfigError
from tests.samples import assert_only_field_refused


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (BaselineConfig, "max_ngram", 4),
        (BaselineConfig, "c_grid", (1.0, -1.0)),
        (BaselineConfig, "c_grid", ()),
        (ChampionConfig, "min_improvement", 1.5),
        (ChampionConfig, "min_improvement", "sometimes"),
        (ReportConfig, "bootstrap", -1),
        (ReportConfig, "confidence", 1.0),
        (ChampionConfig, "metric", "loss"),
        (ClaimsConfig, "distances", (0, 10)),
        (ClaimsConfig, "synthetic_vocab", 4),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else str(value),
)
def test_out_of_range_values_are_rejected(model, field, value):
    assert_only_field_refused(model, field, value)


def test_the_steps_default_to_the_seed_run():
    assert BaselineConfig().enabled and BaselineConfig().c_grid == (1.0, 4.0, 16.0)
    assert ChampionConfig().metric == "roc_auc" and ChampionConfig().min_improvement == 0.0
    assert ClaimsConfig().enabled and ClaimsConfig().distances == (10, 50, 100, 200)


def test_claim_distances_from_a_flag_are_split_sorted_and_unique():
    assert ClaimsConfig(distances="100, 10,50,10").distances == (10, 50, 100)
    assert ClaimsConfig(distances=[7]).distances == (7,)


def test_the_synthetic_sequences_have_room_for_the_largest_distance():
    claims = ClaimsConfig(distances=(3, 9), synthetic_train=40, synthetic_epochs=2)
    budget = claims.synthetic_budget()
    assert claims.synthetic_length == 10 == budget.length  # marker 9 steps before the end
    assert (budget.train_rows, budget.epochs) == (40, 2)
    assert (budget.test_rows, budget.vocab_size, budget.batch_size) == (1024, 100, 64)
    assert budget.learning_rate == 0.01


def test_min_improvement_is_a_margin_or_significant():
    assert ChampionConfig(min_improvement="0.02").min_improvement == 0.02  # as a flag gives it
    assert ChampionConfig(min_improvement="significant").min_improvement == "significant"
    assert ReportConfig().bootstrap == 1000 and ReportConfig().confidence == 0.95


def test_significant_on_roc_auc_needs_the_bootstrap():
    significant = ChampionConfig(min_improvement="significant")
    with pytest.raises(ConfigError, match="--bootstrap 0 turns off"):
        check_champion_evidence(significant, ReportConfig(bootstrap=0))
    check_champion_evidence(significant, ReportConfig(bootstrap=200))
    # Accuracy is judged by McNemar's test, which needs no resamples.
    accuracy = ChampionConfig(min_improvement="significant", metric="accuracy")
    check_champion_evidence(accuracy, ReportConfig(bootstrap=0))
