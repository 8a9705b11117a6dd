"""Real Prefect servers for the tests that need one: a free port, an isolated home, and a
process group that is stopped with everything it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

SERVER_STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen[Any]) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def isolated_env(home: Path) -> dict[str, str]:
    """This process's environment without its PREFECT_* settings, with a home of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="3",
        COLUMNS="200",  # rich wraps CLI tables to the terminal width
    )
    return env


def wait_until_healthy(process: subprocess.Popen[Any], api_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prefect server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.read().strip() == b"true":
                    return
        except OSError:  # refused, reset or timed out while it starts
            pass
        time.sleep(1)
    pytest.fail(f"no /api/health after {SERVER_STARTUP_SECONDS} s:\n{log.read_text()[-4000:]}")
