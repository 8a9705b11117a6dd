"""Fetching a table source: local tables are checksummed where they are, remote ones are
verified when a checksum is given and cached by their checksum either way."""

from __future__ import annotations

import hashlib

import fsspec
import pytest

from imdb_rnn.config import SourceConfig, TableConfig
from imdb_rnn.errors import ChecksumMismatchError, ConfigError, DataSourceError
from imdb_rnn.sources import check_table_options, tables_sha256
from tasks.download import fetch_archive

TABLE = b"text,label\ngreat film,pos\nawful film,neg\n"
TEST_TABLE = b"text,label\nfine film,pos\n"


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_a_local_table_needs_no_checksum_and_is_used_where_it_is(tmp_path):
    table = tmp_path / "reviews.csv"
    table.write_bytes(TABLE)

    source = fetch_archive(SourceConfig(source=str(table)), tmp_path / "archives")

    assert (source.kind, source.path, source.sha256) == ("table", table, _sha(TABLE))
    assert not (tmp_path / "archives").exists()
    table.write_bytes(TABLE + b"fine film,pos\n")  # an edited table is another dataset
    assert fetch_archive(SourceConfig(source=str(table)), tmp_path / "a").sha256 != _sha(TABLE)


def test_a_given_checksum_is_checked_for_a_local_table(tmp_path):
    table = tmp_path / "reviews.csv"
    table.write_bytes(TABLE)

    with pytest.raises(ChecksumMismatchError, match=r"checksum mismatch for .*reviews\.csv"):
        fetch_archive(SourceConfig(source=str(table), sha256="0" * 64), tmp_path / "archives")


def test_a_test_table_joins_the_checksum(tmp_path):
    (tmp_path / "train.csv").write_bytes(TABLE)
    (tmp_path / "test.csv.gz").write_bytes(TEST_TABLE)
    table = TableConfig(test_source=str(tmp_path / "test.csv.gz"))

    source = fetch_archive(SourceConfig(source=str(tmp_path / "train.csv")), tmp_path, table=table)

    assert source.test_path == tmp_path / "test.csv.gz"
    assert source.sha256 == tables_sha256(_sha(TABLE), _sha(TEST_TABLE)) != _sha(TABLE)


def test_a_missing_local_table_is_named(tmp_path):
    with pytest.raises(DataSourceError, match=r"table .*nowhere.parquet does not exist"):
        fetch_archive(SourceConfig(source=str(tmp_path / "nowhere.parquet")), tmp_path)


def test_a_remote_table_is_cached_by_its_checksum_with_or_without_one_given(tmp_path, http_server):
    (tmp_path / "served" / "reviews.csv.gz").write_bytes(TABLE)
    url = f"{http_server.url}/reviews.csv.gz"
    archives = tmp_path / "archives"

    fetched = fetch_archive(SourceConfig(source=url), archives)
    assert fetched.path == archives / f"{_sha(TABLE)}.csv.gz"
    assert fetched.path.read_bytes() == TABLE
    assert [p.name for p in archives.iterdir()] == [fetched.path.name]  # nothing partial

    again = fetch_archive(SourceConfig(source=url, sha256=_sha(TABLE)), archives)
    assert again.path == fetched.path
    assert http_server.requests == ["/reviews.csv.gz"]  # the cached copy was used

    with pytest.raises(ChecksumMismatchError):
        fetch_archive(SourceConfig(source=url, sha256="1" * 64), archives)
    assert [p.name for p in archives.iterdir()] == [fetched.path.name]


def test_an_fsspec_table_is_copied_and_cached(tmp_path):
    url = f"memory://tables-{tmp_path.name}/reviews.jsonl"
    with fsspec.open(url, "wb") as stream:
        stream.write(b'{"text": "great film", "label": 1}\n')

    fetched = fetch_archive(SourceConfig(source=url), tmp_path / "archives")

    assert fetched.path.name.endswith(".jsonl") and fetched.kind == "table"
    with pytest.raises(DataSourceError, match="does not exist"):
        fetch_archive(SourceConfig(source=url + "-missing.jsonl"), tmp_path / "archives")


@pytest.mark.parametrize(
    ("source", "table", "message"),
    [
        (
            "data/aclImdb_v1.tar.gz",
            TableConfig(text_column="body", test_fraction=0.3),
            r"text_column \(--text-column\), test_fraction \(--test-fraction\) apply to a table",
        ),
        (
            "t.csv",
            TableConfig(split_column="part", test_source="test.csv"),
            "give one of them",
        ),
        ("t.csv", TableConfig(test_source="test.tar.gz"), "is not named as a table"),
    ],
)
def test_table_options_that_cannot_apply_are_refused_before_any_work(source, table, message):
    with pytest.raises(ConfigError, match=message):
        check_table_options(SourceConfig(source=source), table)


def test_an_unknown_text_encoding_is_refused():
    with pytest.raises(ValueError, match="unknown text encoding 'utf-99'"):
        TableConfig(text_encoding="utf-99")
