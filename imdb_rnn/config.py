"""Typed configuration, one object per concern.

The flow takes these as parameters, so the Prefect UI renders them as forms and
rejects bad values before any work starts. The defaults reproduce the seed notes:
``imdb.load_data(num_words=10000)``, ``pad_sequences(maxlen=200)``,
``Embedding(10000, 32) -> RNN(32) -> Dense(1)``, adam, 2 epochs, batch 64,
validation fraction 0.2.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rnn_models.registry import ARCHITECTURE_NAMES

CANONICAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
CANONICAL_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
SEED_ARCHITECTURES = ("simple_rnn", "lstm", "gru")

_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceConfig(_Frozen):
    """Where the aclImdb reviews come from and how to verify them."""

    source: str = Field(
        default=CANONICAL_URL,
        description="http(s):// or file:// URL, or a local path to a .tar.gz or aclImdb/ folder.",
    )
    sha256: str | None = Field(
        default=None,
        description="Expected sha256 of the archive. Known for the canonical URL; "
        "read from '<file>.sha256' beside a local archive when omitted.",
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Network read timeout.")

    @field_validator("source")
    @classmethod
    def _source_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source is empty; give a URL or a path to the aclImdb archive")
        return value.strip()

    @field_validator("sha256")
    @classmethod
    def _sha256_is_hex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalised = value.strip().lower()
        if not _SHA256_PATTERN.match(normalised):
            raise ValueError(f"sha256 must be 64 hex digits, got {value!r}")
        return normalised


class PreprocessConfig(_Frozen):
    """How reviews become fixed-length integer sequences."""

    vocab_size: int = Field(
        default=10_000, ge=3, description="Token ids 0..vocab_size-1: 0 = padding, 1 = unknown."
    )
    maxlen: int = Field(default=200, gt=0, description="Length every sequence is padded or cut to.")
    padding: Literal["pre", "post"] = Field(default="pre", description="Side that gets the zeros.")
    truncating: Literal["pre", "post"] = Field(
        default="pre", description="Side that is cut from long reviews ('pre' keeps the ending)."
    )
    validation_fraction: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of train held out, stratified by label."
    )
    split_seed: int = Field(default=42, ge=0, description="Seed of the validation split.")
    max_reviews_per_split: int | None = Field(
        default=None,
        ge=4,
        description="Cap on reviews per split (balanced sample) for quick runs; None = all.",
    )
    invalid_reviews: Literal["fail", "skip"] = Field(
        default="fail",
        description="What to do with a review file that is empty, has no words once markup "
        "is removed, or is not named <id>_<rating>.txt with a rating in 1..10: 'fail' stops "
        "with its path; 'skip' leaves it out, logs it and lists it in the manifest.",
    )


class ModelConfig(_Frozen):
    """Shape of every recurrent model; the architecture is chosen by name."""

    embedding_dim: int = Field(default=32, gt=0)
    units: int = Field(default=32, gt=0, description="Recurrent units per direction.")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout before the output.")
    embedding_dropout: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Share of embedding channels dropped for a whole review while training "
        "(spatial dropout), against memorising rare words.",
    )
    pooling: Literal["last", "max", "mean", "max_mean"] = Field(
        default="last",
        description="What the classifier reads: the recurrent layer's last state ('last'), "
        "or its outputs at every position pooled over time (max, mean, or both concatenated), "
        "over the review's own positions: padding is left out.",
    )
    bigram_buckets: int = Field(
        default=0,
        ge=0,
        description="Hash each pair of neighbouring token ids into this many buckets and add "
        "the pair's own embedding to the second token's (fastText-style word bigrams, so "
        "'not good' gets a vector of its own); 0 = unigrams only.",
    )

    skip_padding: bool = Field(
        default=False,
        description="Mask padding in the recurrent layer, so that it steps over it and a "
        "review's output does not depend on its padding. Training then groups reviews of "
        "similar length into batches and cuts each batch to its longest review, and "
        "prediction does the same: at maxlen 600 up to 2.6x fewer recurrent steps. With a "
        "GPU, pair it with padding 'post': cuDNN kernels take right-padded masks only.",
    )

    @field_validator("bigram_buckets")
    @classmethod
    def _zero_or_room_for_pairs(cls, value: int) -> int:
        if value == 1:
            raise ValueError("bigram_buckets must be 0 (off) or at least 2: bucket 0 is padding")
        return value


class TrainingConfig(_Frozen):
    """Which architectures to train and how."""

    architectures: tuple[str, ...] = Field(default=SEED_ARCHITECTURES, min_length=1)
    epochs: int = Field(default=2, ge=1)
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    seed: int = Field(default=42, ge=0)
    seeds: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Train each architecture this many times, with seeds seed, seed+1, ..., "
        "and report mean and standard deviation.",
    )
    ensemble_folds: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Cross-validated ensemble: with K > 1, pool the train and validation "
        "splits, cut them into K stratified folds, and train K members per architecture "
        "(and seed), member k on every fold but k and validated on fold k. The ensemble, one "
        "model that averages the members' probabilities, is what gets scored and can become "
        "the champion; its validation figures are out-of-fold, each review predicted by the "
        "member that never trained on it. 1 = one model trained on train.",
    )
    early_stopping_patience: int | None = Field(
        default=None,
        ge=1,
        description="Stop after this many epochs without a lower validation loss and keep "
        "the best epoch's weights; None trains every epoch and keeps the last.",
    )
    xla: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="XLA-compile the train step: 'auto' = on when TensorFlow sees no GPU and "
        "the model reads the last state (about 2x faster there); off for models that pool "
        "over time, which XLA slows down on CPU; with a GPU Keras keeps cuDNN kernels instead.",
    )
    batch_parts: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Cut each training batch into this many equal parts and compute their "
        "gradients side by side, one XLA program per part, so that small models use more "
        "than one core (about an eighth off a seed LSTM or GRU fit on an Intel 2-core host). "
        "Applies when the model has LSTM or GRU layers, the train step is XLA-compiled with "
        "full-width batches, the batch divides evenly, and training changes no state besides "
        "the weights (no dropout); else the batch trains whole. 1 = Keras' own train step. "
        "The parts' gradients are summed in another order, so the weights differ from 1 in "
        "the last bits.",
    )
    threads: int = Field(
        default=0,
        ge=0,
        description="TensorFlow CPU threads per process (0 = one per core). Lower it when "
        "several trainings share a machine.",
    )
    lazy_embeddings: bool = Field(
        default=False,
        description="Adam updates only the embedding rows a batch uses, and only their "
        "moments (lazy Adam, as TensorFlow's LazyAdamOptimizer and PyTorch's SparseAdam), "
        "instead of every row of the table at every step: a third off each step with the "
        "best profile's bigram table. Other weights get plain Adam. Trains without XLA.",
    )
    clipnorm: float | None = Field(
        default=None,
        gt=0.0,
        description="Clip each gradient to this L2 norm (Keras' clipnorm); None = no clipping.",
    )
    mirrored: bool = Field(
        default=False,
        description="Train with tf.distribute.MirroredStrategy: one replica per GPU of the "
        "machine, each batch split between them (batch_size is the global batch). Without "
        "GPUs it runs one replica on the CPU.",
    )
    retrain: bool = Field(
        default=False, description="Train again even when a model with these inputs exists."
    )

    @field_validator("architectures", mode="before")
    @classmethod
    def _split_comma_string(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def seed_values(self) -> tuple[int, ...]:
        """The seeds each architecture is trained with: ``seed`` up to ``seed + seeds - 1``."""
        return tuple(range(self.seed, self.seed + self.seeds))

    def for_seed(self, seed: int) -> TrainingConfig:
        """The settings of one training: this config with one seed."""
        return self.model_copy(update={"seed": seed, "seeds": 1})

    def run_label(self, architecture: str, seed: int) -> str:
        """How reports name one scored model: the architecture, ``-ensemble<K>`` for a
        cross-validated ensemble, and the seed when there are several."""
        label = architecture
        if self.ensemble_folds > 1:
            label += f"-ensemble{self.ensemble_folds}"
        return label if self.seeds == 1 else f"{label}-seed{seed}"

    @field_validator("architectures")
    @classmethod
    def _known_and_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in ARCHITECTURE_NAMES]
        if unknown:
            raise ValueError(
                f"unknown architecture {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(ARCHITECTURE_NAMES)}"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"architectures repeat a name: {', '.join(value)}")
        return value

    @model_validator(mode="after")
    def _lazy_updates_without_xla(self) -> TrainingConfig:
        if self.lazy_embeddings and self.xla == "on":
            raise ValueError(
                "--lazy-embeddings trains without XLA (XLA cannot compile the lookup of "
                "the rows a batch uses); drop --xla on or --lazy-embeddings"
            )
        return self


class RunnerConfig(_Frozen):
    """Where the train and evaluate tasks run: one after another here, or on a Dask cluster."""

    runner: Literal["sequential", "dask"] = Field(
        default="sequential",
        description="'sequential' trains one model at a time in the flow's process; 'dask' "
        "trains every architecture and seed as its own task on a Dask cluster (needs the "
        "'dask' extra: pip install 'imdb-rnn[dask]').",
    )
    dask_address: str | None = Field(
        default=None,
        description="Scheduler of a running Dask cluster, e.g. tcp://scheduler:8786; "
        "None starts a local cluster for the run.",
    )
    workers: int = Field(
        default=2, ge=1, description="Worker processes of the local cluster (dask, no address)."
    )
    tasks_per_worker: int = Field(
        default=1,
        ge=1,
        description="Tasks each local worker runs at once (Dask threads per worker); keep 1 "
        "for training, which uses every core it is given.",
    )

    @field_validator("dask_address")
    @classmethod
    def _address_has_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not re.match(r"^([a-z]+://)?[^\s/:]+:\d+/?$", value):
            raise ValueError(
                "give the scheduler's address as tcp://host:port, e.g. tcp://scheduler:8786"
            )
        return value

    @model_validator(mode="after")
    def _address_only_for_dask(self) -> RunnerConfig:
        if self.dask_address and self.runner != "dask":
            raise ValueError(
                "--dask-address is for --runner dask; drop --runner sequential or the address"
            )
        return self


class BaselineConfig(_Frozen):
    """The TF-IDF + logistic regression reference model."""

    enabled: bool = True
    max_ngram: int = Field(default=2, ge=1, le=3, description="Word n-grams from 1 to this.")
    min_df: int = Field(default=2, ge=1, description="Ignore n-grams in fewer reviews than this.")
    c_grid: tuple[float, ...] = Field(
        default=(1.0, 4.0, 16.0),
        min_length=1,
        description="Inverse regularisation strengths tried; the best on validation is kept.",
    )

    @field_validator("c_grid")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(c <= 0 for c in value):
            raise ValueError(f"every C must be > 0, got {value}")
        return value


class ChampionConfig(_Frozen):
    """How a run's best recurrent model is judged against the model in service."""

    enabled: bool = Field(default=True, description="Compare with the champion and maybe promote.")
    metric: Literal["roc_auc", "accuracy", "f1", "average_precision", "mcc"] = Field(
        default="roc_auc", description="Test metric both models are scored on; higher is better."
    )
    min_improvement: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Promote only when the challenger beats the champion by more than this.",
    )


class ClaimsConfig(_Frozen):
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
        if isinstance(value, str):
            return tuple(int(part) for part in value.split(",") if part.strip())
        return value

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
