"""Fetching and verifying the archive: local paths, file:// and HTTP, with retries."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from imdb_rnn.aclimdb import tree_sha256
from imdb_rnn.config import SourceConfig
from imdb_rnn.errors import (
    ChecksumMismatchError,
    DataSourceError,
    DownloadError,
)
from imdb_rnn.sources import LocalSource, expected_sha256
from imdb_rnn.storage import DataStore
from tasks.download import fetch_archive
from tests.samples import OTHER_SHA, files_under


class FlakyServer:
    """Answers the first ``failures`` GETs with ``status``, then serves ``payload``."""

    def __init__(self, payload: bytes, failures: int, status: int) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests += 1
                if outer.requests <= failures:
                    self.send_error(status)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/aclImdb.tar.gz"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_download(url: str, sha256: str, data_dir):
    from prefect import flow

    from tasks.download import download_archive

    quick = download_archive.with_options(retry_delay_seconds=0)

    @flow
    def fetch_only():
        return quick(SourceConfig(source=url, sha256=sha256), DataStore.open(str(data_dir)))

    return fetch_only()


def test_local_archive_with_given_sha256_is_verified_in_place(fake_archive, tmp_path):
    archives = tmp_path / "data" / "archives"
    config = SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256.upper())

    source = fetch_archive(config, archives)

    assert source == LocalSource(
        fake_archive.path.resolve(), fake_archive.sha256, "archive", str(fake_archive.path)
    )
    assert not archives.exists()  # a local archive is not copied into the cache


def test_local_archive_with_sidecar_checksum(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text(f"{fake_archive.sha256.upper()}  {fake_archive.path.name}\n")

    assert expected_sha256(str(fake_archive.path), None) == fake_archive.sha256
    source = fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    assert source.sha256 == fake_archive.sha256
    assert source.path == fake_archive.path.resolve()
    assert source.kind == "archive"


def test_local_archive_sidecar_that_disagrees_is_a_mismatch(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text(OTHER_SHA + "\n")

    with pytest.raises(ChecksumMismatchError) as caught:
        fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    assert OTHER_SHA in str(caught.value)
    assert fake_archive.sha256 in str(caught.value)


def test_local_archive_sidecar_without_a_checksum_is_rejected(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text("not-a-checksum aclImdb_test.tar.gz\n")

    with pytest.raises(DataSourceError, match="64 hex digits") as caught:
        fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    assert str(sidecar) in str(caught.value)


def test_local_archive_without_any_checksum_tells_the_user_its_sha256(fake_archive, tmp_path):
    actual = hashlib.sha256(fake_archive.path.read_bytes()).hexdigest()

    with pytest.raises(DataSourceError) as caught:
        fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    message = str(caught.value)
    assert f"--sha256 {actual}" in message
    assert not isinstance(caught.value, ChecksumMismatchError)


def test_missing_local_source_is_a_data_source_error(tmp_path):
    missing = tmp_path / "nowhere.tar.gz"

    with pytest.raises(DataSourceError, match="does not exist") as caught:
        fetch_archive(SourceConfig(source=str(missing), sha256=OTHER_SHA), tmp_path / "archives")

    assert str(missing) in str(caught.value)


def test_unsupported_url_scheme_is_rejected(tmp_path):
    with pytest.raises(DataSourceError, match="unsupported URL scheme 'ftp'"):
        fetch_archive(SourceConfig(source="ftp://example.org/a.tar.gz"), tmp_path / "archives")


def test_file_url_source_is_verified(fake_archive, tmp_path):
    url = fake_archive.path.as_uri()
    assert url.startswith("file://")

    source = fetch_archive(SourceConfig(source=url, sha256=fake_archive.sha256), tmp_path / "a")

    assert source == LocalSource(fake_archive.path.resolve(), fake_archive.sha256, "archive", url)


def test_file_url_source_reads_the_sidecar(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text(fake_archive.sha256 + "\n")

    assert expected_sha256(fake_archive.path.as_uri(), None) == fake_archive.sha256


def test_http_download_is_cached_under_its_sha256(fake_archive, http_server, tmp_path):
    archives = tmp_path / "data" / "raw" / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"
    config = SourceConfig(source=url, sha256=fake_archive.sha256, timeout_seconds=10)

    first = fetch_archive(config, archives)

    cached = archives / f"{fake_archive.sha256}.tar.gz"
    assert first == LocalSource(cached, fake_archive.sha256, "archive", url)
    assert cached.read_bytes() == fake_archive.path.read_bytes()
    assert files_under(archives) == [f"{fake_archive.sha256}.tar.gz"]
    assert http_server.requests == [f"/{fake_archive.path.name}"]

    mtime = cached.stat().st_mtime_ns
    second = fetch_archive(config, archives)

    assert second == first
    assert len(http_server.requests) == 1  # served from the cache, not downloaded again
    assert cached.stat().st_mtime_ns == mtime


def test_http_download_replaces_a_corrupt_cached_copy(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    cached = archives / f"{fake_archive.sha256}.tar.gz"
    cached.write_bytes(b"half a download")
    url = f"{http_server.url}/{fake_archive.path.name}"

    fetch_archive(SourceConfig(source=url, sha256=fake_archive.sha256), archives)

    assert len(http_server.requests) == 1
    assert cached.read_bytes() == fake_archive.path.read_bytes()
    assert files_under(archives) == [cached.name]


def test_http_checksum_mismatch_caches_nothing(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"

    with pytest.raises(ChecksumMismatchError) as caught:
        fetch_archive(SourceConfig(source=url, sha256=OTHER_SHA), archives)

    message = str(caught.value)
    assert OTHER_SHA in message
    assert fake_archive.sha256 in message
    assert url in message
    assert len(http_server.requests) == 1  # it did download, then refused the bytes
    assert files_under(archives) == []  # no cached file and no leftover temporary file


def test_http_404_is_a_permanent_download_error(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    url = f"{http_server.url}/missing.tar.gz"

    with pytest.raises(DownloadError) as caught:
        fetch_archive(SourceConfig(source=url, sha256=fake_archive.sha256), archives)

    assert caught.value.transient is False
    assert url in str(caught.value)
    assert "404" in str(caught.value)
    assert http_server.requests == ["/missing.tar.gz"]
    assert files_under(archives) == []


def test_remote_url_without_checksum_fails_before_any_request(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"

    with pytest.raises(DataSourceError, match="--sha256") as caught:
        fetch_archive(SourceConfig(source=url), archives)

    assert not isinstance(caught.value, DownloadError)
    assert url in str(caught.value)
    assert http_server.requests == []
    assert not archives.exists()


def test_folder_source_checksum_changes_when_one_review_changes(fake_dataset, tmp_path):
    config = SourceConfig(source=str(fake_dataset.root))
    before = fetch_archive(config, tmp_path / "archives")
    review = fake_dataset.files[5]
    review.write_text(review.read_text(encoding="utf-8") + " changed", encoding="utf-8")

    after = fetch_archive(config, tmp_path / "archives")

    assert after.sha256 != before.sha256
    assert after.sha256 == tree_sha256(fake_dataset.root)


@pytest.mark.flow
def test_server_errors_are_retried_until_the_download_succeeds(
    prefect_harness, fake_archive, tmp_path
):
    server = FlakyServer(fake_archive.path.read_bytes(), failures=2, status=500)
    try:
        source = run_download(server.url, fake_archive.sha256, tmp_path / "data")
    finally:
        server.close()
    assert server.requests == 3
    assert source.path == tmp_path / "data" / "raw" / "archives" / f"{fake_archive.sha256}.tar.gz"


@pytest.mark.flow
def test_not_found_fails_at_once_without_retries(prefect_harness, fake_archive, tmp_path):
    server = FlakyServer(b"", failures=100, status=404)
    try:
        with pytest.raises(DownloadError, match=r"HTTP 404.*aclImdb\.tar\.gz"):
            run_download(server.url, fake_archive.sha256, tmp_path / "data")
    finally:
        server.close()
    assert server.requests == 1
    assert not list((tmp_path / "data" / "raw" / "archives").glob("*"))
