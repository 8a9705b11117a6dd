"""What `imdb-rnn` shows on a terminal, and how it stops: real commands in real processes.

These runs start their own temporary Prefect server (no PREFECT_API_URL), as a new user's
would, and take Ctrl-C and ``kill -9`` as a terminal would deliver them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imdb_rnn.errors import DataSourceError
from tests.conftest import PROJECT_ROOT, make_aclimdb, make_tarball

TRACEBACK = "Traceback (most recent call last)"
TENSORFLOW_START_UP = re.compile(
    r"absl::InitializeLog|cuda drivers|cuInit|cuDNN|cuFFT|cuBLAS|oneDNN|cpu_feature_guard"
)
TINY_MODEL = [
    "--archs",
    "lstm",
    "--vocab-size",
    "60",
    "--maxlen",
    "30",
    "--embedding-dim",
    "8",
    "--units",
    "8",
    "--batch-size",
    "8",
    "--no-claims",
]


def own_server_environment(tmp_path: Path) -> dict[str, str]:
    """The test's environment without the harness's API, so the command starts its own."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "entrypoints.cli", *args]


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper has finished)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def uvicorn_child(pid: int, timeout: float = 60) -> int:
    """The temporary Prefect server that process ``pid`` started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(pid):
            try:
                if b"uvicorn" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return child
            except OSError:
                continue
        time.sleep(0.1)
    raise AssertionError(f"process {pid} started no uvicorn server within {timeout} s")


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("tiny-archive")
    make_aclimdb(base / "source", per_label=40)
    archive = base / "reviews.tar.gz"
    return archive, make_tarball(base / "source", archive)


@pytest.mark.slow
def test_expected_error_is_one_line_and_its_traceback_shows_only_with_debug(tmp_path):
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08 this is no archive " * 200)
    sha256 = hashlib.sha256(corrupt.read_bytes()).hexdigest()
    command = cli("run", "--source", str(corrupt), "--sha256", sha256, "--no-claims")
    env = own_server_environment(tmp_path)
    outputs = {}
    for name, extra in (("plain", []), ("debug", ["--debug"])):
        done = subprocess.run(
            [*command, "--data-dir", str(tmp_path / name), *extra],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 1, done.stderr[-3000:]
        outputs[name] = done.stdout + done.stderr
        error_lines = [
            line for line in done.stderr.splitlines() if line.startswith("imdb-rnn: error: ")
        ]
        assert len(error_lines) == 1 and "is not a readable .tar.gz" in error_lines[0]
    assert TRACEBACK not in outputs["plain"], outputs["plain"][-3000:]
    assert outputs["debug"].count(TRACEBACK) >= 2  # the task's and the flow's log lines
    assert "DataSourceError" in outputs["debug"]
    assert not TENSORFLOW_START_UP.search(outputs["plain"]), outputs["plain"][-3000:]


def test_the_command_ends_with_its_status_and_every_line_it_wrote_into_a_pipe(tmp_path):
    """The command leaves without Python's teardown (os._exit): what it printed into a pipe,
    which holds it until flushed, must still arrive, with the status main() returned."""

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli(*args), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
        )

    shown = command("--help")
    assert shown.returncode == 0 and shown.stdout.startswith("usage: imdb-rnn")
    assert all(name in shown.stdout for name in ("run", "report", "predict", "serve"))
    wrong = command("run", "--epochs", "x")
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines()[-1] == (
        "imdb-rnn run: error: argument --epochs: invalid int value: 'x'"
    )
    missing = command("report", "no-such-run", "--data-dir", str(tmp_path))
    assert missing.returncode == 1
    assert missing.stderr.startswith("imdb-rnn: error: no report for run 'no-such-run'")


def test_only_expected_errors_lose_their_traceback_and_only_on_the_console():
    from prefect.logging.handlers import PrefectConsoleHandler

    from entrypoints.terminal import expected_errors_without_tracebacks

    console_stream, api_stream = io.StringIO(), io.StringIO()
    console = PrefectConsoleHandler(stream=console_stream)
    console.setFormatter(logging.Formatter("%(message)s"))
    api_like = logging.StreamHandler(api_stream)  # stands in for the API's handler
    logger = logging.getLogger("imdb-rnn-test-terminal")
    logger.addHandler(api_like)
    root = logging.getLogger()
    root.addHandler(console)
    try:
        with expected_errors_without_tracebacks():
            for error in (DataSourceError("corrupt archive"), ZeroDivisionError("a bug")):
                try:
                    raise error
                except Exception:
                    logger.error("failed: %s", error, exc_info=True)
    finally:
        root.removeHandler(console)
        logger.removeHandler(api_like)
    shown = console_stream.getvalue()
    assert "failed: corrupt archive" in shown and "failed: a bug" in shown
    assert shown.count(TRACEBACK) == 1 and "ZeroDivisionError: a bug" in shown
    assert "DataSourceError: corrupt archive" not in shown
    sent = api_stream.getvalue()
    assert sent.count(TRACEBACK) == 2 and "DataSourceError: corrupt archive" in sent


def start_in_own_session(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start ``command`` as a terminal starts a foreground job: its own process group."""
    with log.open("w") as sink:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_line(pattern: str, log: Path, process: subprocess.Popen, timeout: float = 180) -> str:
    """The first match of ``pattern`` in the log of ``process``, once it is written."""
    deadline = time.monotonic() + timeout
    while not (found := re.search(pattern, log.read_text())):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)
    return found.group(0)


