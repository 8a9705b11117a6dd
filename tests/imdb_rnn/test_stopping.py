"""Stop requests: Ctrl-C stops every run of the process; a failed run stops its own work."""

from __future__ import annotations

import pytest

from imdb_rnn.stopping import (
    RunInterrupted,
    abandon_run,
    clear_stop_request,
    raise_if_stop_requested,
    request_stop,
)


def test_a_failed_run_stops_its_own_work_and_no_other_runs():
    raise_if_stop_requested("the synthetic task", "run-a")  # nothing asked yet
    abandon_run("run-a")
    with pytest.raises(RunInterrupted, match="the synthetic task: a step of its run failed"):
        raise_if_stop_requested("the synthetic task", "run-a")
    raise_if_stop_requested("the synthetic task", "run-b")
    raise_if_stop_requested("a training")  # work that names no run goes on


def test_ctrl_c_stops_work_of_every_run_until_cleared():
    request_stop()
    try:
        for run_id in (None, "run-c"):
            with pytest.raises(RunInterrupted, match="run again to resume"):
                raise_if_stop_requested("a training", run_id)
    finally:
        clear_stop_request()
    raise_if_stop_requested("a training", "run-c")
