"""Preparing the aclImdb reviews: splits, vocabulary, padding, reuse and rebuilds."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig
from imdb_rnn.errors import DataContractError
from imdb_rnn.prepared import load_arrays, load_split
from imdb_rnn.text import (
    SequenceEncoder,
)
from tasks.prepare import prepare_dataset
from tests.conftest import (
    FILLER_WORDS,
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    TEST_ONLY_WORD,
    make_aclimdb,
)
from tests.samples import CONFIG, MAXLEN, SOURCE_SHA, read_metadata


def row(frame, review_id: str):
    matches = frame[frame["review_id"] == review_id]
    assert len(matches) == 1, review_id
    return matches.iloc[0]


@pytest.fixture
def raw(tmp_path) -> RawDataset:
    dataset = make_aclimdb(tmp_path / "source")  # 12 reviews per label in train and in test
    return RawDataset(dataset.root, sha256=SOURCE_SHA, origin="test")


@pytest.fixture
def prepared(raw, tmp_path):
    return prepare_dataset(raw, CONFIG, tmp_path / "processed")


def test_prepare_writes_three_splits_vocabulary_and_manifest(prepared, tmp_path):
    assert prepared.directory == tmp_path / "processed" / prepared.fingerprint
    assert sorted(p.name for p in prepared.directory.iterdir()) == [
        "manifest.json",
        "test.parquet",
        "train.parquet",
        "validation.parquet",
        "vocab.json",
    ]
    # No staging folder left beside the result.
    assert [p.name for p in (tmp_path / "processed").iterdir()] == [prepared.fingerprint]
    assert prepared.reused is False
    assert prepared.rows == {"train": 18, "validation": 6, "test": 24}

    manifest = json.loads((prepared.directory / "manifest.json").read_text())
    assert manifest["fingerprint"] == prepared.fingerprint
    assert manifest["source_sha256"] == SOURCE_SHA
    assert manifest["source"] == "test"
    assert manifest["rows"] == {"train": 18, "validation": 6, "test": 24}
    assert manifest["preprocess"]["maxlen"] == MAXLEN
    assert manifest["skipped"] == {"train": [], "test": []}
    assert manifest["files"] == {
        name: hashlib.sha256((prepared.directory / name).read_bytes()).hexdigest()
        for name in ("train.parquet", "validation.parquet", "test.parquet", "vocab.json")
    }


def test_validation_split_is_stratified_and_disjoint(prepared):
    train = load_split(prepared, "train")
    validation = load_split(prepared, "validation")

    assert train["label"].value_counts().to_dict() == {1: 9, 0: 9}
    assert validation["label"].value_counts().to_dict() == {1: 3, 0: 3}
    assert set(train["review_id"]).isdisjoint(validation["review_id"])
    everything = set(train["review_id"]) | set(validation["review_id"])
    assert everything == {f"train/{label}/{i}" for label in ("pos", "neg") for i in range(12)}
    assert not any(review_id.startswith("test/") for review_id in everything)


def test_test_split_holds_every_test_review(prepared):
    test = load_split(prepared, "test")

    assert set(test["review_id"]) == {
        f"test/{label}/{i}" for label in ("pos", "neg") for i in range(12)
    }
    assert test["label"].value_counts().to_dict() == {1: 12, 0: 12}
    assert set(test.loc[test["label"] == 1, "rating"]) <= {7, 8, 9, 10}
    assert set(test.loc[test["label"] == 0, "rating"]) <= {1, 2, 3, 4}


def test_vocabulary_comes_from_training_words_only(prepared):
    vocabulary = json.loads((prepared.directory / "vocab.json").read_text())

    assert vocabulary[:2] == ["<pad>", "<unk>"]
    assert TEST_ONLY_WORD not in vocabulary
    assert set(vocabulary[2:]) <= set(POSITIVE_WORDS + NEGATIVE_WORDS + FILLER_WORDS)
    assert len(vocabulary) == len(set(vocabulary))


def test_test_only_word_encodes_as_unknown(prepared):
    test = load_split(prepared, "test")

    # Every test review ends with TEST_ONLY_WORD, and pre-truncation keeps the ending.
    last_ids = np.stack(test["tokens"].to_numpy())[:, -1]
    np.testing.assert_array_equal(last_ids, np.ones(24, dtype=np.int32))
    # Training reviews only use known words: no id 1 anywhere.
    tokens, _, _ = load_arrays(prepared, "train")
    assert tokens.shape == (18, MAXLEN)
    assert not (tokens == 1).any()


def test_short_review_is_padded_at_the_start(prepared):
    test = load_split(prepared, "test")
    # test/pos/0 has 3 generated words plus TEST_ONLY_WORD: 4 tokens.
    short = row(test, "test/pos/0")

    assert short["n_tokens"] == 4
    tokens = np.asarray(short["tokens"])
    assert tokens.shape == (MAXLEN,)
    assert (tokens[: MAXLEN - 4] == 0).all()
    assert (tokens[MAXLEN - 4 :] > 0).all()
    assert tokens[-1] == 1


def test_long_review_counts_tokens_before_truncation(prepared):
    test = load_split(prepared, "test")
    # test/neg/7 has 450 generated words plus TEST_ONLY_WORD: 451 tokens, cut to MAXLEN.
    long = row(test, "test/neg/7")

    assert long["n_tokens"] == 451
    tokens = np.asarray(long["tokens"])
    assert (tokens > 0).all()
    assert tokens[-1] == 1  # the ending was kept


def test_post_padding_puts_zeros_at_the_end(raw, tmp_path):
    config = PreprocessConfig(maxlen=MAXLEN, validation_fraction=0.25, padding="post")
    prepared = prepare_dataset(raw, config, tmp_path / "processed")
    test = load_split(prepared, "test")

    tokens = np.asarray(row(test, "test/pos/8")["tokens"])  # 3 words + TEST_ONLY_WORD
    assert (tokens[:4] > 0).all()
    assert tokens[3] == 1
    assert (tokens[4:] == 0).all()
    assert read_metadata(prepared.split_path("test"))["padding"] == "post"


def test_hand_made_dataset_gives_exact_vocabulary_and_ids(tmp_path):
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for label, word in (("pos", "good"), ("neg", "bad")):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(6):
                (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(
                    f"{word.upper()} movie<br />Movie"
                )
    (root / "test" / "pos" / "0_8.txt").write_text("Good<br />movie, unseen words")
    # 12 training reviews, 4 held out (2 per label): 8 remain, 4 per label.
    config = PreprocessConfig(maxlen=6, validation_fraction=1 / 3)

    prepared = prepare_dataset(RawDataset(root, SOURCE_SHA, "hand"), config, tmp_path / "out")

    # Counts over the 8 training reviews: movie 16, bad 4, good 4 (tie: alphabetical).
    vocabulary = json.loads((prepared.directory / "vocab.json").read_text())
    assert vocabulary == ["<pad>", "<unk>", "movie", "bad", "good"]
    test = load_split(prepared, "test")
    assert list(row(test, "test/pos/0")["tokens"]) == [0, 0, 4, 2, 1, 1]
    assert row(test, "test/pos/0")["n_tokens"] == 4
    assert list(row(test, "test/neg/3")["tokens"]) == [0, 0, 0, 3, 2, 2]
    assert row(test, "test/neg/3")["text"] == "bad movie movie"


def test_encoder_gives_the_same_ids_as_the_parquet_row(prepared, raw):
    encoder = SequenceEncoder.load(prepared.directory)
    test = load_split(prepared, "test")
    stored = row(test, "test/pos/3")
    text = next((raw.root / "test" / "pos").glob("3_*.txt")).read_text(encoding="utf-8")

    ids, lengths = encoder.encode_texts([text])

    assert encoder.maxlen == MAXLEN
    np.testing.assert_array_equal(ids[0], np.asarray(stored["tokens"]))
    assert lengths[0] == stored["n_tokens"] == 61  # 60 generated words + TEST_ONLY_WORD


def test_second_prepare_reuses_the_folder(prepared, raw, tmp_path):
    files = sorted(prepared.directory.iterdir())
    mtimes = {p.name: p.stat().st_mtime_ns for p in files}

    again = prepare_dataset(raw, CONFIG, tmp_path / "processed")

    assert again.reused is True
    assert again.directory == prepared.directory
    assert again.fingerprint == prepared.fingerprint
    assert again.rows == prepared.rows
    assert {p.name: p.stat().st_mtime_ns for p in sorted(again.directory.iterdir())} == mtimes


def test_other_parameters_get_their_own_folder(prepared, raw, tmp_path):
    other = prepare_dataset(raw, CONFIG.model_copy(update={"maxlen": 20}), tmp_path / "processed")

    assert other.reused is False
    assert other.directory != prepared.directory
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == sorted(
        [prepared.fingerprint, other.fingerprint]
    )
    assert pq.read_schema(other.split_path("train")).field("tokens").type == pa.list_(
        pa.int32(), 20
    )


def test_parquet_without_metadata_is_detected_and_rebuilt(prepared, raw, tmp_path):
    path = prepared.split_path("train")
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata(None), path)  # same rows, no contract

    with pytest.raises(DataContractError) as caught:
        load_split(prepared, "train")
    assert str(path) in str(caught.value)
    assert "imdb_rnn metadata" in str(caught.value)

    rebuilt = prepare_dataset(raw, CONFIG, tmp_path / "processed")

    assert rebuilt.reused is False
    assert rebuilt.directory == prepared.directory
    assert read_metadata(path)["fingerprint"] == prepared.fingerprint
    assert len(load_split(rebuilt, "train")) == 18


def test_max_reviews_per_split_caps_and_balances(raw, tmp_path):
    config = PreprocessConfig(maxlen=MAXLEN, validation_fraction=0.25, max_reviews_per_split=8)

    prepared = prepare_dataset(raw, config, tmp_path / "processed")

    # 8 training reviews (4 per label) -> 2 validation (1 per label), 6 train; 8 test.
    assert prepared.rows == {"train": 6, "validation": 2, "test": 8}
    assert load_split(prepared, "train")["label"].value_counts().to_dict() == {1: 3, 0: 3}
    assert load_split(prepared, "validation")["label"].value_counts().to_dict() == {1: 1, 0: 1}
    assert load_split(prepared, "test")["label"].value_counts().to_dict() == {1: 4, 0: 4}


def test_odd_cap_gives_the_extra_review_to_negatives(raw, tmp_path):
    config = PreprocessConfig(maxlen=MAXLEN, validation_fraction=0.25, max_reviews_per_split=9)

    prepared = prepare_dataset(raw, config, tmp_path / "processed")

    test = load_split(prepared, "test")
    assert test["label"].value_counts().to_dict() == {0: 5, 1: 4}
