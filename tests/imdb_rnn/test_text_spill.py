"""The spill file of a table's cleaned texts: positions, hashes, reading back."""

from __future__ import annotations

import numpy as np
import pandas as pd

from imdb_rnn.text_spill import TextSpill, text_hashes


def test_texts_go_to_the_file_and_rows_keep_their_place_and_hash(tmp_path):
    spill = TextSpill(tmp_path / "texts.parquet")
    first = spill.add(pd.DataFrame({"row": [1, 2, 3], "text": ["a b", "c", "a b"], "label": 0}))
    second = spill.add(pd.DataFrame({"row": [5, 6], "text": ["d", "c"], "label": 1}))

    assert list(first.columns) == ["row", "label", "position", "hash"]
    assert first["position"].tolist() == [0, 1, 2] and second["position"].tolist() == [3, 4]
    hashes = np.concatenate([first["hash"], second["hash"]])
    assert hashes[0] == hashes[2] and hashes[1] == hashes[4]  # same text, same hash
    assert len(set(hashes.tolist())) == 3
    groups = [(start, texts.to_pylist()) for start, texts in spill.row_groups()]
    assert groups == [(0, ["a b", "c", "a b"]), (3, ["d", "c"])]


def test_texts_at_gives_each_row_groups_share_of_the_positions(tmp_path):
    spill = TextSpill(tmp_path / "texts.parquet")
    for start in range(0, 10, 4):
        texts = [f"text {i}" for i in range(start, min(start + 4, 10))]
        spill.add(pd.DataFrame({"text": texts}))

    found = [(p.tolist(), t.to_pylist()) for p, t in spill.texts_at(np.array([1, 2, 8, 9]))]

    assert found == [([1, 2], ["text 1", "text 2"]), ([8, 9], ["text 8", "text 9"])]


def test_hashes_tell_texts_apart():
    texts = [f"review {i}" for i in range(10_000)]
    assert len(set(text_hashes(texts).tolist())) == 10_000
    assert (text_hashes(["same", "same"]) == text_hashes(["same"])[0]).all()
