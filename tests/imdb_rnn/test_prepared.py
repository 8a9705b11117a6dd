"""The prepared-data contract: fingerprint, Parquet schema and metadata, and its checks."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig, TableConfig
from imdb_rnn.errors import DataContractError
from imdb_rnn.files import sha256_json
from imdb_rnn.prepared import FORMAT_VERSION, fingerprint, load_arrays, load_split
from tasks.prepare import prepare_dataset
from tests.conftest import (
    make_aclimdb,
)
from tests.samples import CONFIG, MAXLEN, SOURCE_SHA, read_metadata


@pytest.fixture
def raw(tmp_path) -> RawDataset:
    dataset = make_aclimdb(tmp_path / "source")  # 12 reviews per label in train and in test
    return RawDataset(dataset.root, sha256=SOURCE_SHA, origin="test")


@pytest.fixture
def prepared(raw, tmp_path):
    return prepare_dataset(raw, CONFIG, tmp_path / "processed")


def test_parquet_schema_and_metadata(prepared):
    for split in ("train", "validation", "test"):
        path = prepared.split_path(split)
        schema = pq.read_schema(path)

        assert schema.field("tokens").type == pa.list_(pa.int32(), MAXLEN)
        assert str(schema.field("tokens").type).startswith("fixed_size_list<")
        assert schema.field("n_tokens").type == pa.int32()
        assert schema.field("label").type == pa.int8()
        assert schema.field("review_id").type == pa.string()
        metadata = read_metadata(path)
        assert metadata["fingerprint"] == prepared.fingerprint
        assert metadata["source_sha256"] == SOURCE_SHA
        assert metadata["maxlen"] == MAXLEN
        assert metadata["padding"] == "pre"
        assert metadata["truncating"] == "pre"
        assert metadata["split"] == split


def test_fingerprint_is_stable_for_equal_inputs():
    one = fingerprint(SOURCE_SHA, PreprocessConfig())
    two = fingerprint("a" * 64, PreprocessConfig(vocab_size=10_000, maxlen=200))

    assert one == two
    assert len(one) == 16
    assert int(one, 16) >= 0  # hexadecimal


@pytest.mark.parametrize(
    "change",
    [
        {"vocab_size": 9_999},
        {"maxlen": 201},
        {"padding": "post"},
        {"truncating": "post"},
        {"validation_fraction": 0.25},
        {"split_seed": 43},
        {"max_reviews_per_split": 100},
        {"invalid_reviews": "skip"},
        {"drop_test_duplicates": True},
    ],
    ids=lambda change: next(iter(change)),
)
def test_fingerprint_changes_with_every_preprocessing_parameter(change):
    base = fingerprint(SOURCE_SHA, PreprocessConfig())

    assert fingerprint(SOURCE_SHA, PreprocessConfig(**change)) != base


def test_fingerprint_changes_with_the_source():
    assert fingerprint("b" * 64, PreprocessConfig()) != fingerprint(SOURCE_SHA, PreprocessConfig())


def test_fingerprint_of_a_default_prepare_is_the_one_before_drop_test_duplicates_existed():
    # Folders prepared before the setting existed keep their names, and so do their models.
    before = sha256_json(
        {
            "format": FORMAT_VERSION,
            "source": SOURCE_SHA,
            "preprocess": PreprocessConfig().model_dump(exclude={"drop_test_duplicates"}),
        }
    )[:16]

    assert fingerprint(SOURCE_SHA, PreprocessConfig()) == before


def test_fingerprint_of_a_table_changes_with_how_it_is_read_but_not_where_its_test_is():
    base = fingerprint(SOURCE_SHA, PreprocessConfig(), TableConfig())

    assert base != fingerprint(SOURCE_SHA, PreprocessConfig())
    assert fingerprint(SOURCE_SHA, PreprocessConfig(), TableConfig(text_column="body")) != base
    assert fingerprint(SOURCE_SHA, PreprocessConfig(), TableConfig(test_fraction=0.3)) != base
    assert (
        fingerprint(SOURCE_SHA, PreprocessConfig(), TableConfig(test_source="elsewhere.csv"))
        == base
    )


def test_fingerprint_covers_every_config_field():
    # If a field is added to PreprocessConfig, the parametrized test above must cover it.
    assert set(PreprocessConfig.model_fields) == {
        "vocab_size",
        "maxlen",
        "padding",
        "truncating",
        "validation_fraction",
        "split_seed",
        "max_reviews_per_split",
        "invalid_reviews",
        "drop_test_duplicates",
    }


def test_parquet_with_a_foreign_fingerprint_is_rejected(prepared):
    path = prepared.split_path("validation")
    table = pq.read_table(path)
    metadata = read_metadata(path) | {"fingerprint": "0123456789abcdef"}
    pq.write_table(
        table.replace_schema_metadata({b"imdb_rnn": json.dumps(metadata).encode()}), path
    )

    with pytest.raises(DataContractError, match="fingerprint 0123456789abcdef"):
        load_split(prepared, "validation")


def test_unreadable_parquet_is_a_data_contract_error(prepared):
    path = prepared.split_path("test")
    path.write_bytes(b"not parquet")

    with pytest.raises(DataContractError, match="not a readable Parquet file"):
        load_arrays(prepared, "test")


def test_a_folder_prepared_before_classes_and_cards_loads_with_both(tmp_path):
    from imdb_rnn.prepared import MANIFEST_FILE, load_prepared
    from tests.conftest import small_prepared

    prepared = small_prepared(tmp_path)
    manifest_path = prepared.directory / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    written_card = manifest.pop("card")
    del manifest["classes"]
    manifest_path.write_text(json.dumps(manifest))

    loaded = load_prepared(
        prepared.directory, prepared.fingerprint, prepared.source_sha256, prepared.preprocess
    )

    assert loaded.classes == ("neg", "pos")
    assert loaded.card["rows"] == written_card["rows"]
    assert loaded.card["tokens"] == written_card["tokens"]
    assert loaded.card["test_token_coverage"] == written_card["test_token_coverage"]
    assert loaded.card["duplicates"] == written_card["duplicates"]


def test_row_groups_change_the_file_layout_but_not_the_rows_read_back(prepared):
    import numpy as np

    from imdb_rnn.prepared import split_row_groups
    from tests.samples import regroup

    loaded = {split: load_arrays(prepared, split) for split in ("train", "validation")}
    frames = {split: load_split(prepared, split) for split in ("train", "validation")}
    assert split_row_groups(prepared, "train").group_rows == (18,)
    regroup(prepared, rows_per_group=4)
    for split in ("train", "validation"):
        assert pq.ParquetFile(prepared.split_path(split)).num_row_groups > 1
        for a, b in zip(loaded[split], load_arrays(prepared, split), strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
        assert frames[split].equals(load_split(prepared, split))

    source = split_row_groups(prepared, "train")
    assert source.group_rows == (4, 4, 4, 4, 2) and source.rows == 18 and source.maxlen == MAXLEN
    tokens, labels, lengths = loaded["train"]
    read_tokens, read_labels, read_lengths = source.read([3, 0])
    rows = np.r_[12:16, 0:4]
    np.testing.assert_array_equal(read_tokens, tokens[rows])
    assert read_tokens.dtype == np.int32 and read_tokens.shape == (8, MAXLEN)
    np.testing.assert_array_equal(read_labels, labels[rows])
    np.testing.assert_array_equal(read_lengths, lengths[rows])
