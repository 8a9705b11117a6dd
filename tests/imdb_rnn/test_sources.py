"""Where the reviews come from, and the checksum each kind of source must have."""

from __future__ import annotations

from imdb_rnn.config import CANONICAL_SHA256, CANONICAL_URL
from imdb_rnn.sources import expected_sha256


def test_expected_sha256_precedence():
    given = "ab" * 32
    assert expected_sha256(CANONICAL_URL, None) == CANONICAL_SHA256
    assert expected_sha256(CANONICAL_URL, given.upper()) == given
    assert expected_sha256("https://example.org/other.tar.gz", None) is None
    assert expected_sha256("http://example.org/other.tar.gz", given) == given
