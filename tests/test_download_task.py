"""The download task's retry policy, under the Prefect test harness."""

from __future__ import annotations

import http.server
import threading

import pytest

from imdb_rnn.config import SourceConfig
from imdb_rnn.errors import DownloadError
from imdb_rnn.storage import DataStore

pytestmark = pytest.mark.flow


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


def test_not_found_fails_at_once_without_retries(prefect_harness, fake_archive, tmp_path):
    server = FlakyServer(b"", failures=100, status=404)
    try:
        with pytest.raises(DownloadError, match=r"HTTP 404.*aclImdb\.tar\.gz"):
            run_download(server.url, fake_archive.sha256, tmp_path / "data")
    finally:
        server.close()
    assert server.requests == 1
    assert not list((tmp_path / "data" / "raw" / "archives").glob("*"))
