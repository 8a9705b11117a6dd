"""One run: its id, its settings, and what is settled before any work starts."""

from __future__ import annotations

from datetime import UTC, datetime

from imdb_rnn.run import make_run_id


def test_run_id_sorts_by_time_and_carries_the_suffix():
    early = make_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "brave-otter")
    late = make_run_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), "apt-heron")
    assert early == "20260102T030405Z-brave-otter"
    assert early < late
