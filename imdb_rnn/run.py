"""One run of the comparison: its id, where its data lives, and every setting it ran with."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from imdb_rnn.cluster import tensorflow_threads
from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ExecutionConfig,
    PreprocessConfig,
    ReportConfig,
    RunnerConfig,
    SourceConfig,
    TableConfig,
    TrainingConfig,
    check_champion_evidence,
)
from imdb_rnn.sources import check_table_options
from imdb_rnn.storage import DataStore
from rnn_models.config import ModelConfig


@dataclass(frozen=True)
class RunSettings:
    """Every config of one run, as it ran: what the history and the report record."""

    source: SourceConfig
    preprocess: PreprocessConfig
    model: ModelConfig
    training: TrainingConfig
    execution: ExecutionConfig
    baseline: BaselineConfig
    champion: ChampionConfig
    claims: ClaimsConfig
    runner: RunnerConfig
    report: ReportConfig
    table: TableConfig = TableConfig()  # noqa: RUF009 - frozen

    def as_json(self) -> dict[str, dict[str, Any]]:
        """``{section: {field: value}}`` in plain JSON types, in the order of the fields."""
        return {
            item.name: getattr(self, item.name).model_dump(mode="json") for item in fields(self)
        }


@dataclass(frozen=True)
class Run:
    """What every step after the first needs to know about the run it belongs to."""

    run_id: str
    store: DataStore
    settings: RunSettings


def make_run_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """A sortable, readable id: UTC time, then ``suffix`` (the Prefect flow run's name) or a
    random one."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{suffix or secrets.token_hex(3)}"


def start_run(data_dir: str, settings: RunSettings, name: str | None = None) -> Run:
    """Open the data folder and settle how the trainings run, before any work starts.

    The execution settings get what a 0.3.0 deployment still passes inside ``training``,
    and each training's share of the machine's cores when a local Dask cluster runs several
    at once (``tensorflow_threads``). A bad data folder or a contradiction between the
    settings raises ``ConfigError`` naming the fix.
    """
    check_champion_evidence(settings.champion, settings.report)
    check_table_options(settings.source, settings.table)
    store = DataStore.open(data_dir)
    execution = settings.training.execution(settings.execution)
    execution = execution.model_copy(
        update={"threads": tensorflow_threads(settings.runner, execution)}
    )
    # What a 0.3.0 deployment set aside in `training` now lives in `execution` alone.
    training = TrainingConfig.model_validate(settings.training.model_dump())
    settled = replace(settings, training=training, execution=execution)
    return Run(make_run_id(suffix=name), store, settled)
