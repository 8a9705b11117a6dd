"""The command line's options, made from the config fields they set.

Each option names one field of one config; its type, choices, default and help text are
that field's, so a default or a description is written once, in the config, and the CLI,
the flow's form in the Prefect UI and ``prefect.yaml`` all agree. Options that are not
given stay out of the parsed arguments: the config's own default applies, or the chosen
profile's value. Nothing here imports Prefect or TensorFlow.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

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
from imdb_rnn.errors import ConfigError
from imdb_rnn.profiles import PROFILES
from imdb_rnn.sources import check_table_options
from rnn_models.config import ModelConfig

# The flow's parameter name of each config, and its type.
SECTIONS: dict[str, type[BaseModel]] = {
    "source": SourceConfig,
    "preprocess": PreprocessConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "execution": ExecutionConfig,
    "runner": RunnerConfig,
    "baseline": BaselineConfig,
    "champion": ChampionConfig,
    "claims": ClaimsConfig,
    "report": ReportConfig,
    "table": TableConfig,
}


@dataclass(frozen=True)
class Option:
    """``flag`` sets ``section.field``; a ``--no-...`` flag turns an ``enabled`` field off."""

    section: str
    field: str
    flag: str
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return f"{self.section}.{self.field}"

    @property
    def switches_off(self) -> bool:
        return self.flag.startswith("--no-")


def _options(section: str, flags: dict[str, str], metavars: dict[str, str] | None = None):
    return [
        Option(section, field, flag, (metavars or {}).get(field)) for field, flag in flags.items()
    ]


# Help groups of ``imdb-rnn run``, in the order --help shows them.
RUN_GROUPS: dict[str, list[Option]] = {
    "data": _options(
        "source", {"source": "--source", "sha256": "--sha256", "timeout_seconds": "--timeout"}
    )
    + _options(
        "preprocess",
        {
            "vocab_size": "--vocab-size",
            "maxlen": "--maxlen",
            "padding": "--padding",
            "truncating": "--truncating",
            "validation_fraction": "--validation-fraction",
            "split_seed": "--split-seed",
            "max_reviews_per_split": "--max-reviews-per-split",
            "invalid_reviews": "--invalid-reviews",
            "drop_test_duplicates": "--drop-test-duplicates",
        },
    ),
    "a table of labeled text (--source FILE.csv|.tsv|.parquet|.jsonl; see 'Your own data')": (
        _options(
            "table",
            {
                "text_column": "--text-column",
                "label_column": "--label-column",
                "split_column": "--split-column",
                "test_source": "--test-source",
                "test_fraction": "--test-fraction",
                "text_encoding": "--text-encoding",
            },
            {"split_column": "COLUMN", "test_source": "FILE"},
        )
    ),
    "model": _options(
        "model",
        {
            "embedding_dim": "--embedding-dim",
            "units": "--units",
            "dropout": "--dropout",
            "embedding_dropout": "--embedding-dropout",
            "pooling": "--pooling",
            "bigram_buckets": "--bigram-buckets",
            "skip_padding": "--skip-padding",
        },
    ),
    "training (what is trained: a model trains again when one of these changes)": _options(
        "training",
        {
            "architectures": "--archs",
            "epochs": "--epochs",
            "batch_size": "--batch-size",
            "learning_rate": "--learning-rate",
            "seed": "--seed",
            "seeds": "--seeds",
            "ensemble_folds": "--ensemble-folds",
            "stack": "--stack",
            "early_stopping_patience": "--early-stopping",
            "lazy_embeddings": "--lazy-embeddings",
            "clipnorm": "--clipnorm",
        },
        {"ensemble_folds": "K", "early_stopping_patience": "PATIENCE"},
    ),
    "execution (how training runs: a model trained before is reused whatever these were)": (
        _options(
            "execution",
            {
                "xla": "--xla",
                "threads": "--threads",
                "batch_parts": "--batch-parts",
                "mirrored": "--mirrored",
                "memory_budget_mib": "--memory-budget",
                "retrain": "--retrain",
            },
            {"batch_parts": "N", "memory_budget_mib": "MIB"},
        )
    ),
    "where training runs (see 'Running on a cluster' in the README)": _options(
        "runner",
        {
            "runner": "--runner",
            "dask_address": "--dask-address",
            "workers": "--dask-workers",
            "tasks_per_worker": "--dask-tasks-per-worker",
        },
        {"dask_address": "ADDRESS"},
    ),
    "baselines": _options("baseline", {"enabled": "--no-baseline", "models": "--baselines"}),
    "champion (the model in service)": _options(
        "champion",
        {
            "enabled": "--no-champion",
            "metric": "--champion-metric",
            "min_improvement": "--min-improvement",
        },
    ),
    "seed notes' claims (memory, long-term dependency, gradients)": _options(
        "claims",
        {
            "enabled": "--no-claims",
            "sample_reviews": "--claims-reviews",
            "distances": "--claims-distances",
            "synthetic_train": "--claims-train",
            "synthetic_epochs": "--claims-epochs",
        },
    ),
    "report (intervals, verdicts and examples)": _options(
        "report",
        {
            "bootstrap": "--bootstrap",
            "confidence": "--confidence",
            "error_examples": "--error-examples",
            "explained_reviews": "--explained-reviews",
        },
        {"bootstrap": "N"},
    ),
}
FLAGS: dict[tuple[str, str], str] = {
    (option.section, option.field): option.flag
    for options in RUN_GROUPS.values()
    for option in options
}


def _shown_default(value: Any) -> str | None:
    if value is None:
        return None  # the description says what None means
    if isinstance(value, tuple):
        return ",".join(str(part) for part in value)
    return str(value)


def _value_type(annotation: Any) -> Any:
    """The type a flag's text is converted to: the annotation without ``None``; comma lists
    stay text for the config to split."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        choices = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(choices) > 1:  # a number or a word: the config tells them apart
            return str
        annotation = choices[0]
    if typing.get_origin(annotation) is Literal or typing.get_origin(annotation) is tuple:
        return str
    return annotation


