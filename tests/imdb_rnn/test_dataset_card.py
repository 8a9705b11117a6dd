"""The dataset card's numbers, worked out by hand on tiny splits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from imdb_rnn.dataset_card import dataset_card, duplicate_summary, shared_texts, split_summary


def test_a_split_summary_counts_classes_lengths_cuts_and_known_tokens():
    labels = np.array([0, 2, 2, 1, 2])
    lengths = np.array([2, 4, 6, 8, 10])  # tokens before padding to width 6
    tokens = np.array(
        [
            [0, 0, 0, 0, 5, 6],
            [0, 0, 1, 5, 5, 7],  # one unknown word
            [5, 6, 7, 1, 1, 8],  # two
            [5, 6, 7, 8, 9, 9],
            [1, 1, 1, 1, 1, 1],  # six
        ]
    )

    summary = split_summary(labels, lengths, tokens, ("a", "b", "c"))

    assert summary["rows"] == {"a": 1, "b": 1, "c": 3}
    assert summary["tokens"] == {"mean": 6.0, "p10": 2, "p50": 6, "p90": 9, "max": 10}
    assert summary["truncated_share"] == 0.4  # 8 and 10 tokens are longer than 6
    assert summary["token_coverage"] == 1 - 9 / 24  # 24 tokens read (padding is not), 9 unknown


def test_shared_texts_are_the_test_rows_whose_text_train_or_validation_holds():
    seen = pd.Series(["good film", "bad film", "good film"])
    test = pd.Series(["bad film", "new film", "bad film", "good film!"])

    shared = shared_texts(seen, test)
    summary = duplicate_summary(test, shared, dropped=0)

    assert shared.tolist() == [True, False, True, False]
    assert summary == {
        "test_rows": 2,
        "distinct_texts": 1,
        "dropped": 0,
        "examples": ["bad film"],
    }


def test_a_long_shared_text_is_shown_cut_to_its_first_80_characters():
    text = "word " * 40
    summary = duplicate_summary(pd.Series([text]), np.array([True]), dropped=0)

    assert summary["examples"] == [text[:80] + "…"]


def test_the_card_gathers_every_split_and_names_the_test_coverage():
    summary = split_summary(np.array([0, 1]), np.array([1, 1]), np.array([[5], [1]]), ("n", "p"))

    card = dataset_card("t.csv", "table", ("n", "p"), {"train": summary, "test": summary}, {}, {})

    assert card["rows"] == {"train": {"n": 1, "p": 1}, "test": {"n": 1, "p": 1}}
    assert card["test_token_coverage"] == 0.5
    assert card["classes"] == ["n", "p"] and card["kind"] == "table"
