"""The temporary Prefect server of a run when no ``PREFECT_API_URL`` is set.

Prefect would start one itself, as a plain child process: in the terminal's process group,
so Ctrl-C kills it mid-run and the flow engine then retries for minutes against a dead API;
and a ``kill -9`` of the command leaves it running. This one runs the very same uvicorn
command, but in a session of its own (the terminal's Ctrl-C does not reach it) and with a
parent-death signal (it goes when the command goes, however that ends).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

# uvicorn's exit status when its port was taken meanwhile.
_PORT_IN_USE = 3
_PR_SET_PDEATHSIG = 1


@contextlib.contextmanager
def prefect_api(
    meanwhile: Callable[[], None] = lambda: None,
) -> Iterator[subprocess.Popen[Any] | None]:
    """Point Prefect at a temporary server for the block, unless an API is configured.

    Yields the server's process, or None when ``PREFECT_API_URL`` (or the Prefect
    profile) names a server already. ``meanwhile`` runs while the server starts up.
    """
    from prefect.context import refresh_global_settings_context
    from prefect.logging import get_logger
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.settings import get_current_settings

    ensure_logging_setup()  # so that the line saying where the server is shows

    settings = get_current_settings()
    if settings.api.url:
        meanwhile()
        yield None
        return
    environment = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **settings.to_environment_variables(exclude_unset=True),
    }
    port = _free_port()
    server = _start(port, environment)
    logger = get_logger()
    logger.info("Starting temporary server on http://127.0.0.1:%d", port)
    try:
        meanwhile()
        while (port := _wait_until_healthy(server, port, settings)) is None:
            port = _free_port()
            server = _start(port, environment)
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        # Prefect read its settings when imported; threads without a settings context of
        # their own (its log and event workers) read this global one.
        refresh_global_settings_context()
        yield server
    finally:
        send_pending_logs_and_events()
        os.environ.pop("PREFECT_API_URL", None)
        refresh_global_settings_context()
        logger.info("Stopping temporary server on http://127.0.0.1:%d", port)
        stop(server)


def send_pending_logs_and_events(timeout: float = 5.0) -> None:
    """Let Prefect's background workers send what they hold while the server still runs.

    Prefect does this at exit, which for its own temporary server comes before the server
    stops; this one stops when the block ends.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout, at_exit=False)


def stop(server: subprocess.Popen[Any], wait: float = 5.0) -> None:
    """Terminate ``server``; kill it if it has not gone after ``wait`` seconds."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _start(port: int, environment: dict[str, str]) -> subprocess.Popen[Any]:
    import prefect

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def die_with_parent() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(prefect.__module_path__.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        env=environment,
        start_new_session=True,
        # The signal is sent when the thread that started the server ends: the main thread.
        preexec_fn=die_with_parent if sys.platform == "linux" else None,
    )


def _wait_until_healthy(server: subprocess.Popen[Any], port: int, settings: Any) -> int | None:
    """``port`` once the server answers there; None if the port was taken meanwhile."""
    import httpx

    timeout = settings.server.ephemeral.startup_timeout_seconds
    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            status = server.poll()
            if status == _PORT_IN_USE:
                return None
            if status is not None:
                raise RuntimeError(f"the temporary Prefect server exited with status {status}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    return port
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(
        f"the temporary Prefect server did not answer within {timeout} s; raise "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS or set PREFECT_API_URL"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