def add_option(group: Any, option: Option) -> None:
    """Add ``option`` to an argparse group, typed and described as its config field is."""
    field = SECTIONS[option.section].model_fields[option.field]
    description = (field.description or option.field.replace("_", " ")).rstrip(".")
    common: dict[str, Any] = {"dest": option.dest, "default": argparse.SUPPRESS}
    if option.switches_off:
        negated = f"do not {description[0].lower()}{description[1:]}"
        group.add_argument(option.flag, action="store_const", const=False, help=negated, **common)
        return
    default = _shown_default(field.default)
    shown = f" (default: {default})" if default is not None else ""
    if field.annotation is bool:
        group.add_argument(
            option.flag, action=argparse.BooleanOptionalAction, help=description + shown, **common
        )
        return
    metavar = option.metavar or option.flag.removeprefix("--").replace("-", "_").upper()
    kwargs: dict[str, Any] = {"type": _value_type(field.annotation), "metavar": metavar}
    if typing.get_origin(field.annotation) is Literal:
        kwargs["choices"] = typing.get_args(field.annotation)
        kwargs["metavar"] = None  # argparse shows the choices
    group.add_argument(option.flag, help=description + shown, **common, **kwargs)


def add_options(group: Any, options: Iterable[Option]) -> None:
    for option in options:
        add_option(group, option)


def _first_problem(section: str, error: ValidationError) -> str:
    problem = error.errors()[0]
    message = problem["msg"].removeprefix("Value error, ")
    if not problem["loc"]:  # a rule about several fields: its message names them
        return message
    field = str(problem["loc"][0])
    flag = FLAGS.get((section, field), field)
    return f"{flag}: {message} (got {problem.get('input')!r})"


def build_config(section: str, values: dict[str, Any]) -> BaseModel:
    """The config of ``section`` from ``values``; a bad value raises ``ConfigError`` naming
    its flag."""
    try:
        return SECTIONS[section](**values)
    except ValidationError as error:
        raise ConfigError(_first_problem(section, error)) from None


def configs_from_args(args: argparse.Namespace) -> dict[str, BaseModel]:
    """Every config of ``imdb-rnn run``, checked together; raise ``ConfigError`` on one line.

    A flag that was given wins; else the chosen profile's value (``--profile``); else the
    config's default.
    """
    given = vars(args)
    profile = PROFILES[given.get("profile", "seed")]
    configs = {}
    for section in SECTIONS:
        values = dict(profile.settings.get(section, {}))
        prefix = f"{section}."
        values.update(
            {dest[len(prefix) :]: v for dest, v in given.items() if dest.startswith(prefix)}
        )
        if section == "training" and "training.stack" not in given:
            # A profile's stack needs its ensembles: "--profile best --ensemble-folds 1"
            # asks for one model, and gets it without the stack.
            values["stack"] = values.get("stack", False) and values.get("ensemble_folds", 1) > 1
        configs[section] = build_config(section, values)
    configs["execution"] = configs["training"].execution(configs["execution"])
    check_champion_evidence(configs["champion"], configs["report"])
    check_table_options(configs["source"], configs["table"])
    if configs["runner"].runner == "dask":
        from imdb_rnn.cluster import require_dask

        require_dask()
    return configs
