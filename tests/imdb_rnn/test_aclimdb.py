"""The aclImdb layout: file names, the dataset root, the checksum of an extracted folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from imdb_rnn.aclimdb import find_dataset_root, parse_review_filename, tree_sha256
from imdb_rnn.errors import (
    DatasetLayoutError,
)
from tests.conftest import (
    make_aclimdb,
)


def test_find_dataset_root_rejects_a_folder_without_the_layout(fake_dataset, tmp_path):
    with pytest.raises(DatasetLayoutError, match="aclImdb layout"):
        find_dataset_root(tmp_path / "source" / "aclImdb" / "train")


def test_find_dataset_root_rejects_an_empty_label_folder(fake_dataset):
    for review in (fake_dataset.root / "test" / "neg").glob("*.txt"):
        review.unlink()

    with pytest.raises(DatasetLayoutError, match="test/neg/"):
        find_dataset_root(fake_dataset.root)


def test_tree_sha256_depends_on_review_bytes_and_names_only(tmp_path):
    one = make_aclimdb(tmp_path / "one", per_label=3)
    two = make_aclimdb(tmp_path / "two", per_label=3)
    original = tree_sha256(one.root)

    assert tree_sha256(two.root) == original  # same contents elsewhere: same checksum
    (two.root / "README").write_text("a different README")
    assert tree_sha256(two.root) == original  # only reviews count

    review = sorted((two.root / "train" / "neg").glob("*.txt"))[0]
    review.write_bytes(review.read_bytes() + b"!")
    assert tree_sha256(two.root) != original


def test_tree_sha256_changes_when_a_review_is_renamed(tmp_path):
    one = make_aclimdb(tmp_path / "one", per_label=3)
    original = tree_sha256(one.root)
    review = sorted((one.root / "test" / "pos").glob("*.txt"))[0]

    review.rename(review.with_name("999_10.txt"))

    assert tree_sha256(one.root) != original


def test_parse_review_filename_reads_id_and_rating():
    assert parse_review_filename(Path("train/pos/123_7.txt")) == (123, 7)
    assert parse_review_filename(Path("0_10.txt")) == (0, 10)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("abc.txt", "<id>_<rating>.txt"),
        ("12_7.text", "<id>_<rating>.txt"),
        ("12_11.txt", "rating 11 is outside 1..10"),
        ("12_0.txt", "rating 0 is outside 1..10"),
    ],
)
def test_parse_review_filename_rejects_bad_names(tmp_path, name, reason):
    path = tmp_path / "train" / "pos" / name

    with pytest.raises(DatasetLayoutError) as caught:
        parse_review_filename(path)

    assert str(path) in str(caught.value)
    assert reason in str(caught.value)
