"""The run options: made from the config fields, a profile's values under the flags given."""

from __future__ import annotations

import argparse
from contextlib import nullcontext

import pytest

from entrypoints.cli import build_parser, main
from entrypoints.options import RUN_GROUPS, SECTIONS, configs_from_args
from imdb_rnn.config import ClaimsConfig, TrainingConfig
from imdb_rnn.profiles import PROFILES


def _configs(argv: list[str]) -> dict:
    return configs_from_args(build_parser().parse_args(argv))


def test_a_scheduler_address_alone_picks_the_dask_runner(monkeypatch, tmp_path):
    from entrypoints.cli import build_parser
    from entrypoints.options import configs_from_args

    parser = build_parser()
    argv = ["run", "--dask-address", "tcp://scheduler:8786", "--data-dir", str(tmp_path)]
    configs = configs_from_args(parser.parse_args(argv))
    assert configs["runner"].runner == "dask"
    assert configs["runner"].dask_address == "tcp://scheduler:8786"
    argv = ["run", "--data-dir", str(tmp_path)]
    assert configs_from_args(parser.parse_args(argv))["runner"].runner == "sequential"


def test_invalid_reviews_flag_reaches_the_config(capsys):
    parser = build_parser()

    assert configs_from_args(parser.parse_args(["run"]))["preprocess"].invalid_reviews == "fail"
    skip = configs_from_args(parser.parse_args(["run", "--invalid-reviews", "skip"]))
    assert skip["preprocess"].invalid_reviews == "skip"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--invalid-reviews", "ignore"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'ignore'" in capsys.readouterr().err


def test_best_profile_sets_its_values_and_flags_given_override_them():
    best = PROFILES["best"].settings
    configs = _configs(["run", "--profile", "best", "--epochs", "3", "--maxlen", "300"])
    assert (
        configs["training"].epochs == 3 != best["training"]["epochs"]
    )  # given on the command line
    assert configs["preprocess"].maxlen == 300  # given on the command line
    assert configs["preprocess"].vocab_size == best["preprocess"]["vocab_size"]
    assert configs["training"].architectures == best["training"]["architectures"]
    assert configs["model"].pooling == best["model"]["pooling"]
    assert configs["model"].bigram_buckets == best["model"]["bigram_buckets"] > 0
    assert configs["training"].ensemble_folds == best["training"]["ensemble_folds"] > 1
    words_only = _configs(["run", "--profile", "best", "--bigram-buckets", "0"])
    assert words_only["model"].bigram_buckets == 0
    assert configs["training"].stack is True
    one_model = _configs(["run", "--profile", "best", "--ensemble-folds", "1"])
    assert one_model["training"].ensemble_folds == 1 and one_model["training"].stack is False
    compact = _configs(["run", "--profile", "compact"])["training"]
    assert compact.ensemble_folds == 1 and compact.stack is False
    assert compact.architectures == best["training"]["architectures"]
    assert configs["model"].skip_padding is True and configs["preprocess"].padding == "post"
    lazy = _configs(["run", "--profile", "best", "--lazy-embeddings"])
    assert lazy["training"].lazy_embeddings is True
    assert configs["training"].lazy_embeddings is False
    full_width = _configs(["run", "--profile", "best", "--no-skip-padding"])
    assert full_width["model"].skip_padding is False
    seed = _configs(["run", "--epochs", "1"])
    assert seed["preprocess"].vocab_size == 10_000 and seed["model"].pooling == "last"
    assert seed["model"].bigram_buckets == 0 and seed["model"].skip_padding is False
    assert _configs(["run", "--skip-padding"])["model"].skip_padding is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0"], "--seeds"),
        (["--ensemble-folds", "0"], "--ensemble-folds"),
        (["--profile", "fastest"], "invalid choice"),
        (["--stack"], "--stack"),
        (["--xla", "maybe"], "invalid choice"),
        (["--early-stopping", "0"], "--early-stopping"),
        (["--min-improvement", "lots"], "--min-improvement: must be 'significant' or a number"),
        (["--bootstrap", "-5"], "--bootstrap"),
        (["--min-improvement", "significant", "--bootstrap", "0"], "--bootstrap 0 turns off"),
    ],
)
def test_wrong_values_are_refused_before_anything_runs(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) if "invalid choice" in message else nullcontext():
        code = main(["run", "--data-dir", str(tmp_path), *argv])
        assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


