"""The champion folder: reading it, loading it, and swapping the link to it."""

from __future__ import annotations

import pytest

from imdb_rnn.champion import NoChampionError, load_champion
from imdb_rnn.paths import DataPaths


def test_no_champion_says_how_to_train_one(tmp_path):
    with pytest.raises(NoChampionError, match="train one with 'imdb-rnn run'"):
        load_champion(DataPaths.at(tmp_path).champion)
