"""Where the reviews come from, and the checksum each kind of source must have."""

from __future__ import annotations

from pathlib import Path

import pytest

from imdb_rnn.config import CANONICAL_SHA256, CANONICAL_URL
from imdb_rnn.errors import DataSourceError
from imdb_rnn.sources import expected_sha256, is_url, local_path


def test_expected_sha256_precedence():
    given = "ab" * 32
    assert expected_sha256(CANONICAL_URL, None) == CANONICAL_SHA256
    assert expected_sha256(CANONICAL_URL, given.upper()) == given
    assert expected_sha256("https://example.org/other.tar.gz", None) is None
    assert expected_sha256("http://example.org/other.tar.gz", given) == given


def _archive_with_sidecar(folder: Path, sidecar_text: str) -> Path:
    archive = folder / "aclImdb.tar.gz"
    archive.write_bytes(b"not really an archive")
    archive.with_name("aclImdb.tar.gz.sha256").write_text(sidecar_text, encoding="utf-8")
    return archive


def test_a_sidecar_checksum_is_read_lower_case(tmp_path):
    digest = "C40F74A18D3B61F90FEBA1E17730E0D38E8B97C05FDE7008942E91923D1658FE"
    archive = _archive_with_sidecar(tmp_path, f"{digest}  aclImdb.tar.gz\n")
    assert expected_sha256(str(archive), None) == digest.lower()
    assert expected_sha256(archive.as_uri(), None) == digest.lower()


def test_a_given_checksum_wins_over_the_sidecar(tmp_path):
    archive = _archive_with_sidecar(tmp_path, "ab" * 32)
    assert expected_sha256(str(archive), "CD" * 32) == "cd" * 32


def test_a_local_archive_without_a_sidecar_has_no_expected_checksum(tmp_path):
    archive = tmp_path / "aclImdb.tar.gz"
    archive.write_bytes(b"bytes")
    assert expected_sha256(str(archive), None) is None


@pytest.mark.parametrize(
    "sidecar_text",
    ["", "   \n", "not-a-checksum aclImdb.tar.gz", "ab" * 31, "ab" * 33, "g" * 64],
)
def test_a_malformed_sidecar_is_refused_naming_the_file(tmp_path, sidecar_text):
    archive = _archive_with_sidecar(tmp_path, sidecar_text)
    with pytest.raises(DataSourceError) as caught:
        expected_sha256(str(archive), None)
    assert str(tmp_path / "aclImdb.tar.gz.sha256") in str(caught.value)
    assert "64 hex digits" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://example.org/aclImdb.tar.gz", "https://mirror.example/aclImdb_v1.tar.gz"]
)
def test_an_http_url_without_a_checksum_has_none(url):
    assert expected_sha256(url, None) is None
    assert expected_sha256(url, "") is None


def test_the_canonical_url_has_the_canonical_checksum():
    assert CANONICAL_URL == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert expected_sha256(CANONICAL_URL, None) == (
        "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    )


def test_a_file_url_names_its_local_path_with_spaces_decoded():
    assert local_path("file:///data/my%20reviews/aclImdb.tar.gz") == Path(
        "/data/my reviews/aclImdb.tar.gz"
    )
    assert local_path("file:///tmp/x") == Path("/tmp/x")


def test_a_home_path_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert local_path("~/aclImdb.tar.gz") == tmp_path / "aclImdb.tar.gz"
    assert local_path("relative/aclImdb") == Path("relative/aclImdb")
    assert local_path("/abs/aclImdb") == Path("/abs/aclImdb")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("C:\\data", False),
        ("C:\\data\\aclImdb.tar.gz", False),
        ("/data/aclImdb.tar.gz", False),
        ("data/aclImdb", False),
        ("~/aclImdb.tar.gz", False),
        ("https://example.org/a.tar.gz", True),
        ("file:///data/a.tar.gz", True),
        ("s3://bucket/a.tar.gz", True),
    ],
)
def test_is_url_only_for_scheme_slash_slash_sources(source, expected):
    assert is_url(source) is expected
