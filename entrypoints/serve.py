"""``imdb-rnn serve``: weekly retraining from this process, without a work pool or a worker.

The flow's ``serve`` registers a deployment with a cron schedule on the Prefect server and runs
each scheduled run in a subprocess of this one. Schedules only fire on a real server
(``prefect server start``), never on the temporary one a plain ``imdb-rnn run`` starts, so the
server is checked first and a missing one is reported at once instead of hanging.

Nothing here imports TensorFlow, and Prefect is imported only once serving starts.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import urllib.error
import urllib.request
import zoneinfo
from typing import Any

from entrypoints.options import Option, add_options, build_config
from imdb_rnn.errors import ConfigError, ImdbRnnError
from imdb_rnn.storage import DataStore

PROG = "imdb-rnn"
DEPLOYMENT_NAME = "weekly-retrain"
DEFAULT_CRON = "0 3 * * 1"  # Mondays at 03:00, as in prefect.yaml
DEFAULT_TIMEZONE = "UTC"
HEALTH_TIMEOUT_SECONDS = 3.0
LOCAL_API_URL = "http://127.0.0.1:4200/api"
START_SERVER_HINT = (
    "start one with 'prefect server start --host 127.0.0.1 --port 4200' and "
    f"export PREFECT_API_URL={LOCAL_API_URL}"
)


class ServerUnavailableError(ImdbRnnError):
    """No Prefect server answers at ``PREFECT_API_URL``."""


SOURCE_OPTIONS = (Option("source", "source", "--source"), Option("source", "sha256", "--sha256"))


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the description's line breaks."""


def add_serve_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to the CLI's subparsers."""
    serve = commands.add_parser(
        "serve",
        help="retrain on a cron schedule from this process (needs a running Prefect server)",
        description=(
            "Serve the comparison flow as the deployment 'compare-architectures/<name>' with a\n"
            "cron schedule; each scheduled run trains the seed architectures again (the\n"
            "download and the prepared data are reused). Keep this process running; Ctrl-C\n"
            "stops it and pauses the schedule.\n\n"
            "Needs a running Prefect server, found through PREFECT_API_URL in the environment:\n"
            "  prefect server start --host 127.0.0.1 --port 4200\n"
            f"  export PREFECT_API_URL={LOCAL_API_URL}\n"
            "Without one it stops at once with an error."
        ),
        formatter_class=_HelpFormatter,
    )
    serve.add_argument(
        "--cron", default=DEFAULT_CRON, help="when to retrain (cron: minute hour day month weekday)"
    )
    serve.add_argument(
        "--timezone", default=DEFAULT_TIMEZONE, help="IANA time zone of --cron, e.g. Europe/Berlin"
    )
    serve.add_argument(
        "--name",
        default=DEPLOYMENT_NAME,
        help="deployment name; the default replaces prefect.yaml's worker-based deployment",
    )
    serve.add_argument(
        "--data-dir", default="data", help="where caches, models and reports go (made absolute)"
    )
    add_options(serve, SOURCE_OPTIONS)
    return serve


def served_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The deployment's default parameters; raise ``ConfigError`` naming a bad option."""
    given = vars(args)
    source = build_config(
        "source",
        {option.field: given[option.dest] for option in SOURCE_OPTIONS if option.dest in given},
    )
    try:
        zoneinfo.ZoneInfo(args.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"--timezone: unknown time zone {args.timezone!r}; use an IANA name such as UTC "
            "or Europe/Berlin"
        ) from None
    store = DataStore.open(args.data_dir)
    parameters: dict[str, Any] = {
        # Scheduled runs train again; the download and the prepared data are reused.
        "execution": {"retrain": True},
        # Absolute, so the runs write where the user meant whatever their working directory.
        "data_dir": store.location if store.is_remote else str(store.local_root),
    }
    if changed := source.model_dump(mode="json", exclude_defaults=True):
        parameters["source"] = changed  # otherwise the flow's default: the canonical URL
    return parameters


def check_server(api_url: str | None, timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
    """Return when ``GET {api_url}/health`` answers ``true``; raise ``ServerUnavailableError``.

    The request runs in a daemon thread with a deadline, so a slow name lookup or a server that
    accepts the connection but never answers cannot block the caller either.
    """
    if not api_url:
        raise ServerUnavailableError(
            f"'{PROG} serve' needs a running Prefect server and PREFECT_API_URL is not set; "
            f"{START_SERVER_HINT}"
        )
    url = api_url.rstrip("/") + "/health"
    outcome: dict[str, str] = {}

    def probe() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read(64).strip()
        except urllib.error.HTTPError as error:
            outcome["problem"] = f"HTTP {error.code}; does the URL end in /api?"
        except (urllib.error.URLError, OSError, ValueError) as error:
            outcome["problem"] = str(getattr(error, "reason", error))
        else:
            if body != b"true":
                outcome["problem"] = f"it answered {body[:40]!r}, not a Prefect health check"
            else:
                outcome["ok"] = "true"

    thread = threading.Thread(target=probe, name="prefect-health-check", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if "ok" not in outcome:
        problem = outcome.get("problem", f"no answer within {timeout:g} s")
        raise ServerUnavailableError(
            f"'{PROG} serve' needs a running Prefect server, and none answers at {url} "
            f"({problem}); {START_SERVER_HINT}"
        )


def serve_command(args: argparse.Namespace) -> int:
    """Check the options and the server, then serve until interrupted."""
    parameters = served_parameters(args)
    try:
        check_server(os.environ.get("PREFECT_API_URL"))
    except ServerUnavailableError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    # Scheduled runs are subprocesses of this one and inherit its environment.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from prefect.schedules import Cron

    from flows.compare import compare_architectures

    try:
        schedule = Cron(args.cron, timezone=args.timezone)
    except ValueError as error:
        raise ConfigError(f"--cron: {error}") from None
    compare_architectures.serve(
        name=args.name,
        schedules=[schedule],
        parameters=parameters,
        description=f"Retrains every architecture on a schedule ({args.cron}, {args.timezone}); "
        f"served by '{PROG} serve'.",
        global_limit=1,  # like prefect.yaml: two retrains never overlap
    )
    return 0
