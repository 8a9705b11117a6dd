"""Stopping a run when its user asks (Ctrl-C) or when one of its steps failed, and knowing
what it was doing then.

The command line's interrupt handler calls ``request_stop``; training checks
``raise_if_stop_requested`` after every batch, because a Keras fit in a task runner's worker
thread never sees the main thread's ``KeyboardInterrupt``. What a training had finished stays
on disk, so the next run resumes from it.

A flow run that fails calls ``abandon_run``: the work it started beside its steps (the
claims' synthetic task) stops at its next check instead of holding the failed run open
until it is done.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from imdb_rnn.errors import ImdbRnnError

_stop = threading.Event()
_lock = threading.Lock()
# What each training in this process is doing now: its name -> (epoch, epochs).
_training: dict[str, tuple[int, int]] = {}
# Flow runs that failed: the ids whose work beside the steps stops at its next check.
_abandoned_runs: set[str] = set()


class RunInterrupted(ImdbRnnError):
    """The user asked the run to stop; what was finished is kept for the next run."""


def request_stop() -> None:
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


def clear_stop_request() -> None:
    """Let this process run again after a stop (tests calling the command in-process)."""
    _stop.clear()


def abandon_run(run_id: str) -> None:
    """The flow run ``run_id`` failed: what it started beside its steps may stop."""
    with _lock:
        _abandoned_runs.add(run_id)


def raise_if_stop_requested(doing: str, run_id: str | None = None) -> None:
    """Raise ``RunInterrupted`` after a Ctrl-C, or when the flow run ``run_id`` failed."""
    if _stop.is_set():
        raise RunInterrupted(f"interrupted during {doing}; run again to resume")
    if run_id is not None:
        with _lock:
            abandoned = run_id in _abandoned_runs
        if abandoned:
            raise RunInterrupted(f"stopped during {doing}: a step of its run failed")


@contextlib.contextmanager
def training(name: str) -> Iterator[None]:
    """Mark ``name`` as training in this process for as long as the block runs.

    A training that was interrupted stays marked, so that the run's last word can say
    where it stopped.
    """
    interrupted = False
    try:
        yield
    except RunInterrupted:
        interrupted = True
        raise
    finally:
        if not interrupted:
            with _lock:
                _training.pop(name, None)


def training_epoch(name: str, epoch: int, epochs: int) -> None:
    """Record that ``name`` is now in ``epoch`` (counted from 1) of ``epochs``."""
    with _lock:
        _training[name] = (epoch, epochs)


def trainings_in_progress() -> list[str]:
    """What trains now, e.g. ``["lstm epoch 2"]``."""
    with _lock:
        return [f"{name} epoch {epoch}" for name, (epoch, _) in _training.items()]
