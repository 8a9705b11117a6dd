"""The command line: fast help, bad values refused before any work starts, the report command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from entrypoints.cli import build_parser, main
from entrypoints.options import configs_from_args
from tests.conftest import PROJECT_ROOT


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
    )


@pytest.fixture
def finished_run(tmp_path):
    from tasks.report import write_report_files
    from tests.samples import EVALUATIONS, RUN_INFO

    data_dir = tmp_path / "data"
    write_report_files("20260101T000000Z-old", EVALUATIONS[:2], RUN_INFO, data_dir / "reports")
    written = write_report_files(
        "20260102T000000Z-new", EVALUATIONS, RUN_INFO, data_dir / "reports"
    )
    return data_dir, written


@pytest.fixture
def without_dask(monkeypatch):
    # A None entry makes `import prefect_dask` raise ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "prefect_dask", None)


def test_help_lists_the_options_and_does_not_import_tensorflow_or_prefect():
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['imdb-rnn', 'run', '--help']\n"
        "try:\n    runpy.run_module('entrypoints.cli', run_name='__main__')\n"
        "except SystemExit as exit_:\n    assert exit_.code == 0, exit_.code\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'prefect') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for option in (
        "--archs",
        "--epochs",
        "--source",
        "--sha256",
        "--data-dir",
        "--max-reviews-per-split",
        "--stack",
    ):
        assert option in result.stdout
    # Every profile is named and described.
    help_text = " ".join(result.stdout.split())
    assert "--profile {seed,best,compact}" in help_text
    assert "best: a cross-validated ensemble of 10 bidirectional GRUs" in help_text
    assert "and their stack with NBSVM (--stack)" in help_text
    assert "compact: one bidirectional GRU of the best profile's shape" in help_text


def test_importing_the_flow_does_not_import_tensorflow():
    probe = (
        "import sys, flows.compare\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_defaults_are_the_seed_settings():
    configs = configs_from_args(build_parser().parse_args(["run"]))
    assert configs["training"].architectures == ("simple_rnn", "lstm", "gru")
    assert configs["preprocess"].maxlen == 200 and configs["preprocess"].vocab_size == 10_000
    assert configs["source"].source.startswith("https://ai.stanford.edu/")


@pytest.mark.parametrize(
    ("args", "flag", "shown"),
    [
        (["--archs", "lstm,transformer"], "--archs", "transformer"),
        (["--maxlen", "0"], "--maxlen", "0"),
        (["--vocab-size", "2"], "--vocab-size", "2"),
        (["--epochs", "0"], "--epochs", "0"),
        (["--validation-fraction", "1.0"], "--validation-fraction", "1.0"),
        (["--validation-fraction", "0"], "--validation-fraction", "0"),
        (["--sha256", "xyz"], "--sha256", "xyz"),
    ],
)
def test_invalid_values_fail_with_one_line_naming_the_flag(tmp_path, capsys, args, flag, shown):
    data_dir = tmp_path / "data"
    assert main(["run", "--data-dir", str(data_dir), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"imdb-rnn: error: {flag}:")
    assert shown in captured.err and captured.err.count("\n") == 1
    assert not data_dir.exists()


def test_lazy_embedding_updates_with_xla_on_are_refused_naming_both_flags(tmp_path, capsys):
    data_dir = tmp_path / "data"
    assert main(["run", "--data-dir", str(data_dir), "--lazy-embeddings", "--xla", "on"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("imdb-rnn: error: --lazy-embeddings trains without XLA")
    assert "drop --xla on or --lazy-embeddings" in error and error.count("\n") == 1
    assert not data_dir.exists()


def test_padding_side_must_be_pre_or_post(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--padding", "middle"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'middle'" in capsys.readouterr().err


def test_invalid_value_exits_non_zero_from_the_shell(tmp_path):
    result = run_cli("run", "--archs", "cnn", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("imdb-rnn: error: --archs: unknown architecture 'cnn'")
    )
    assert not (tmp_path / "d").exists()


def test_unknown_option_is_refused():
    result = run_cli("run", "--epochz", "3")
    assert result.returncode == 2
    assert "unrecognized arguments: --epochz" in result.stderr


def test_report_prints_the_latest_table_and_the_report_path(finished_run, capsys):
    data_dir, written = finished_run
    assert main(["report", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run 20260102T000000Z-new")
    assert "tfidf_logreg" in out and "0.9000*" in out
    assert "Best model: tfidf_logreg" in out
    assert f"Report: {written.html_path.resolve()}" in out


def test_report_of_a_named_run(finished_run, capsys):
    data_dir, _ = finished_run
    assert main(["report", "20260101T000000Z-old", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "Best model: lstm" in out and "tfidf_logreg" not in out


def test_report_of_an_unknown_run_lists_the_known_ones(finished_run, capsys):
    data_dir, _ = finished_run
    assert main(["report", "nope", "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert "no report for run 'nope'" in err
    assert "20260101T000000Z-old, 20260102T000000Z-new" in err


def test_report_open_without_a_browser_says_where_the_file_is(finished_run, capsys, monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or False)
    data_dir, written = finished_run
    assert main(["report", "--open", "--data-dir", str(data_dir)]) == 0
    assert opened == [written.html_path.resolve().as_uri()]
    assert "No browser is available here" in capsys.readouterr().out


def test_report_command_does_not_import_prefect_or_tensorflow(finished_run):
    data_dir, _ = finished_run
    probe = (
        "import sys\nfrom entrypoints.cli import main\n"
        f"assert main(['report', '--data-dir', {str(data_dir)!r}]) == 0\n"
        "heavy = [m for m in ('prefect', 'tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_cli_refuses_dask_without_the_extra_before_any_work(without_dask, tmp_path, capsys):
    code = main(["run", "--runner", "dask", "--data-dir", str(tmp_path / "d")])
    assert code == 2
    error = capsys.readouterr().err
    assert "imdb-rnn[dask]" in error and "--runner sequential" in error
    assert not (tmp_path / "d").exists()
