"""Where the reviews come from, and how they become padded integer sequences."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from imdb_rnn.config.base import Frozen

CANONICAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"

CANONICAL_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"

_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class SourceConfig(Frozen):
    """Where the aclImdb reviews come from and how to verify them."""

    source: str = Field(
        default=CANONICAL_URL,
        description="http(s):// or file:// URL, or a local path to an aclImdb .tar.gz or folder.",
    )
    sha256: str | None = Field(
        default=None,
        description="Expected sha256 of the archive. Known for the canonical URL; "
        "read from '<file>.sha256' beside a local archive when omitted.",
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Network timeout in seconds.")

    @field_validator("source")
    @classmethod
    def _source_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source is empty; give a URL or a path to the aclImdb archive")
        return value.strip()

    @field_validator("sha256")
    @classmethod
    def _sha256_is_hex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalised = value.strip().lower()
        if not _SHA256_PATTERN.match(normalised):
            raise ValueError(f"sha256 must be 64 hex digits, got {value!r}")
        return normalised


class PreprocessConfig(Frozen):
    """How reviews become fixed-length integer sequences."""

    vocab_size: int = Field(
        default=10_000, ge=3, description="Token ids 0..vocab_size-1: 0 = padding, 1 = unknown."
    )
    maxlen: int = Field(default=200, gt=0, description="Length every sequence is padded or cut to.")
    padding: Literal["pre", "post"] = Field(default="pre", description="Side that gets the zeros.")
    truncating: Literal["pre", "post"] = Field(
        default="pre", description="Side that is cut from long reviews ('pre' keeps the ending)."
    )
    validation_fraction: float = Field(
        default=0.2, gt=0.0, lt=1.0, description="Share of train held out, stratified by label."
    )
    split_seed: int = Field(default=42, ge=0, description="Seed of the validation split.")
    max_reviews_per_split: int | None = Field(
        default=None,
        ge=4,
        description="Cap on reviews per split (balanced sample) for quick runs; None = all.",
    )
    invalid_reviews: Literal["fail", "skip"] = Field(
        default="fail",
        description="What to do with a review file that is empty, has no words once markup "
        "is removed, or is not named <id>_<rating>.txt with a rating in 1..10: 'fail' stops "
        "with its path; 'skip' leaves it out, logs it and lists it in the manifest.",
    )