ALL_OPTIONS = [option for options in RUN_GROUPS.values() for option in options]


def _run_help() -> str:
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices["run"].format_help()


def _squeezed(text: str) -> str:
    """``text`` without whitespace: argparse wraps the help at any space or hyphen."""
    return "".join(text.split())


def test_every_run_option_names_a_field_of_its_section():
    for option in ALL_OPTIONS:
        assert option.field in SECTIONS[option.section].model_fields, option
        assert option.flag.startswith("--"), option
    assert len({option.flag for option in ALL_OPTIONS}) == len(ALL_OPTIONS)
    assert len({option.dest for option in ALL_OPTIONS}) == len(ALL_OPTIONS)
    for option in ALL_OPTIONS:
        if option.switches_off:  # a --no- flag turns a switch off
            assert SECTIONS[option.section].model_fields[option.field].default is True, option


@pytest.mark.parametrize("option", ALL_OPTIONS, ids=lambda option: option.flag)
def test_run_help_shows_each_field_description_and_default(option):
    field = SECTIONS[option.section].model_fields[option.field]
    shown = _squeezed(_run_help())
    assert option.flag in shown
    assert field.description, f"{option.dest} has no description for --help"
    description = field.description.rstrip(".")
    if option.switches_off:
        expected = f"do not {description[0].lower()}{description[1:]}"
    elif field.default is None:
        expected = description
        assert _squeezed(description + " (default:") not in shown
    else:
        default = field.default
        value = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        expected = f"{description} (default: {value})"
    assert _squeezed(expected) in shown


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("(default: 2)", "--epochs"),
        ("(default: 64)", "--batch-size"),
        ("(default: 0.001)", "--learning-rate"),
        ("(default: simple_rnn,lstm,gru)", "--archs"),
        ("(default: 10,50,100,200)", "--claims-distances"),
        ("(default: 10000)", "--vocab-size"),
        ("(default: auto)", "--xla"),
        ("(default: False)", "--retrain"),
    ],
)
def test_run_help_shows_the_seed_notes_defaults(text, flag):
    lines = _run_help().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(flag))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("--")), len(lines)
    )
    assert _squeezed(text) in _squeezed(" ".join(lines[start:end]))


def test_no_flags_give_exactly_the_config_defaults():
    configs = _configs(["run"])
    assert list(configs) == list(SECTIONS)
    for section, config_type in SECTIONS.items():
        assert configs[section] == config_type(), section
        assert configs[section].model_dump() == config_type().model_dump(), section


@pytest.mark.parametrize(
    "option", [o for o in ALL_OPTIONS if o.switches_off], ids=lambda option: option.flag
)
def test_a_no_flag_turns_its_step_off_and_nothing_else(option):
    configs = _configs(["run", option.flag])
    assert getattr(configs[option.section], option.field) is False
    for section, config_type in SECTIONS.items():
        if section != option.section:
            assert configs[section] == config_type(), section


def test_no_claims_turns_the_claims_off():
    assert _configs(["run"])["claims"].enabled is True
    claims = _configs(["run", "--no-claims"])["claims"]
    assert claims.enabled is False
    assert claims.model_dump() == {**ClaimsConfig().model_dump(), "enabled": False}


def test_retrain_and_threads_land_in_execution_not_in_training():
    configs = _configs(["run", "--retrain", "--threads", "2"])
    assert configs["execution"].retrain is True
    assert configs["execution"].threads == 2
    assert configs["training"].model_dump() == TrainingConfig().model_dump()
    assert "retrain" not in configs["training"].model_dump()
    assert _configs(["run", "--no-retrain"])["execution"].retrain is False


def test_memory_budget_lands_in_execution_and_is_not_part_of_a_models_identity():
    configs = _configs(["run", "--memory-budget", "64"])
    assert configs["execution"].memory_budget_mib == 64
    assert configs["training"].model_dump() == TrainingConfig().model_dump()
    assert _configs(["run"])["execution"].memory_budget_mib == 1024


def test_report_flags_reach_the_report_config():
    configs = _configs(["run", "--bootstrap", "0", "--confidence", "0.9", "--error-examples", "2"])
    report = configs["report"]
    assert (report.bootstrap, report.confidence, report.error_examples) == (0, 0.9, 2)
    significant = _configs(["run", "--min-improvement", "significant"])
    assert significant["champion"].min_improvement == "significant"
    assert _configs(["run", "--min-improvement", "0.01"])["champion"].min_improvement == 0.01
