"""Preparing a table of labeled text: formats, columns, labels, splits, and every bad input
stopping with one line that names the file, the column or the value, leaving nothing."""

from __future__ import annotations

import gzip
import json
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig, TableConfig
from imdb_rnn.errors import TableError
from imdb_rnn.prepared import MANIFEST_FILE, load_split
from imdb_rnn.tables import MAX_TEXT_CHARACTERS
from tasks.prepare import prepare_dataset

CONFIG = PreprocessConfig(vocab_size=50, maxlen=12)
WORDS = {
    "neg": ["awful", "dull", "boring", "bad"],
    "pos": ["great", "lovely", "fine", "good"],
    "meh": ["okay", "average", "plain", "so"],
}


def reviews(classes=("neg", "pos"), per_class=20, seed=0) -> pd.DataFrame:
    """``per_class`` distinct rows of each class, with words that tell the class."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(per_class):
        for name in classes:
            words = rng.choice(WORDS.get(name, WORDS["meh"]), size=4)
            rows.append({"text": f"{' '.join(words)} film number{number}", "label": name})
    return pd.DataFrame(rows)


def prepare_table(path, table=TableConfig(), config=CONFIG, test=None):  # noqa: B008
    raw = RawDataset(path, "d" * 64, str(path), "table", test)
    return prepare_dataset(raw, config, path.parent / "processed", logging.getLogger("t"), table)


def refused(path, table=TableConfig(), config=CONFIG, test=None) -> str:  # noqa: B008
    with pytest.raises(TableError) as caught:
        prepare_table(path, table, config, test)
    message = str(caught.value)
    assert "\n" not in message
    processed = path.parent / "processed"
    assert not processed.exists() or not any(p.suffix != ".lock" for p in processed.iterdir())
    return message


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("t.csv", lambda frame, path: frame.to_csv(path, index=False)),
        ("t.csv.gz", lambda frame, path: frame.to_csv(path, index=False)),
        ("t.tsv", lambda frame, path: frame.to_csv(path, sep="\t", index=False)),
        ("t.parquet", lambda frame, path: frame.to_parquet(path)),
        ("t.jsonl", lambda frame, path: frame.to_json(path, orient="records", lines=True)),
        ("t.jsonl.bz2", lambda frame, path: frame.to_json(path, orient="records", lines=True)),
    ],
)
def test_every_format_gives_the_same_prepared_rows(tmp_path, name, write):
    frame = reviews()
    write(frame, tmp_path / name)

    prepared = prepare_table(tmp_path / name)

    assert prepared.classes == ("neg", "pos")
    assert prepared.rows == {"train": 26, "validation": 6, "test": 8}  # 20 % of 40, of 32
    texts = pd.concat(
        load_split(prepared, split, ["text", "label"]) for split in ("train", "validation", "test")
    )
    expected = dict(zip(frame["text"], (frame["label"] == "pos").astype(int), strict=True))
    assert dict(zip(texts["text"], texts["label"], strict=True)) == expected


def test_classes_keep_their_names_and_k_classes_are_kept_apart(tmp_path):
    reviews(("neg", "pos", "meh", "zzz"), per_class=10).to_csv(tmp_path / "t.csv", index=False)

    prepared = prepare_table(tmp_path / "t.csv")

    assert prepared.classes == ("meh", "neg", "pos", "zzz")  # sorted when not a neg/pos pair
    manifest = json.loads((prepared.directory / MANIFEST_FILE).read_text())
    assert manifest["classes"] == ["meh", "neg", "pos", "zzz"]
    # Stratified: each of test's 8 rows (20 % of 40) holds 2 of each class.
    assert manifest["card"]["rows"]["test"] == {"meh": 2, "neg": 2, "pos": 2, "zzz": 2}


@pytest.mark.parametrize(
    ("values", "classes", "positive"),
    [
        (["0", "1"], ("0", "1"), "1"),
        (["true", "false"], ("false", "true"), "true"),
        (["Positive", "Negative"], ("Negative", "Positive"), "Positive"),
        (["yes", "no"], ("no", "yes"), "yes"),
        (["10", "9", "2"], ("2", "9", "10"), None),  # numbers in numeric order
    ],
)
def test_labels_of_every_kind_become_class_ids(tmp_path, values, classes, positive):
    frame = reviews(tuple(f"c{i}" for i in range(len(values))), per_class=10)
    frame["label"] = frame["label"].map({f"c{i}": value for i, value in enumerate(values)})
    frame.to_csv(tmp_path / "t.csv", index=False)

    prepared = prepare_table(tmp_path / "t.csv")

    assert prepared.classes == classes
    if positive is not None:
        rows = load_split(prepared, "train", ["text", "label"])
        wanted = frame.set_index("text")["label"]
        assert all(
            (wanted[text] == positive) == bool(label)
            for text, label in zip(rows["text"], rows["label"], strict=True)
        )


def test_booleans_and_integers_of_parquet_are_classes_too(tmp_path):
    frame = reviews(per_class=10)
    frame["label"] = frame["label"] == "pos"
    frame.to_parquet(tmp_path / "t.parquet")

    assert prepare_table(tmp_path / "t.parquet").classes == ("false", "true")


def test_common_column_names_are_found_when_text_and_label_are_missing(tmp_path):
    reviews().rename(columns={"text": "Review", "label": "sentiment"}).to_csv(
        tmp_path / "t.csv", index=False
    )

    assert prepare_table(tmp_path / "t.csv").rows["test"] == 8


def test_a_split_column_decides_the_splits_and_may_name_validation(tmp_path):
    frame = reviews(per_class=20)
    frame["part"] = ["train"] * 24 + ["Validation"] * 6 + ["TEST"] * 10
    frame.to_csv(tmp_path / "t.csv", index=False)

    prepared = prepare_table(tmp_path / "t.csv", TableConfig(split_column="part"))

    assert prepared.rows == {"train": 24, "validation": 6, "test": 10}
    assert list(load_split(prepared, "test", ["text"])["text"]) == list(frame["text"][30:])


def test_a_test_table_is_the_test_split(tmp_path):
    reviews(per_class=20).to_csv(tmp_path / "train.csv", index=False)
    reviews(per_class=5, seed=9).to_json(tmp_path / "test.jsonl", orient="records", lines=True)

    prepared = prepare_table(
        tmp_path / "train.csv", TableConfig(test_source="test.jsonl"), test=tmp_path / "test.jsonl"
    )

    assert prepared.rows == {"train": 32, "validation": 8, "test": 10}


def test_the_test_hold_out_is_stratified_and_seeded(tmp_path):
    reviews(per_class=50).to_csv(tmp_path / "t.csv", index=False)

    first = prepare_table(tmp_path / "t.csv", TableConfig(test_fraction=0.3))
    test = load_split(first, "test", ["text", "label"])

    assert len(test) == 30 and test["label"].sum() == 15
    reseeded = prepare_table(
        tmp_path / "t.csv",
        TableConfig(test_fraction=0.3),
        CONFIG.model_copy(update={"split_seed": 7}),
    )
    assert set(load_split(reseeded, "test", ["text"])["text"]) != set(test["text"])


def test_a_cp1252_file_reads_with_its_encoding_and_bad_bytes_are_replaced_and_counted(tmp_path):
    frame = reviews(per_class=10)
    frame.loc[0, "text"] = "café crème awful dull"
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False, encoding="cp1252")

    decoded = prepare_table(path, TableConfig(text_encoding="cp1252"))
    as_utf8 = prepare_table(path)

    texts = pd.concat(load_split(decoded, s, ["text"]) for s in ("train", "validation", "test"))
    assert "café crème awful dull" in set(texts["text"])
    assert decoded.card["left_out"]["replaced_characters"] == 0
    assert as_utf8.card["left_out"]["replaced_characters"] == 2  # é and è, one byte each


def test_test_texts_that_train_holds_are_counted_and_dropped_on_request(tmp_path):
    frame = reviews(per_class=20)
    frame["part"] = ["train"] * 30 + ["test"] * 10
    frame.loc[30:32, "text"] = frame.loc[0:2, "text"].to_numpy()  # three test rows copy train
    frame.to_csv(tmp_path / "t.csv", index=False)
    table = TableConfig(split_column="part")

    kept = prepare_table(tmp_path / "t.csv", table)
    dropped = prepare_table(
        tmp_path / "t.csv", table, CONFIG.model_copy(update={"drop_test_duplicates": True})
    )

    assert kept.card["duplicates"]["test_rows"] == 3 and kept.rows["test"] == 10
    assert dropped.card["duplicates"] == {
        "test_rows": 0,
        "distinct_texts": 0,
        "dropped": 3,
        "examples": [],
    }
    assert dropped.rows["test"] == 7


def test_a_very_long_text_is_cut_without_reading_it_into_the_tokens(tmp_path):
    frame = reviews(per_class=10)
    frame.loc[0, "text"] = "great " * 2_000_000 + "the end"  # 12 MB in one cell
    frame.to_parquet(tmp_path / "t.parquet")

    prepared = prepare_table(tmp_path / "t.parquet")

    assert prepared.card["left_out"]["truncated_texts"] == 1
    lengths = pd.concat(
        load_split(prepared, s, ["n_tokens"]) for s in ("train", "validation", "test")
    )["n_tokens"]
    assert lengths.max() == MAX_TEXT_CHARACTERS // len("great ") + 2  # the cut keeps the end


# Bad input: each one line, naming the file and the column, value or rows; nothing written.


def test_a_missing_text_column_lists_the_columns_found(tmp_path):
    reviews().rename(columns={"text": "words"}).to_csv(tmp_path / "t.csv", index=False)

    message = refused(tmp_path / "t.csv")

    assert "t.csv has no text column 'text'" in message
    assert "'words', 'label'" in message and "--text-column" in message


def test_a_named_label_column_that_is_missing_is_not_guessed(tmp_path):
    reviews().to_csv(tmp_path / "t.csv", index=False)

    message = refused(tmp_path / "t.csv", TableConfig(label_column="stars"))

    assert "no label column 'stars'" in message and "'text', 'label'" in message


def test_rows_without_text_or_label_stop_naming_them_or_are_skipped_and_counted(tmp_path):
    frame = reviews()
    frame.loc[[2, 7], "text"] = ["", "<br /> ... "]
    frame.loc[4, "label"] = ""
    frame.to_csv(tmp_path / "t.csv", index=False)

    message = refused(tmp_path / "t.csv")
    assert "3 rows cannot be used" in message
    assert "2 with no text (rows 3, 8)" in message and "1 with no label (row 5)" in message
    assert "--invalid-reviews skip" in message

    prepared = prepare_table(
        tmp_path / "t.csv", config=CONFIG.model_copy(update={"invalid_reviews": "skip"})
    )
    manifest = json.loads((prepared.directory / MANIFEST_FILE).read_text())
    assert sum(prepared.rows.values()) == 37
    assert manifest["card"]["left_out"]["invalid_rows"] == 3
    assert manifest["skipped"]["table"] == ["row 3: no text", "row 8: no text", "row 5: no label"]


def test_a_missing_label_in_json_lines_is_a_row_without_label(tmp_path):
    lines = [json.dumps(row) for row in reviews().to_dict("records")]
    lines[3] = json.dumps({"text": "great lovely film"})
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")

    assert "1 with no label (row 4)" in refused(tmp_path / "t.jsonl")


def test_a_single_class_is_refused(tmp_path):
    reviews(("pos",)).to_csv(tmp_path / "t.csv", index=False)

    message = refused(tmp_path / "t.csv")

    assert "label column 'label' of" in message and "single class ('pos')" in message


def test_a_class_in_test_that_train_lacks_is_refused(tmp_path):
    frame = reviews(("neg", "pos", "meh"), per_class=10)
    frame["part"] = np.where(frame["label"] == "meh", "test", "train")
    frame.loc[frame.index[:4], "part"] = "test"
    frame.to_csv(tmp_path / "t.csv", index=False)

    message = refused(tmp_path / "t.csv", TableConfig(split_column="part"))

    assert "the test rows of" in message and "'meh' (10 rows)" in message
    assert "train has neg, pos" in message


def test_a_class_with_too_few_rows_for_the_split_is_named(tmp_path):
    frame = pd.concat([reviews(), pd.DataFrame([{"text": "okay plain film", "label": "meh"}])])
    frame.to_csv(tmp_path / "t.csv", index=False)

    message = refused(tmp_path / "t.csv")

    assert "class 'meh' has 1 row, too few for the stratified test hold-out" in message


def test_a_label_column_of_mixed_kinds_is_refused(tmp_path):
    frame = reviews()
    frame.loc[:5, "label"] = "1"
    frame.to_csv(tmp_path / "t.csv", index=False)

    message = refused(tmp_path / "t.csv")

    assert "mixes numbers (such as 1) and text (such as 'neg')" in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "t.csv",
            b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n",
            "t.csv is an HTML page, not a CSV table (a saved error page?)",
        ),
        ("t.csv", b"PAR1\x00\x00binary", "t.csv is a Parquet file, not CSV"),
        ("t.parquet", b"text,label\nhello,pos\n", "t.parquet is not a Parquet file"),
        ("t.jsonl", b"text,label\nhello,pos\n", "t.jsonl is not JSON Lines"),
        ("t.csv.gz", b"not gzip at all", "t.csv.gz cannot be decompressed"),
        ("t.csv", b'text,label\n"never closed,pos\n', "t.csv is not a readable CSV table"),
    ],
)
def test_a_file_that_is_not_a_table_of_its_kind_is_named(tmp_path, name, content, expected):
    (tmp_path / name).write_bytes(content)

    assert expected in refused(tmp_path / name)


def test_a_text_column_that_holds_numbers_is_not_text(tmp_path):
    frame = reviews()
    frame["text"] = np.arange(len(frame))
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv", index=False)

    assert "text column 'text' of" in refused(tmp_path / "t.parquet")
    assert "holds int" in refused(tmp_path / "t.parquet")
    assert "holds only numbers (such as '0'), not text" in refused(tmp_path / "t.csv")


def test_a_gzip_csv_with_a_header_only_is_refused(tmp_path):
    with gzip.open(tmp_path / "t.csv.gz", "wt") as stream:
        stream.write("text,label\n")

    assert "has a header but no rows" in refused(tmp_path / "t.csv.gz")


def test_a_parquet_label_of_a_type_that_is_no_class_is_refused(tmp_path):
    frame = reviews()
    table = pa.table({"text": frame["text"], "label": [[1]] * len(frame)})
    pq.write_table(table, tmp_path / "t.parquet")

    assert "not a class name" in refused(tmp_path / "t.parquet")


@pytest.mark.parametrize("test_table", [False, True])
def test_a_table_read_in_small_chunks_prepares_to_the_same_folder(
    tmp_path, monkeypatch, test_table
):
    """Chunks of 7 rows: the spill file has many row groups, the splits' rows are spread
    over them, and train and test share texts across chunk boundaries."""
    import imdb_rnn.tables

    frame = reviews(("neg", "pos", "meh"), per_class=30, seed=4)
    frame = pd.concat([frame, frame.iloc[::9]], ignore_index=True)  # texts in two places
    folders = {}
    for chunk_rows in (50_000, 7):
        monkeypatch.setattr(imdb_rnn.tables, "CHUNK_ROWS", chunk_rows)
        folder = tmp_path / str(chunk_rows)
        folder.mkdir()
        frame.iloc[:80].to_csv(folder / "train.csv", index=False)
        frame.iloc[80:].to_csv(folder / "test.csv", index=False)
        if test_table:
            folders[chunk_rows] = prepare_table(folder / "train.csv", test=folder / "test.csv")
        else:
            frame.to_csv(folder / "all.csv", index=False)
            folders[chunk_rows] = prepare_table(folder / "all.csv")

    whole, chunked = folders[50_000], folders[7]
    for split in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(load_split(whole, split), load_split(chunked, split))
    manifests = [json.loads((p.directory / MANIFEST_FILE).read_text()) for p in (whole, chunked)]
    for manifest in manifests:
        del manifest["seconds"], manifest["files"]
        manifest["source"] = manifest["card"]["source"] = None
    assert manifests[0] == manifests[1]
    assert manifests[0]["card"]["duplicates"]["test_rows"] > 0
    assert len(manifests[0]["card"]["duplicates"]["examples"]) == 3