@pytest.mark.slow
def test_ctrl_c_stops_at_once_the_next_run_resumes_and_a_second_ctrl_c_ends_it_at_once(
    tmp_path, tiny_archive
):
    archive, sha256 = tiny_archive
    command = cli(
        "run",
        "--source",
        str(archive),
        "--sha256",
        sha256,
        "--data-dir",
        str(tmp_path / "data"),
        "--epochs",
        "40",
        *TINY_MODEL,
    )
    env = own_server_environment(tmp_path)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_in_own_session(command, env, first_log)
    try:
        server = uvicorn_child(first.pid)
        wait_for_line("lstm epoch 1/40", first_log, first)
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(first.pid, signal.SIGINT)
        interrupted_at = time.monotonic()
        assert first.wait(timeout=15) == 130, first_log.read_text()[-3000:]
        assert time.monotonic() - interrupted_at < 10
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    output = first_log.read_text()
    said = re.findall(
        r"^imdb-rnn: interrupted during lstm epoch (\d+); run again to resume$", output, re.M
    )
    assert len(said) == 1, output[-3000:]
    assert TRACEBACK not in output, output[-3000:]
    # The server outlived the terminal's Ctrl-C, so the flow run could be marked as ended.
    assert "Finished in state Crashed('Execution was aborted by an interrupt signal.')" in output
    assert wait_gone([server], 5) == [] and group_members(first.pid) == []

    second = start_in_own_session(command, env, second_log)
    try:
        server = uvicorn_child(second.pid)
        resumed = wait_for_line(r"Resuming lstm after epoch \d+ of 40", second_log, second)
        # It resumes after the last epoch that finished, the one before the interrupted one.
        done_before = int(said[0]) - 1
        assert resumed == f"Resuming lstm after epoch {done_before} of 40"
        wait_for_line(f"lstm epoch {done_before + 1}/40", second_log, second)
        os.killpg(second.pid, signal.SIGINT)
        time.sleep(0.05)
        os.killpg(second.pid, signal.SIGINT)
        assert second.wait(timeout=5) == 130
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    output = second_log.read_text()
    # The second Ctrl-C cut the orderly way out (flow run marked, server stopped) short.
    assert "Stopping temporary server" not in output, output[-3000:]
    assert len(re.findall(r"^imdb-rnn: interrupted during lstm epoch \d+;", output, re.M)) == 1
    assert wait_gone([server], 5) == [] and group_members(second.pid) == []


@pytest.mark.slow
def test_the_temporary_server_goes_when_the_command_is_killed(tmp_path, tiny_archive):
    archive, sha256 = tiny_archive
    run = subprocess.Popen(
        cli("run", "--source", str(archive), "--sha256", sha256, "--data-dir", str(tmp_path)),
        cwd=PROJECT_ROOT,
        env=own_server_environment(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        server = uvicorn_child(run.pid)
        run.kill()
        run.wait(timeout=10)
        assert wait_gone([server], 5) == []
    finally:
        if run.poll() is None:
            run.kill()
