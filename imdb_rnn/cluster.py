"""The task runner the training fan-out uses, and the CPU threads each training gets.

Dask is an optional extra: it is imported only when a run asks for it, and a clear error
names the install command when it is missing.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from imdb_rnn.config import ExecutionConfig, RunnerConfig
from imdb_rnn.errors import ConfigError

DASK_INSTALL = "pip install 'imdb-rnn[dask]'"

log = logging.getLogger(__name__)


def require_dask() -> None:
    """Raise ``ConfigError`` with the install command when prefect-dask is not installed."""
    try:
        import distributed  # noqa: F401
        import prefect_dask  # noqa: F401
    except ImportError as error:
        raise ConfigError(
            f"--runner dask needs the optional Dask dependencies, which are not installed "
            f"({error}); install them with: {DASK_INSTALL} (or use --runner sequential)"
        ) from error


def task_runner(config: RunnerConfig) -> Any:
    """A Prefect task runner for ``config``: one task at a time, or a Dask cluster."""
    if config.runner == "sequential":
        from prefect.task_runners import ThreadPoolTaskRunner

        # One worker thread: trainings use every core, so two at once would only thrash.
        return ThreadPoolTaskRunner(max_workers=1)
    require_dask()
    from prefect_dask import DaskTaskRunner

    api_url = _flow_api_url()
    if config.dask_address:
        if _temporary_server():
            log.warning(
                "This run reports to a temporary Prefect server (%s) that the workers of "
                "%s cannot know of, so their task runs will not show beside this flow run. "
                "Start a Prefect server and set PREFECT_API_URL here and on every worker "
                "(README: Running on a cluster).",
                api_url,
                config.dask_address,
            )
        return DaskTaskRunner(address=config.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": config.workers,
            "threads_per_worker": config.tasks_per_worker,
            "processes": True,  # TensorFlow holds the GIL in places; threads would serialise
            "dashboard_address": ":0",
            # Without it each worker would start a temporary Prefect server of its own, and
            # the task runs would be recorded there instead of beside this flow run.
            "env": {"PREFECT_API_URL": api_url} if api_url else {},
        },
    )


def _flow_api_url() -> str | None:
    """The Prefect API the running flow reports to (a temporary server's too); else None."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.client is None:
        return None
    return str(context.client.api_url).rstrip("/")


def _temporary_server() -> bool:
    """True when no PREFECT_API_URL is set, so Prefect started a server for this process."""
    from prefect.settings import get_current_settings

    return not get_current_settings().api.url


def tensorflow_threads(config: RunnerConfig, execution: ExecutionConfig) -> int:
    """TensorFlow threads for each training: the user's ``--threads``, else a fair share.

    A local cluster splits this machine's cores between the tasks that run at once, so that
    N trainings do not each start one thread per core. On an existing cluster the flow
    cannot see the workers' machines, so their share is ``--threads`` (0 = all cores).
    """
    if execution.threads or config.runner != "dask" or config.dask_address:
        return execution.threads
    concurrent = config.workers * config.tasks_per_worker
    return max(1, (os.cpu_count() or 1) // concurrent)


def worker_name() -> str:
    """``host/pid`` of the process running a task, so results show where they were made."""
    return f"{socket.gethostname()}/{os.getpid()}"
