"""What the terminal shows: TensorFlow's start-up chatter and expected errors' tracebacks.

Both are kept for ``--debug``. Expected errors (``ImdbRnnError``) end in one line that says
what to do; their tracebacks still reach the Prefect API's logs, whose handler is untouched.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

from imdb_rnn.errors import ImdbRnnError

# Written by TensorFlow's C++ code straight to file descriptor 2 while it is imported (the
# absl lines come before TF_CPP_MIN_LOG_LEVEL is read, so that variable cannot hide them),
# and, below level 3, when it first looks for devices.
_TENSORFLOW_CHATTER = re.compile(
    r"[IWEF]\d{4} [\d:. ]+\d+ \S+:\d+\]"  # absl: I0000 00:00:1796427416.514570 19633 x.cc:31]
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions:"
    r"|oneDNN custom operations are on"
    r"|Unable to register cu\w+ factory"
    r"|Attempting to register factory for plugin"
    r"|computation placer already registered"
)


def import_tensorflow_quietly(show: bool = False) -> None:
    """Import TensorFlow and Keras with their C++ start-up lines kept off the terminal.

    Call it from the main thread before any other thread writes to stderr: file descriptor
    2 is the process's, so everything written meanwhile is captured. Lines that are not
    TensorFlow's (a Python warning, say) are passed on; with ``show``, everything is.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            # Looking for a GPU is the first device use, where CUDA's absence is reported.
            tf.config.list_physical_devices("GPU")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
    kept = text if show else "".join(_not_tensorflow_chatter(text))
    if kept:
        sys.stderr.write(kept)
        sys.stderr.flush()


def _not_tensorflow_chatter(text: str) -> Iterator[str]:
    for line in text.splitlines(keepends=True):
        if not _TENSORFLOW_CHATTER.match(line):
            yield line


class _WithoutExpectedTracebacks(logging.Formatter):
    """Formats like ``inner``, leaving out the traceback of an ``ImdbRnnError``."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and isinstance(record.exc_info[1], ImdbRnnError):
            # A copy: the same record goes on to other handlers, which keep the traceback.
            record = copy.copy(record)
            record.exc_info = None
            record.exc_text = None
        return self.inner.format(record)


@contextlib.contextmanager
def expected_errors_without_tracebacks() -> Iterator[None]:
    """Keep expected errors' tracebacks off Prefect's console log for the block."""
    from prefect.logging.handlers import PrefectConsoleHandler

    consoles = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, PrefectConsoleHandler)
    ]
    originals = [handler.formatter for handler in consoles]
    for handler, original in zip(consoles, originals, strict=True):
        handler.setFormatter(_WithoutExpectedTracebacks(original))
    try:
        yield
    finally:
        for handler, original in zip(consoles, originals, strict=True):
            handler.setFormatter(original)
