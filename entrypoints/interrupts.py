"""Ctrl-C during a run: stop within seconds, say what was interrupted, exit with 130.

The first Ctrl-C asks the trainings to stop (they check after every batch, in whatever
thread the task runner gave them) and raises ``KeyboardInterrupt`` in the main thread, where
Prefect's engine marks the flow run crashed on the way out. Whatever still runs after
``GRACE_SECONDS``, or a second Ctrl-C, ends the process at once: what was finished is on disk
already, and the next run resumes from it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from imdb_rnn.stopping import clear_stop_request, request_stop, trainings_in_progress

INTERRUPTED = 128 + signal.SIGINT  # the status a shell gives a command that Ctrl-C ended
GRACE_SECONDS = 10.0


class Interrupt:
    """One run's Ctrl-C: the line that reports it, said once, and the way out."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.happened = False
        # Called before the process ends at once, e.g. to stop a server of its own.
        self.before_exit: Callable[[], None] = lambda: None
        self._said = False
        self._lock = threading.RLock()  # a second Ctrl-C may come while the line is said

    def say(self) -> None:
        """Print the line once; it names the epochs the trainings were in when they stopped."""
        with self._lock:
            if self._said:
                return
            self._said = True
            doing = trainings_in_progress()
            where = f" during {' and '.join(doing)}" if doing else ""
            # Not print(): inside a flow run, Prefect turns prints into log lines.
            sys.stderr.write(f"{self.prog}: interrupted{where}; run again to resume\n")
            sys.stderr.flush()

    def exit_now(self) -> None:
        self.say()
        with contextlib.suppress(Exception):
            self.before_exit()
        os._exit(INTERRUPTED)


@contextlib.contextmanager
def stop_on_interrupt(prog: str) -> Iterator[Interrupt]:
    """Handle SIGINT as described above for the block (call it from the main thread)."""
    interrupt = Interrupt(prog)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if interrupt.happened:
            interrupt.exit_now()
        interrupt.happened = True
        request_stop()
        watchdog = threading.Timer(GRACE_SECONDS, interrupt.exit_now)
        watchdog.daemon = True
        watchdog.start()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
        if not interrupt.happened:
            clear_stop_request()
