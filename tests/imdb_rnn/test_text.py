"""Cleaning, tokenizing, the vocabulary, padding and the encoder, on hand-made text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.text import (
    SequenceEncoder,
    build_vocabulary,
    clean_text,
    pad_sequences,
    tokenize,
    tokenize_all,
)
from tests.conftest import (
    make_aclimdb,
)

SOURCE_SHA = "a" * 64


@pytest.fixture
def raw(tmp_path) -> RawDataset:
    dataset = make_aclimdb(tmp_path / "source")  # 12 reviews per label in train and in test
    return RawDataset(dataset.root, sha256=SOURCE_SHA, origin="test")


SEQUENCES = [[1, 2, 3], [4, 5, 6, 7, 8], []]


def test_clean_text_drops_markup_and_lowercases():
    raw = "Great<br />movie<BR>Fun <i>really</i> &amp; AMAZING"

    assert clean_text(raw) == "great movie fun  really  & amazing"


def test_clean_text_replaces_line_breaks_with_spaces():
    assert clean_text("end.<br /><br />Start") == "end.  start"


def test_tokenize_keeps_apostrophes_inside_words():
    assert tokenize("i don't like it, it's 10/10!") == [
        "i",
        "don't",
        "like",
        "it",
        "it's",
        "10",
        "10",
    ]


@pytest.mark.parametrize(
    ("cleaned", "words"),
    [
        ("rock'n'roll", ["rock'n", "roll"]),  # a word keeps one apostrophe
        ("'quoted' words", ["quoted", "words"]),
        ("90's it'5 end' o'", ["90's", "it", "5", "end", "o"]),  # letters must follow
        ("ab'cd9", ["ab'cd", "9"]),  # a digit after the apostrophe's letters starts a word
        ("x''y a'b'c'd", ["x", "y", "a'b", "c'd"]),
        ("café's naïve", ["caf", "s", "na", "ve"]),  # only a-z and 0-9 make words
        ("日本語 text\u00a0here\u2003too", ["text", "here", "too"]),
        ("tab\tnew\nline", ["tab", "new", "line"]),
        ("", []),
        ("  ' -- '' ", []),
    ],
)
def test_tokenize_all_finds_each_texts_words_at_once(cleaned, words):
    assert tokenize_all([cleaned, "x"]).to_pylist() == [words, ["x"]]
    assert tokenize(cleaned) == words


def test_tokenize_all_reads_a_slice_of_an_arrow_column_and_a_column_in_chunks():
    texts = pa.array(["a b", "c d", "e f", "g"], type=pa.large_string()).slice(1, 2)
    chunked = pd.concat([pd.Series(["a b", "c"]), pd.Series(["d e"])], ignore_index=True)

    assert tokenize_all(texts).to_pylist() == [["c", "d"], ["e", "f"]]
    assert tokenize_all(chunked).to_pylist() == [["a", "b"], ["c"], ["d", "e"]]


def test_tokenize_of_cleaned_review():
    cleaned = clean_text("I DON'T<br />think <b>so</b>.")

    assert tokenize(cleaned) == ["i", "don't", "think", "so"]


def test_pad_sequences_pre_padding_pre_truncating():
    out = pad_sequences(SEQUENCES, maxlen=4, padding="pre", truncating="pre")

    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 1, 2, 3], [5, 6, 7, 8], [0, 0, 0, 0]])


def test_pad_sequences_post_padding_post_truncating():
    out = pad_sequences(SEQUENCES, maxlen=4, padding="post", truncating="post")

    np.testing.assert_array_equal(out, [[1, 2, 3, 0], [4, 5, 6, 7], [0, 0, 0, 0]])


def test_pad_sequences_mixed_sides():
    pre_post = pad_sequences(SEQUENCES, maxlen=4, padding="pre", truncating="post")
    post_pre = pad_sequences(SEQUENCES, maxlen=4, padding="post", truncating="pre")

    np.testing.assert_array_equal(pre_post, [[0, 1, 2, 3], [4, 5, 6, 7], [0, 0, 0, 0]])
    np.testing.assert_array_equal(post_pre, [[1, 2, 3, 0], [5, 6, 7, 8], [0, 0, 0, 0]])


def test_pad_sequences_exact_length_is_unchanged():
    out = pad_sequences([[9, 8, 7]], maxlen=3)

    assert out.shape == (1, 3)
    np.testing.assert_array_equal(out, [[9, 8, 7]])


def test_build_vocabulary_orders_by_frequency_then_alphabet():
    # Counts: a 3, c 2, b 2, d 1. c is seen before b, but b wins the tie alphabetically.
    tokens = [["c", "c", "a", "a", "d"], ["a", "b", "b"]]

    assert build_vocabulary(tokens, vocab_size=100) == ["<pad>", "<unk>", "a", "b", "c", "d"]


def test_build_vocabulary_is_capped_at_vocab_size():
    tokens = [["c", "c", "a", "a", "d"], ["a", "b", "b"]]

    assert build_vocabulary(tokens, vocab_size=4) == ["<pad>", "<unk>", "a", "b"]
    assert build_vocabulary(tokens, vocab_size=3) == ["<pad>", "<unk>", "a"]


def test_encoder_maps_unknown_words_to_one_and_pads_with_zero():
    encoder = SequenceEncoder(("<pad>", "<unk>", "movie", "bad", "good"), maxlen=6)

    ids, lengths = encoder.encode_texts(["Good<br />movie, unseen words", "BAD"])

    np.testing.assert_array_equal(ids, [[0, 0, 4, 2, 1, 1], [0, 0, 0, 0, 0, 3]])
    np.testing.assert_array_equal(lengths, [4, 1])
