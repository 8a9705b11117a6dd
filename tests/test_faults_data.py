"""Faults in the data steps: each one gives a clear error (or recovers) and damages nothing.

Plain functions only (no Prefect, no TensorFlow). Each fault test checks both the outcome
and that the caches hold no partial, temporary or half-written file afterwards.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import multiprocessing
import os
import queue
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

import imdb_rnn.unpacked as unpacked
import tasks.download as download
from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig, SourceConfig
from imdb_rnn.errors import (
    ChecksumMismatchError,
    DataContractError,
    DatasetLayoutError,
    DataSourceError,
    DiskFullError,
    DownloadError,
)
from imdb_rnn.paths import DataPaths
from imdb_rnn.prepared import PreparedData, fingerprint, load_split
from imdb_rnn.unpacked import REVIEWS_FILE
from tasks.download import fetch_archive
from tasks.prepare import prepare_dataset
from tasks.unpack import extract_archive, locate_dataset
from tests.conftest import make_aclimdb, make_tarball

OTHER_SHA = "0" * 64


MAXLEN = 50


# 12 reviews per label and split; a quarter of train held out: 18 train, 6 validation, 24 test.
CONFIG = PreprocessConfig(maxlen=MAXLEN, validation_fraction=0.25)


ROWS = {"train": 18, "validation": 6, "test": 24}


PREPARE_LOG = "tasks.prepare"


def leftovers(folder: Path) -> list[str]:
    """Every entry below ``folder``, files and folders, hidden ones included."""
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, mtime) of every file below ``folder``."""
    return {
        p.relative_to(folder).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_chain(config: SourceConfig, paths: DataPaths, preprocess: PreprocessConfig = CONFIG):
    """The data steps of the flow, in order: fetch -> unpack -> prepare."""
    source = fetch_archive(config, paths.archives)
    raw = locate_dataset(source, paths)
    return prepare_dataset(raw, preprocess, paths.processed)


def tarball_bytes(members: dict[str, bytes | None]) -> bytes:
    """A .tar.gz in memory; a ``None`` value is an empty folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def layout_members(skip: str = "") -> dict[str, bytes | None]:
    """Two reviews in each aclImdb folder except ``skip``; ``skip`` = "split/label"."""
    members: dict[str, bytes | None] = {}
    for split in ("train", "test"):
        for label, rating in (("pos", 8), ("neg", 2)):
            folder = f"aclImdb/{split}/{label}"
            members[folder] = None
            if f"{split}/{label}" != skip:
                for i in range(2):
                    members[f"{folder}/{i}_{rating}.txt"] = f"a {label} review".encode()
    return members


def _truncated(good: bytes) -> bytes:
    return good[: len(good) // 2]


def _bit_flipped(good: bytes) -> bytes:
    middle = len(good) // 2
    return good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :]


BROKEN_ARCHIVES: dict[str, tuple[Callable[[bytes], bytes], type[Exception], str]] = {
    "truncated": (_truncated, DataSourceError, "is not a readable .tar.gz"),
    "bit-flipped": (_bit_flipped, DataSourceError, "is not a readable .tar.gz"),
    "not-an-archive": (lambda _: b"<html>Not found</html>", DataSourceError, "not a readable"),
    "other-layout": (
        lambda _: tarball_bytes({"photos/cat.txt": b"meow", "notes/README": b"hi"}),
        DatasetLayoutError,
        "holds no reviews in the aclImdb layout",
    ),
    "empty-split": (
        lambda _: tarball_bytes(layout_members(skip="test/neg")),
        DatasetLayoutError,
        "whole aclImdb layout: no reviews in test/neg/; nothing was extracted",
    ),
    "missing-folder": (
        lambda _: tarball_bytes(
            {k: v for k, v in layout_members().items() if not k.startswith("aclImdb/test/neg")}
        ),
        DatasetLayoutError,
        "whole aclImdb layout: no reviews in test/neg/; nothing was extracted",
    ),
}


class MisbehavingServer:
    """HTTP/1.1 on 127.0.0.1 serving ``payload``; request N acts out ``faults[N]``, then "ok".

    Faults: "drop" (full Content-Length, half the body, then close), "reset" (half the body,
    then a TCP reset), "chunked-drop" (one chunk of a chunked body, then close), "stall" (no
    answer), "stall-body" (headers and half the body, then nothing) and "bad-length" (the
    whole body under a Content-Length that is not a number). A stall lasts at most
    ``stall_seconds`` or until ``close()``; the accept loop stops on ``close()`` too.
    """

    def __init__(self, payload: bytes, faults: list[str], stall_seconds: float = 8.0) -> None:
        self.payload = payload
        self.faults = list(faults)
        self.stall_seconds = stall_seconds
        self.requests: list[dict[str, str]] = []
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/aclImdb.tar.gz"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(self.stall_seconds)
            request = b""
            while b"\r\n\r\n" not in request:
                data = connection.recv(4096)
                if not data:
                    return
                request += data
            lines = request.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            with self._lock:
                fault = self.faults.pop(0) if self.faults else "ok"
                self.requests.append({"line": lines[0], "fault": fault, **headers})
            half = self.payload[: len(self.payload) // 2]
            length = f"Content-Length: {len(self.payload)}\r\n"
            if fault == "stall":
                self._stopped.wait(self.stall_seconds)
            elif fault == "ok":
                connection.sendall(self._head(length) + self.payload)
            elif fault == "bad-length":
                connection.sendall(self._head("Content-Length: lots\r\n") + self.payload)
            elif fault == "chunked-drop":
                chunk = f"{len(half):x}\r\n".encode() + half + b"\r\n"
                connection.sendall(self._head("Transfer-Encoding: chunked\r\n") + chunk)
            else:
                connection.sendall(self._head(length) + half)
                if fault == "reset":  # close with a zero linger time: RST instead of FIN
                    linger = struct.pack("ii", 1, 0)
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                elif fault == "stall-body":
                    self._stopped.wait(self.stall_seconds)

    @staticmethod
    def _head(extra: str) -> bytes:
        return f"HTTP/1.1 200 OK\r\n{extra}Connection: close\r\n\r\n".encode()


@pytest.fixture
def misbehaving(fake_archive):
    servers: list[MisbehavingServer] = []

    def start(*faults: str) -> MisbehavingServer:
        servers.append(MisbehavingServer(fake_archive.path.read_bytes(), list(faults)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


INVALID_REVIEWS = {
    "empty": ("train/pos/100_8.txt", b"", "the review is empty"),
    "whitespace": ("train/neg/101_2.txt", b"  \n\t \r\n", "the review is empty"),
    "only-markup": ("test/pos/102_9.txt", b"<br /><br /><i></i>", "no words are left"),
    "bad-name": ("train/pos/notes.txt", b"great film", "<id>_<rating>.txt"),
    "rating-11": ("test/neg/103_11.txt", b"awful film", "rating 11 is outside 1..10"),
    "rating-0": ("train/neg/104_0.txt", b"awful film", "rating 0 is outside 1..10"),
}


def _rewrite_split(path: Path, change: Callable[[pa.Table, dict], tuple[pa.Table, dict]]) -> None:
    table = pq.read_table(path)
    metadata = json.loads(table.schema.metadata[b"imdb_rnn"])
    table, metadata = change(table.replace_schema_metadata(None), metadata)
    pq.write_table(table.replace_schema_metadata({b"imdb_rnn": json.dumps(metadata)}), path)


def _tokens_as_int64(table: pa.Table, metadata: dict) -> tuple[pa.Table, dict]:
    index = table.schema.get_field_index("tokens")
    wide = table.column("tokens").cast(pa.list_(pa.int64(), MAXLEN))
    return table.set_column(index, pa.field("tokens", wide.type, nullable=False), wide), metadata


def _labels_flipped(table: pa.Table, metadata: dict) -> tuple[pa.Table, dict]:
    index = table.schema.get_field_index("label")
    flipped = pa.array([1 - v for v in table.column("label").to_pylist()], type=pa.int8())
    return table.set_column(index, table.schema.field("label"), flipped), metadata


TAMPERING: dict[str, Callable[[PreparedData], None]] = {
    "schema": lambda p: _rewrite_split(p.split_path("train"), _tokens_as_int64),
    "fingerprint": lambda p: _rewrite_split(
        p.split_path("validation"), lambda t, m: (t, m | {"fingerprint": "0123456789abcdef"})
    ),
    "format-version": lambda p: _rewrite_split(
        p.split_path("test"), lambda t, m: (t, m | {"format_version": 0})
    ),
    "rows-edited": lambda p: _rewrite_split(p.split_path("train"), _labels_flipped),
    "split-deleted": lambda p: p.split_path("test").unlink(),
    "vocab-edited": lambda p: (p.directory / "vocab.json").write_text('["<pad>", "<unk>"]'),
    "manifest-other-version": lambda p: (p.directory / "manifest.json").write_text(
        json.dumps(json.loads((p.directory / "manifest.json").read_text()) | {"format_version": 0})
    ),
}


def _disk_full(code: int = errno.ENOSPC) -> OSError:
    return OSError(code, os.strerror(code))


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _race_worker(archive: str, sha: str, data_dir: str, barrier, results) -> None:
    """Runs in a fresh (spawned) process: extract, then prepare, from the same start line."""
    handler = _ListHandler()
    logger = logging.getLogger(f"race.{os.getpid()}")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    paths = DataPaths(Path(data_dir))
    barrier.wait(timeout=60)
    root = extract_archive(Path(archive), sha, paths.extracted, logger)
    prepared = prepare_dataset(RawDataset(root, sha, "race"), CONFIG, paths.processed, logger)
    results.put(
        {
            "root": str(root),
            "directory": str(prepared.directory),
            "reused": prepared.reused,
            "messages": handler.messages,
        }
    )


def test_http_checksum_mismatch_caches_nothing_and_the_right_checksum_then_works(
    fake_archive, http_server, tmp_path
):
    archives = tmp_path / "data" / "raw" / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"
    actual = hashlib.sha256(fake_archive.path.read_bytes()).hexdigest()

    with pytest.raises(ChecksumMismatchError) as caught:
        fetch_archive(SourceConfig(source=url, sha256=OTHER_SHA), archives)

    message = str(caught.value)
    assert f"expected sha256 {OTHER_SHA}, got {actual}" in message
    assert url in message
    assert "\n" not in message
    assert leftovers(archives) == []  # neither the refused bytes nor a temporary file

    source = fetch_archive(SourceConfig(source=url, sha256=actual), archives)

    assert source.path == archives / f"{actual}.tar.gz"
    assert source.path.read_bytes() == fake_archive.path.read_bytes()
    assert leftovers(archives) == [f"{actual}.tar.gz"]
    assert len(http_server.requests) == 2  # the same server, asked again


@pytest.mark.parametrize("case", list(BROKEN_ARCHIVES))
def test_broken_archive_stops_the_chain_and_leaves_earlier_data_alone(
    fake_archive, http_server, tmp_path, case
):
    damage, error_type, reason = BROKEN_ARCHIVES[case]
    paths = DataPaths(tmp_path / "data")
    # An earlier, good run: its archive, extraction and prepared folder must survive.
    good_url = f"{http_server.url}/{fake_archive.path.name}"
    earlier = run_chain(SourceConfig(source=good_url, sha256=fake_archive.sha256), paths)
    before = snapshot(paths.root)
    # The broken archive is served with its own checksum, so it passes verification.
    broken = damage(fake_archive.path.read_bytes())
    broken_sha = hashlib.sha256(broken).hexdigest()
    (tmp_path / "served" / "broken.tar.gz").write_bytes(broken)

    with pytest.raises(error_type) as caught:
        run_chain(SourceConfig(source=f"{http_server.url}/broken.tar.gz", sha256=broken_sha), paths)

    message = str(caught.value)
    cached = paths.archives / f"{broken_sha}.tar.gz"
    assert reason in message
    assert str(cached) in message  # names the archive, not a temporary folder
    assert ".tmp" not in message
    assert "\n" not in message
    after = snapshot(paths.root)
    assert after.pop(f"raw/archives/{broken_sha}.tar.gz")[0] == broken_sha  # verified, kept
    assert after == before  # every earlier file is byte-for-byte and mtime the same
    assert [p.name for p in paths.extracted.iterdir()] == [fake_archive.sha256]
    assert [p.name for p in paths.processed.iterdir()] == [earlier.fingerprint]


def test_empty_split_archive_on_a_fresh_data_folder_writes_no_processed_folder(
    http_server, tmp_path
):
    paths = DataPaths(tmp_path / "data")
    archive = tarball_bytes(layout_members(skip="test/neg"))
    (tmp_path / "served" / "no-test-neg.tar.gz").write_bytes(archive)
    sha = hashlib.sha256(archive).hexdigest()
    config = SourceConfig(source=f"{http_server.url}/no-test-neg.tar.gz", sha256=sha)

    with pytest.raises(DatasetLayoutError, match=r"no reviews in test/neg/; nothing was"):
        run_chain(config, paths)

    assert leftovers(paths.archives) == [f"{sha}.tar.gz"]
    assert leftovers(paths.extracted) == []
    assert not paths.processed.exists()


def test_split_that_is_empty_after_skipping_invalid_reviews_writes_nothing(tmp_path):
    dataset = make_aclimdb(tmp_path / "source")
    for review in (dataset.root / "test" / "neg").glob("*.txt"):
        review.write_text("<br /><br />")  # only markup: no words once cleaned
    processed = tmp_path / "data" / "processed"
    config = CONFIG.model_copy(update={"invalid_reviews": "skip"})

    with pytest.raises(DatasetLayoutError) as caught:
        prepare_dataset(RawDataset(dataset.root, OTHER_SHA, "test"), config, processed)

    message = str(caught.value)
    assert message.startswith(f"test/neg/ under {dataset.root} has no usable reviews")
    assert "(12 invalid ones left out)" in message
    assert leftovers(processed) == []


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("drop", "closed after {half:,} of {size:,} bytes; "),
        ("reset", "was cut after {half:,} bytes ([Errno 104] Connection reset by peer); "),
        ("chunked-drop", "was cut after {half:,} bytes (IncompleteRead("),
    ],
)
def test_connection_dropped_mid_body_is_transient_and_the_next_fetch_starts_clean(
    fake_archive, misbehaving, tmp_path, fault, reason
):
    server = misbehaving(fault)
    archives = tmp_path / "data" / "raw" / "archives"
    config = SourceConfig(source=server.url, sha256=fake_archive.sha256, timeout_seconds=5)
    size = len(fake_archive.path.read_bytes())

    with pytest.raises(DownloadError) as caught:
        fetch_archive(config, archives)

    message = str(caught.value)
    assert caught.value.transient is True
    assert message.startswith(f"connection to {server.url} ")
    assert reason.format(half=size // 2, size=size) in message
    assert message.endswith("the partial download was discarded, a retry starts again")
    assert leftovers(archives) == []  # the half download is gone

    source = fetch_archive(config, archives)  # the server is healthy now

    assert source.path.read_bytes() == fake_archive.path.read_bytes()
    assert leftovers(archives) == [f"{fake_archive.sha256}.tar.gz"]
    assert [request["fault"] for request in server.requests] == [fault, "ok"]
    assert "Range" not in server.requests[1]  # a fresh download, not a resumed one


@pytest.mark.parametrize("fault", ["stall", "stall-body"])
def test_stalled_server_times_out_within_seconds(fake_archive, misbehaving, tmp_path, fault):
    server = misbehaving(fault)
    received = len(fake_archive.path.read_bytes()) // 2 if fault == "stall-body" else 0
    archives = tmp_path / "archives"
    config = SourceConfig(source=server.url, sha256=fake_archive.sha256, timeout_seconds=1)

    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch_archive(config, archives)
    elapsed = time.monotonic() - started

    message = str(caught.value)
    assert 0.9 < elapsed < 4  # the server would stall for 8 s
    assert message.startswith(
        f"download of {server.url} timed out: no data for 1 s (after {received:,} bytes); "
    )
    assert "--timeout" in message
    assert caught.value.transient is True
    assert leftovers(archives) == []


def test_malformed_content_length_is_ignored_and_the_checksum_decides(
    fake_archive, misbehaving, tmp_path
):
    server = misbehaving("bad-length")
    archives = tmp_path / "archives"

    source = fetch_archive(SourceConfig(source=server.url, sha256=fake_archive.sha256), archives)

    assert source.path.read_bytes() == fake_archive.path.read_bytes()
    assert [request["fault"] for request in server.requests] == ["bad-length"]


def test_invalid_utf8_is_replaced_counted_in_a_warning_and_kept(tmp_path, caplog):
    dataset = make_aclimdb(tmp_path / "source")
    bad_train = next((dataset.root / "train" / "pos").glob("5_*.txt"))
    bad_test = next((dataset.root / "test" / "neg").glob("2_*.txt"))
    bad_train.write_bytes(b"great film \xff\xfe superb")
    bad_test.write_bytes(b"awful \xc3( plot")  # \xc3 starts a 2-byte sequence "(" cannot end

    with caplog.at_level(logging.WARNING, logger=PREPARE_LOG):
        prepared = prepare_dataset(
            RawDataset(dataset.root, OTHER_SHA, "test"), CONFIG, tmp_path / "processed"
        )

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        f"1 train reviews were not valid UTF-8; bad bytes were replaced with U+FFFD: {bad_train}"
        in warnings
    )
    assert (
        f"1 test reviews were not valid UTF-8; bad bytes were replaced with U+FFFD: {bad_test}"
        in warnings
    )
    assert prepared.rows == ROWS  # nothing was dropped
    train = load_split(prepared, "train")
    texts = dict(zip(train["review_id"], train["text"], strict=True))
    validation = load_split(prepared, "validation")
    texts.update(zip(validation["review_id"], validation["text"], strict=True))
    assert texts["train/pos/5"] == "great film \ufffd\ufffd superb"
    test = load_split(prepared, "test")
    assert test.loc[test["review_id"] == "test/neg/2", "text"].item() == "awful \ufffd( plot"


@pytest.mark.parametrize("case", list(INVALID_REVIEWS))
def test_invalid_review_fails_naming_the_file_and_the_way_to_skip(tmp_path, case):
    relative, content, reason = INVALID_REVIEWS[case]
    dataset = make_aclimdb(tmp_path / "source")
    bad = dataset.root / relative
    bad.write_bytes(content)
    processed = tmp_path / "data" / "processed"

    with pytest.raises(DatasetLayoutError) as caught:
        prepare_dataset(RawDataset(dataset.root, OTHER_SHA, "test"), CONFIG, processed)

    message = str(caught.value)
    assert message.startswith(f"{bad}: ")
    assert reason in message
    assert message.endswith("or pass --invalid-reviews skip to leave such reviews out")
    assert leftovers(processed) == []  # no split, no staging folder, no lock file


def test_skipped_reviews_are_left_out_logged_and_listed_in_the_manifest(tmp_path, caplog):
    dataset = make_aclimdb(tmp_path / "source")
    for relative, content, _ in INVALID_REVIEWS.values():
        (dataset.root / relative).write_bytes(content)
    config = CONFIG.model_copy(update={"invalid_reviews": "skip"})
    raw = RawDataset(dataset.root, OTHER_SHA, "test")

    with caplog.at_level(logging.WARNING, logger=PREPARE_LOG):
        prepared = prepare_dataset(raw, config, tmp_path / "processed")

    # The six files were added beside the generated reviews, which are all kept.
    assert prepared.rows == ROWS
    ids = set(load_split(prepared, "train")["review_id"])
    ids |= set(load_split(prepared, "validation")["review_id"])
    ids |= set(load_split(prepared, "test")["review_id"])
    assert not ids & {"train/pos/100", "train/neg/101", "test/pos/102", "test/neg/103"}
    assert not ids & {"train/neg/104"}
    manifest = json.loads((prepared.directory / "manifest.json").read_text())
    assert {split: sorted(paths) for split, paths in manifest["skipped"].items()} == {
        "train": [
            "train/neg/101_2.txt",
            "train/neg/104_0.txt",
            "train/pos/100_8.txt",
            "train/pos/notes.txt",
        ],
        "test": ["test/neg/103_11.txt", "test/pos/102_9.txt"],
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    train_warning = next(w for w in warnings if w.startswith("Skipped 4 invalid train reviews"))
    # The first three are named, with their reason; the fourth is counted.
    assert train_warning.count(str(dataset.root)) == 3
    assert train_warning.endswith(" and 1 more")
    assert f"{dataset.root / 'train/pos/notes.txt'} (review file names must look like" in (
        train_warning
    )
    test_warning = next(w for w in warnings if w.startswith("Skipped 2 invalid test reviews"))
    assert f"{dataset.root / 'test/neg/103_11.txt'} (rating 11 is outside 1..10)" in test_warning
    assert f"{dataset.root / 'test/pos/102_9.txt'} (no words are left" in test_warning

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=PREPARE_LOG):
        again = prepare_dataset(raw, config, tmp_path / "processed")

    assert again.reused is True
    assert any("6 invalid reviews were left out" in r.getMessage() for r in caplog.records)


def test_skip_and_fail_are_different_prepares(tmp_path):
    skip = CONFIG.model_copy(update={"invalid_reviews": "skip"})

    assert CONFIG.invalid_reviews == "fail"
    assert fingerprint(OTHER_SHA, skip) != fingerprint(OTHER_SHA, CONFIG)
    with pytest.raises(ValidationError, match="'fail' or 'skip'"):
        PreprocessConfig(invalid_reviews="ignore")


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampered_prepared_folder_is_rebuilt_not_used(tmp_path, caplog, case):
    dataset = make_aclimdb(tmp_path / "source")
    raw = RawDataset(dataset.root, OTHER_SHA, "test")
    processed = tmp_path / "processed"
    original = prepare_dataset(raw, CONFIG, processed)
    labels = load_split(original, "train").set_index("review_id")["label"].to_dict()
    TAMPERING[case](original)

    with caplog.at_level(logging.WARNING, logger=PREPARE_LOG):
        rebuilt = prepare_dataset(raw, CONFIG, processed)

    assert rebuilt.reused is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Rebuilding {original.directory}: ")
    assert rebuilt.directory == original.directory
    assert rebuilt.rows == ROWS
    assert load_split(rebuilt, "train").set_index("review_id")["label"].to_dict() == labels
    assert sorted(p.name for p in processed.iterdir()) == [original.fingerprint]


@pytest.mark.parametrize(
    ("case", "split", "problem"),
    [
        ("schema", "train", "schema review_id: string"),
        ("fingerprint", "validation", "fingerprint 0123456789abcdef != "),
        ("format-version", "test", "format_version 0 != 1"),
    ],
)
def test_loading_a_split_from_another_version_fails_with_the_mismatch(
    tmp_path, case, split, problem
):
    dataset = make_aclimdb(tmp_path / "source")
    prepared = prepare_dataset(
        RawDataset(dataset.root, OTHER_SHA, "test"), CONFIG, tmp_path / "processed"
    )
    TAMPERING[case](prepared)

    with pytest.raises(DataContractError) as caught:
        load_split(prepared, split)

    message = str(caught.value)
    assert message.startswith(f"{prepared.split_path(split)} does not match this prepare: ")
    assert problem in message
    assert message.endswith("delete its folder to rebuild it")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=["ENOSPC", "EDQUOT"])
def test_disk_full_during_prepare_keeps_no_half_folder(tmp_path, monkeypatch, code):
    dataset = make_aclimdb(tmp_path / "source")
    raw = RawDataset(dataset.root, OTHER_SHA, "test")
    processed = tmp_path / "data" / "processed"
    earlier = prepare_dataset(raw, CONFIG.model_copy(update={"maxlen": 20}), processed)
    before = snapshot(processed)
    real_write = pq.ParquetWriter.write_table
    written: list[str] = []
    at_failure: list[str] = []

    def write_until_full(writer, table, *args, **kwargs):
        # train.parquet is written whole; validation.parquet is opened, then no space.
        if written:
            at_failure.extend(leftovers(processed))
            raise _disk_full(code)
        written.append(Path(writer.where).name)
        real_write(writer, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_until_full)
    fp = fingerprint(OTHER_SHA, CONFIG)

    with pytest.raises(DiskFullError) as caught:
        prepare_dataset(raw, CONFIG, processed)

    assert str(caught.value) == (
        f"{os.strerror(code)} while writing {processed / fp / 'validation.parquet'}; "
        "nothing half-written was kept: free some disk space, "
        "or use --data-dir to write to a disk with room"
    )
    assert written == ["train.parquet"]
    staged = [name for name in at_failure if name.startswith(f".{fp}.")]
    assert [name.rsplit("/", 1)[-1] for name in staged[1:]] == [
        "train.parquet",
        "validation.parquet",
    ]  # a real half-written folder existed, and is gone now
    assert sorted(p.name for p in processed.iterdir()) == [earlier.fingerprint]
    assert snapshot(processed) == before


def test_disk_full_during_download_keeps_no_partial_file(
    fake_archive, http_server, tmp_path, monkeypatch
):
    archives = tmp_path / "data" / "raw" / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"
    monkeypatch.setattr(download, "_CHUNK", 1024)  # several chunks: the first one lands
    real_write_chunk = download._write_chunk
    chunks: list[int] = []
    partial_sizes: list[int] = []

    class FullAfterOneChunk:
        def __init__(self, sink):
            self.sink = sink

        def write(self, chunk: bytes) -> int:
            if chunks:
                partial_sizes.extend(p.stat().st_size for p in archives.iterdir())
                raise _disk_full()
            chunks.append(len(chunk))
            return self.sink.write(chunk)

        def flush(self) -> None:
            self.sink.flush()

    def write_chunk(sink, chunk, target):
        real_write_chunk(FullAfterOneChunk(sink), chunk, target)

    monkeypatch.setattr(download, "_write_chunk", write_chunk)

    with pytest.raises(DiskFullError) as caught:
        fetch_archive(SourceConfig(source=url, sha256=fake_archive.sha256), archives)

    cached = archives / f"{fake_archive.sha256}.tar.gz"
    assert str(caught.value).startswith(f"No space left on device while writing {cached}; ")
    assert "--data-dir" in str(caught.value)
    assert not isinstance(caught.value, DownloadError)  # not a network hiccup: never retried
    assert len(chunks) == 1
    assert partial_sizes == chunks  # the first chunk was on disk in a temporary file ...
    assert leftovers(archives) == []  # ... which is gone


def test_disk_full_during_extraction_keeps_no_half_folder(fake_archive, tmp_path, monkeypatch):
    extracted = tmp_path / "data" / "raw" / "extracted"
    at_failure: list[str] = []

    def write_until_full(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half a table")
        at_failure.extend(leftovers(extracted))
        raise _disk_full()

    monkeypatch.setattr(unpacked.pq, "write_table", write_until_full)

    with pytest.raises(DiskFullError, match="No space left on device while writing"):
        extract_archive(fake_archive.path, fake_archive.sha256, extracted)

    assert any(name.endswith(f"/{REVIEWS_FILE}") for name in at_failure)  # it was staged ...
    assert leftovers(extracted) == []  # ... and is gone


def test_two_processes_extract_and_prepare_the_same_data_once(tmp_path):
    make_aclimdb(tmp_path / "source", per_label=75)  # big enough for the runs to overlap
    archive = tmp_path / "aclImdb.tar.gz"
    sha = make_tarball(tmp_path / "source", archive)
    paths = DataPaths(tmp_path / "data")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(
            target=_race_worker, args=(str(archive), sha, str(paths.root), barrier, results)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = [results.get(timeout=60) for _ in workers]
    except queue.Empty:
        pytest.fail("a worker died; its traceback is in the captured stderr")
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0]

    messages = [m for outcome in outcomes for m in outcome["messages"]]
    assert sum(m.startswith("Extracted 300 reviews") for m in messages) == 1  # 4 folders x 75
    assert sum(m.startswith("Archive already extracted at") for m in messages) == 1
    assert sorted(outcome["reused"] for outcome in outcomes) == [False, True]
    assert sum(m.startswith("Prepared ") for m in messages) == 1
    assert {outcome["root"] for outcome in outcomes} == {str(paths.extracted / sha)}
    fp = fingerprint(sha, CONFIG)
    assert {outcome["directory"] for outcome in outcomes} == {str(paths.processed / fp)}
    # No staging folder or lock file left, and the folder is a valid prepare.
    assert sorted(p.name for p in paths.extracted.iterdir()) == [sha]
    assert sorted(p.name for p in paths.processed.iterdir()) == [fp]
    prepared = prepare_dataset(
        RawDataset(Path(outcomes[0]["root"]), sha, "race"), CONFIG, paths.processed
    )
    assert prepared.reused is True
    # 150 training reviews, a quarter held out: round(37.5) = 38 validation, 112 train.
    assert prepared.rows == {"train": 112, "validation": 38, "test": 150}
    assert len(load_split(prepared, "test")) == 150
