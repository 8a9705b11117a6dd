"""``imdb-rnn serve``: a missing server is reported at once; the served flow validates."""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from entrypoints.cli import build_parser
from entrypoints.serve import ServerUnavailableError, check_server, served_parameters
from tests.conftest import PROJECT_ROOT

HINT = "prefect server start"


EXPORT = "export PREFECT_API_URL=http://127.0.0.1:4200/api"


def run_serve(*args: str, api_url: str | None) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "serve", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    return result, time.monotonic() - started


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for connection in accepted:
            connection.close()
        listener.close()


def assert_one_line_hint(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imdb-rnn: error: 'imdb-rnn serve' needs a running Prefect server")
    assert HINT in lines[0] and EXPORT in lines[0]


def test_serve_without_prefect_api_url_exits_at_once():
    result, seconds = run_serve(api_url=None)
    assert_one_line_hint(result)
    assert "PREFECT_API_URL is not set" in result.stderr
    assert seconds < 10


def test_serve_with_nothing_listening_exits_at_once():
    url = f"http://127.0.0.1:{closed_port()}/api"
    result, seconds = run_serve(api_url=url)
    assert_one_line_hint(result)
    assert f"none answers at {url}/health" in result.stderr
    assert seconds < 10


def test_serve_gives_up_on_a_server_that_never_answers(silent_server):
    result, seconds = run_serve(api_url=f"http://127.0.0.1:{silent_server}/api")
    assert_one_line_hint(result)
    assert "timed out" in result.stderr or "no answer within" in result.stderr
    assert seconds < 10


def test_check_server_explains_a_url_without_api(tmp_path):
    # Any HTTP server that is not Prefect's API: this one answers 404 to /health.
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(ServerUnavailableError, match="HTTP 404; does the URL end in /api"):
            check_server(f"http://127.0.0.1:{server.server_address[1]}", timeout=2)
    finally:
        server.shutdown()
        server.server_close()


def test_serve_help_says_it_needs_a_server_and_imports_nothing_heavy():
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['imdb-rnn', 'serve', '--help']\n"
        "try:\n    runpy.run_module('entrypoints.cli', run_name='__main__')\n"
        "except SystemExit as exit_:\n    assert exit_.code == 0, exit_.code\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'prefect') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())
    assert "Needs a running Prefect server" in help_text
    assert "prefect server start --host 127.0.0.1 --port 4200" in help_text
    assert EXPORT in help_text
    for option in ("--cron", "--timezone", "--data-dir", "--source", "--sha256"):
        assert option in help_text
    assert "0 3 * * 1" in help_text  # the same default as prefect.yaml's weekly-retrain


def test_bad_options_are_refused_before_the_server_is_checked():
    result, _ = run_serve("--timezone", "Mars/Olympus", api_url=None)
    assert result.returncode == 2
    assert result.stderr.startswith("imdb-rnn: error: --timezone: unknown time zone 'Mars/Olympus'")
    result, _ = run_serve("--sha256", "xyz", api_url=None)
    assert result.returncode == 2
    assert result.stderr.startswith("imdb-rnn: error: --sha256: sha256 must be 64 hex digits")


def test_served_parameters_retrain_and_make_the_data_dir_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["serve", "--data-dir", "runs", "--source", "/reviews/aclImdb", "--sha256", "AB" * 32]
    )
    assert served_parameters(args) == {
        "source": {"source": "/reviews/aclImdb", "sha256": "ab" * 32},
        "execution": {"retrain": True},
        "data_dir": str(tmp_path.resolve() / "runs"),
    }
    defaults = served_parameters(build_parser().parse_args(["serve"]))
    assert "source" not in defaults  # the flow's own default: the canonical URL and checksum


def test_the_served_flow_still_validates_its_parameters_in_a_fresh_process(tmp_path):
    # `serve` ships the flow to each run's subprocess with cloudpickle, by value; string
    # annotations would not resolve there ("`SourceConfig` is not fully defined").
    pickled = tmp_path / "flow.pkl"
    dump = (
        "import pathlib, cloudpickle\n"
        "from flows.compare import compare_architectures\n"
        f"pathlib.Path({str(pickled)!r}).write_bytes(cloudpickle.dumps(compare_architectures))\n"
    )
    load = (
        "import pathlib, cloudpickle\n"
        f"flow = cloudpickle.loads(pathlib.Path({str(pickled)!r}).read_bytes())\n"
        "values = flow.validate_parameters({'training': {'retrain': True}, 'data_dir': 'd'})\n"
        "assert values['training'].execution(values['execution']).retrain is True\n"
        "assert type(values['source']).__name__ == 'SourceConfig', values\n"
    )
    for probe in (dump, load):
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-3000:]
