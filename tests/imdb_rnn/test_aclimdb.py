"""The aclImdb layout: file names, the dataset root, the checksum of an extracted folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imdb_rnn.aclimdb import (
    find_dataset_root,
    layout_problem,
    list_review_files,
    parse_review_filename,
    read_reviews,
    tree_sha256,
)
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


def _write_reviews(root: Path, reviews: dict[str, str]) -> None:
    for relative, text in reviews.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")


def test_read_reviews_gives_ids_ratings_labels_and_cleaned_text(tmp_path):
    dataset = make_aclimdb(tmp_path)
    frame = read_reviews(dataset.root, "train", cap=None, seed=0).frame

    assert list(frame.columns) == ["review_id", "rating", "label", "text"]
    # Positive reviews first, then negative, each by numeric id: 0, 1, ..., 11.
    assert list(frame["review_id"]) == [f"train/pos/{i}" for i in range(12)] + [
        f"train/neg/{i}" for i in range(12)
    ]
    assert list(frame["label"]) == [1] * 12 + [0] * 12
    for path in dataset.files:
        split, label_name = path.parent.parent.name, path.parent.name
        if split != "train":
            continue
        review_id, rating = path.stem.split("_")
        row = frame[frame["review_id"] == f"train/{label_name}/{review_id}"].iloc[0]
        assert row["rating"] == int(rating)
        raw = path.read_text(encoding="utf-8")
        assert row["text"] == raw.replace("<br />", " ").lower()
        assert "<br" not in row["text"]


def test_read_reviews_lower_cases_drops_markup_and_orders_by_numeric_id(tmp_path):
    _write_reviews(
        tmp_path,
        {
            "train/pos/10_9.txt": "Great<br />FILM &amp; <i>Fun</i>",
            "train/pos/2_8.txt": "LOVED it",
            "train/neg/7_1.txt": "Dull.<BR/>Awful",
            "train/neg/3_4.txt": "meh",
        },
    )
    frame = read_reviews(tmp_path, "train", cap=None, seed=0).frame
    assert frame.to_dict("records") == [
        {"review_id": "train/pos/2", "rating": 8, "label": 1, "text": "loved it"},
        {"review_id": "train/pos/10", "rating": 9, "label": 1, "text": "great film &  fun "},
        {"review_id": "train/neg/3", "rating": 4, "label": 0, "text": "meh"},
        {"review_id": "train/neg/7", "rating": 1, "label": 0, "text": "dull. awful"},
    ]


def test_list_review_files_lists_every_review_in_label_then_id_order(tmp_path):
    dataset = make_aclimdb(tmp_path, per_label=3)
    files = list_review_files(dataset.root, "test")
    assert [(f.label, f.review_id) for f in files] == [
        (1, 0),
        (1, 1),
        (1, 2),
        (0, 0),
        (0, 1),
        (0, 2),
    ]
    expected = {str(p) for p in dataset.files if p.parent.parent.name == "test"}
    assert {str(f.path) for f in files} == expected


@pytest.mark.parametrize(("cap", "positives", "negatives"), [(6, 3, 3), (5, 2, 3), (4, 2, 2)])
def test_a_capped_list_is_a_balanced_sample(tmp_path, cap, positives, negatives):
    dataset = make_aclimdb(tmp_path)  # 12 reviews per label
    files = list_review_files(dataset.root, "train", cap=cap, seed=7)
    assert len(files) == cap
    assert sum(f.label == 1 for f in files) == positives
    assert sum(f.label == 0 for f in files) == negatives
    assert len({f.location for f in files}) == cap  # no review twice
    every = {f.location for f in list_review_files(dataset.root, "train")}
    assert {f.location for f in files} <= every
    # Still in the fixed order: positives first, each label by id.
    assert files == sorted(files, key=lambda f: (-f.label, f.review_id))


def test_a_capped_sample_is_the_same_for_the_same_seed(tmp_path):
    dataset = make_aclimdb(tmp_path)
    first = list_review_files(dataset.root, "train", cap=6, seed=3)
    again = list_review_files(dataset.root, "train", cap=6, seed=3)
    other = list_review_files(dataset.root, "train", cap=6, seed=4)
    assert first == again
    assert first != other


def test_a_cap_above_the_number_of_reviews_keeps_them_all(tmp_path):
    dataset = make_aclimdb(tmp_path, per_label=3)
    assert list_review_files(dataset.root, "train", cap=100, seed=0) == list_review_files(
        dataset.root, "train"
    )


def test_layout_problem_names_a_missing_folder(fake_dataset):
    assert layout_problem(fake_dataset.root) is None
    shutil.rmtree(fake_dataset.root / "test" / "neg")
    assert layout_problem(fake_dataset.root) == "missing folder test/neg/"


def test_layout_problem_names_a_folder_without_reviews(tmp_path):
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (tmp_path / split / label).mkdir(parents=True)
            (tmp_path / split / label / "1_8.txt").write_text("ok")
    (tmp_path / "train" / "pos" / "1_8.txt").unlink()
    (tmp_path / "train" / "pos" / "notes.md").write_text("not a review")
    assert layout_problem(tmp_path) == "train/pos/ has no .txt reviews"
