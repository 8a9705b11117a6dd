"""The run options: made from the config fields, a profile's values under the flags given."""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from entrypoints.cli import build_parser, main
from entrypoints.options import configs_from_args
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
    one_model = _configs(["run", "--profile", "best", "--ensemble-folds", "1"])
    assert one_model["training"].ensemble_folds == 1
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
        (["--xla", "maybe"], "invalid choice"),
        (["--early-stopping", "0"], "--early-stopping"),
    ],
)
def test_wrong_values_are_refused_before_anything_runs(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) if "invalid choice" in message else nullcontext():
        code = main(["run", "--data-dir", str(tmp_path), *argv])
        assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()
