"""What a run trains (``TrainingConfig``, ``FitConfig``) and how the training runs
(``ExecutionConfig``, ``RunnerConfig``).

Only what is trained identifies a trained model: a model is reused whatever the execution
settings were when it was trained, and its training.json records them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from imdb_rnn.config.base import Frozen, comma_separated
from imdb_rnn.errors import ConfigError
from rnn_models.registry import ARCHITECTURE_NAMES

SEED_ARCHITECTURES = ("simple_rnn", "lstm", "gru")


class FitConfig(Frozen):
    """How one model is fitted. Every field changes the weights it learns, so this, the
    model's shape, the prepared data and the fold are what identifies a trained model."""

    epochs: int = Field(default=2, ge=1, description="Passes over the training reviews.")
    batch_size: int = Field(default=64, ge=1, description="Reviews per training step.")
    learning_rate: float = Field(default=1e-3, gt=0.0, description="Adam's learning rate.")
    seed: int = Field(
        default=42, ge=0, description="Seed of the initial weights and of the batch order."
    )
    early_stopping_patience: int | None = Field(
        default=None,
        ge=1,
        description="Stop after this many epochs without a lower validation loss and keep "
        "the best epoch's weights; None trains every epoch and keeps the last.",
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


class ExecutionConfig(Frozen):
    """How the trainings run: where and how the arithmetic is done, and whether a model that
    was trained before is reused. None of it is part of what identifies a trained model: a
    model is reused whatever these were when it was trained (its training.json records them).
    """

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
        "than one core. Applies to LSTM and GRU layers when the train step is XLA-compiled "
        "with full-width batches, the batch divides evenly, and training changes no state "
        "besides the weights (no dropout); else the batch trains whole. 1 = Keras' own train "
        "step. The parts' gradients are summed in another order, so the weights differ from "
        "1 in the last bits.",
    )
    threads: int = Field(
        default=0,
        ge=0,
        description="TensorFlow CPU threads per training (0 = one per core, or the cores "
        "shared out among a local Dask cluster's workers). Lower it when several trainings "
        "share a machine.",
    )
    mirrored: bool = Field(
        default=False,
        description="Train with tf.distribute.MirroredStrategy: one replica per GPU of the "
        "machine, each batch split between them (batch_size is the global batch). Without "
        "GPUs it runs one replica on the CPU.",
    )
    memory_budget_mib: int = Field(
        default=1024,
        ge=0,
        description="MiB the padded training rows (rows x maxlen int32 tokens, plus labels) "
        "may take in memory. Above it, a model trained on the train split reads them from "
        "the Parquet file a few row groups at a time (windows of up to a quarter of the "
        "budget), shuffled within a window and in a new row-group order every epoch, instead "
        "of loading them: other batches than in memory, so other weights. Validation stays "
        "in memory when it fits a quarter of the budget, else is read in order. Ensemble "
        "members (--ensemble-folds) always load their rows. 0 streams whatever the size.",
    )
    retrain: bool = Field(
        default=False, description="Train again even when a model with these inputs exists."
    )


class TrainingConfig(FitConfig):
    """Which models a run trains (architectures, seeds, ensembles), each fitted as
    ``FitConfig`` says."""

    architectures: tuple[str, ...] = Field(
        default=SEED_ARCHITECTURES,
        min_length=1,
        description=f"Architectures to train and compare, from {', '.join(ARCHITECTURE_NAMES)}.",
    )
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
    stack: bool = Field(
        default=False,
        description="Add a stacked model: a logistic regression over the cross-validated "
        "ensembles' and NBSVM's scores, fitted on their out-of-fold scores of the pooled "
        "training reviews (never on test). It is scored, compared and promoted like a "
        "recurrent model. Needs ensemble_folds > 1.",
    )
    # Release 0.3.0 took the execution settings here; deployments saved then still send them.
    _execution_of_0_3: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _set_aside_execution_settings(
        cls, data: Any, handler: ValidatorFunctionWrapHandler
    ) -> TrainingConfig:
        moved: dict[str, Any] = {}
        if isinstance(data, dict):
            moved = {name: data[name] for name in ExecutionConfig.model_fields if name in data}
            data = {name: value for name, value in data.items() if name not in moved}
        config = handler(data)
        if moved:
            config._execution_of_0_3 = ExecutionConfig(**moved).model_dump(exclude_unset=True)
        return config

    @field_validator("architectures", mode="before")
    @classmethod
    def _split_comma_string(cls, value: object) -> object:
        return comma_separated(value)

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
    def _stack_needs_folds(self) -> TrainingConfig:
        if self.stack and self.ensemble_folds < 2:
            raise ValueError(
                "stack (--stack) needs out-of-fold scores: set ensemble_folds "
                "(--ensemble-folds) to 2 or more, as the best profile does"
            )
        return self

    def seed_values(self) -> tuple[int, ...]:
        """The seeds each architecture is trained with: ``seed`` up to ``seed + seeds - 1``."""
        return tuple(range(self.seed, self.seed + self.seeds))

    def fit_for_seed(self, seed: int) -> FitConfig:
        """How the model with ``seed`` is fitted."""
        fields = {name: getattr(self, name) for name in FitConfig.model_fields}
        return FitConfig(**{**fields, "seed": seed})

    def run_label(self, architecture: str, seed: int) -> str:
        """How reports name one scored model: the architecture, ``-ensemble<K>`` for a
        cross-validated ensemble, and the seed when there are several."""
        label = architecture
        if self.ensemble_folds > 1:
            label += f"-ensemble{self.ensemble_folds}"
        return label if self.seeds == 1 else f"{label}-seed{seed}"

    def execution(self, given: ExecutionConfig) -> ExecutionConfig:
        """``given``, with the settings a 0.3.0 deployment put here filling in what it does
        not set itself; refuses lazy embedding updates with XLA forced on."""
        update = {
            k: v for k, v in self._execution_of_0_3.items() if k not in given.model_fields_set
        }
        execution = given.model_copy(update=update)
        if self.lazy_embeddings and execution.xla == "on":
            raise ConfigError(
                "--lazy-embeddings trains without XLA (XLA cannot compile the lookup of "
                "the rows a batch uses); drop --xla on or --lazy-embeddings"
            )
        return execution


class RunnerConfig(Frozen):
    """Where the train and evaluate tasks run: one after another here, or on a Dask cluster."""

    runner: Literal["sequential", "dask"] = Field(
        default="sequential",
        description="'sequential' trains one model at a time in the flow's process; 'dask' "
        "trains every architecture and seed as its own task on a Dask cluster (needs the "
        "'dask' extra: pip install 'imdb-rnn[dask]'); dask when only a scheduler address "
        "is given.",
    )
    dask_address: str | None = Field(
        default=None,
        description="Scheduler of a running Dask cluster, e.g. tcp://scheduler:8786; "
        "None starts a local cluster for the run.",
    )
    workers: int = Field(
        default=2,
        ge=1,
        description="Worker processes of the local cluster (dask, no address); each training "
        "gets the threads setting, or the machine's cores divided among the workers.",
    )
    tasks_per_worker: int = Field(
        default=1,
        ge=1,
        description="Tasks each local worker runs at once (Dask threads per worker); keep 1 "
        "for training, which uses every core it is given.",
    )

    @model_validator(mode="before")
    @classmethod
    def _dask_when_an_address_is_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("dask_address") and "runner" not in data:
            return {**data, "runner": "dask"}
        return data

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
