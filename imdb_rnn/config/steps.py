"""The steps after training: the baseline, the champion decision, the claims, the report."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from imdb_rnn.config.base import Frozen, comma_separated
from imdb_rnn.errors import ConfigError
from rnn_models.probes import SyntheticBudget

BASELINE_NAMES = ("tfidf_logreg", "nbsvm")
# The fields each baseline's cached scores depend on: a change to one leaves the other's.
TFIDF_FIELDS = frozenset({"enabled", "max_ngram", "min_df", "c_grid"})
NBSVM_FIELDS = frozenset({"nbsvm_max_ngram", "nbsvm_min_df", "nbsvm_c_grid", "nbsvm_betas"})


class BaselineConfig(Frozen):
    """The classical references: TF-IDF + logistic regression, and NBSVM."""

    enabled: bool = Field(default=True, description="Train and score the baselines.")
    models: tuple[Literal["tfidf_logreg", "nbsvm"], ...] = Field(
        default=BASELINE_NAMES,
        min_length=1,
        description="Which baselines, comma-separated: tfidf_logreg (TF-IDF on word 1-2 grams "
        "+ logistic regression) and nbsvm (binarised word 1-3 grams scaled by Naive Bayes "
        "log-count ratios + a linear SVM, Wang & Manning 2012).",
    )
    max_ngram: int = Field(default=2, ge=1, le=3, description="Word n-grams from 1 to this.")
    min_df: int = Field(default=2, ge=1, description="Ignore n-grams in fewer reviews than this.")
    c_grid: tuple[float, ...] = Field(
        default=(1.0, 4.0, 16.0),
        min_length=1,
        description="Inverse regularisation strengths tried; the best on validation is kept.",
    )
    nbsvm_max_ngram: int = Field(
        default=3, ge=1, le=3, description="NBSVM: word n-grams 1 to this."
    )
    nbsvm_min_df: int = Field(
        default=1, ge=1, description="NBSVM: ignore n-grams in fewer training reviews than this."
    )
    nbsvm_c_grid: tuple[float, ...] = Field(
        default=(0.005, 0.01, 0.02),
        min_length=1,
        description="NBSVM: SVM regularisation strengths tried; the best on validation is kept.",
    )
    nbsvm_betas: tuple[float, ...] = Field(
        default=(0.5, 0.75, 1.0),
        min_length=1,
        description="NBSVM: interpolation weights tried (1 is the plain SVM); best on validation.",
    )

    @field_validator("models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("models")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @field_validator("c_grid", "nbsvm_c_grid")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(c <= 0 for c in value):
            raise ValueError(f"every C must be > 0, got {value}")
        return value

    @field_validator("nbsvm_betas")
    @classmethod
    def _weights(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 <= beta <= 1 for beta in value):
            raise ValueError(f"every interpolation weight must be from 0 to 1, got {value}")
        return value

    def settings_of(self, fields: frozenset[str]) -> dict:
        """The fields one baseline depends on, for its cache key."""
        return self.model_dump(include=set(fields))


class ChampionConfig(Frozen):
    """How a run's best recurrent model is judged against the model in service."""

    enabled: bool = Field(
        default=True, description="Compare with the champion and promote when better."
    )
    metric: Literal["roc_auc", "accuracy", "f1", "average_precision", "mcc"] = Field(
        default="roc_auc",
        description="Test metric the run's best recurrent model and the champion are compared "
        "on; higher is better.",
    )
    min_improvement: float | Literal["significant"] = Field(
        default=0.0,
        description="Promote only when the challenger beats the champion by more than this "
        "margin (0 to 1), or, with 'significant', only when a paired test on this run's test "
        "reviews says it is better (McNemar's for accuracy, else the paired bootstrap).",
    )

    @field_validator("min_improvement", mode="before")
    @classmethod
    def _significant_or_margin(cls, value: object) -> object:
        if value == "significant":
            return value
        try:
            margin = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            margin = math.nan
        if not 0.0 <= margin <= 1.0:
            raise ValueError("must be 'significant' or a number from 0 to 1")
        return margin


class ClaimsConfig(Frozen):
    """The step that measures the seed notes' claims (memory, long-term dependency, gradients).

    Gradients by position are measured on a fixed sample of test reviews for each trained
    model; the long-range test trains each architecture briefly, with the run's layer sizes,
    on a synthetic task whose label is a marker token ``d`` steps before the end.
    """

    enabled: bool = Field(default=True, description="Measure the claims after evaluation.")
    sample_reviews: int = Field(
        default=256, ge=1, description="Test reviews the gradient by position is averaged over."
    )
    distances: tuple[int, ...] = Field(
        default=(10, 50, 100, 200),
        min_length=1,
        description="Steps between the marker token and the end of a synthetic sequence.",
    )
    synthetic_train: int = Field(
        default=4096, ge=2, description="Synthetic training sequences per distance."
    )
    synthetic_test: int = Field(
        default=1024, ge=2, description="Held-out synthetic sequences accuracy is measured on."
    )
    synthetic_vocab: int = Field(
        default=100,
        ge=5,
        description="Synthetic token ids: 0, 1 unused, 2 and 3 markers, rest distractors.",
    )
    synthetic_epochs: int = Field(
        default=5, ge=1, description="At most this many epochs each (stops once learnt)."
    )
    synthetic_learning_rate: float = Field(default=0.01, gt=0.0)
    synthetic_batch_size: int = Field(default=64, ge=1)

    @field_validator("distances", mode="before")
    @classmethod
    def _split_comma_string(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("distances")
    @classmethod
    def _positive_unique_sorted(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 1 for d in value):
            raise ValueError(f"every distance must be >= 1, got {value}")
        return tuple(sorted(set(value)))

    @property
    def synthetic_length(self) -> int:
        """Every synthetic sequence is this long: room for the marker at the largest distance."""
        return max(self.distances) + 1

    def synthetic_budget(self) -> SyntheticBudget:
        """How each architecture is trained and tested on the synthetic task."""
        return SyntheticBudget(
            length=self.synthetic_length,
            vocab_size=self.synthetic_vocab,
            train_rows=self.synthetic_train,
            test_rows=self.synthetic_test,
            epochs=self.synthetic_epochs,
            learning_rate=self.synthetic_learning_rate,
            batch_size=self.synthetic_batch_size,
        )


class ReportConfig(Frozen):
    """How sure the report is, and which of the models' mistakes it shows."""

    bootstrap: int = Field(
        default=1000,
        ge=0,
        description="Paired bootstrap resamples of the test reviews behind every interval; "
        "0 turns the intervals off (McNemar's verdicts remain).",
    )
    confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1.0,
        description="Coverage of every interval; 1 minus this is the significance level.",
    )
    bootstrap_seed: int = Field(default=0, ge=0, description="Seed of the test resamples.")
    error_examples: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Most confidently wrong test reviews shown for each model.",
    )
    explained_reviews: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Test reviews shown with each word coloured by its effect on the "
        "champion's score (occlusion).",
    )


def check_champion_evidence(champion: ChampionConfig, report: ReportConfig) -> None:
    """A significant improvement on a metric other than accuracy needs the bootstrap."""
    if (
        champion.min_improvement == "significant"
        and champion.metric != "accuracy"
        and report.bootstrap == 0
    ):
        raise ConfigError(
            f"--min-improvement significant on {champion.metric} is judged by the paired "
            "bootstrap, which --bootstrap 0 turns off: give --bootstrap N (e.g. 1000), or "
            "--champion-metric accuracy (McNemar's test)"
        )
