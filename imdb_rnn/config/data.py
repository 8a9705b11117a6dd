"""Where the reviews come from, and how they become padded integer sequences."""

from __future__ import annotations

import codecs
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
        description="http(s):// or file:// URL, an fsspec URL, or a local path: an aclImdb "
        ".tar.gz or folder, or a table of labeled text (.csv, .tsv, .parquet, .jsonl; "
        "compressed or not; see the table options).",
    )
    sha256: str | None = Field(
        default=None,
        description="Expected sha256 of the archive or table. Known for the canonical URL; "
        "read from '<file>.sha256' beside a local archive when omitted; a local table "
        "needs none (its checksum is computed).",
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
        description="What to do with a review that is empty or has no words once markup is "
        "removed, a review file not named <id>_<rating>.txt with a rating in 1..10, or a "
        "table row without text or label: 'fail' stops naming them; 'skip' leaves them out, "
        "logs them and counts them in the manifest.",
    )
    drop_test_duplicates: bool = Field(
        default=False,
        description="Leave out of test every review whose text (once cleaned) is also in "
        "train or validation, so that test measures reviews the model has not seen.",
    )

    def identity(self) -> dict[str, object]:
        """What identifies a prepare; a setting added later counts only when it is not at its
        default, so folders prepared before it existed keep their fingerprints."""
        values = self.model_dump()
        if not self.drop_test_duplicates:
            del values["drop_test_duplicates"]
        return values


TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".jsonl", ".ndjson", ".json")


class TableConfig(Frozen):
    """How a table of labeled text (CSV, TSV, Parquet or JSON Lines) is read; aclImdb
    sources ignore it."""

    text_column: str = Field(
        default="text",
        description="Column holding the text. When 'text' is missing, a column named review, "
        "content, sentence, document, body, comment, tweet or message is used.",
    )
    label_column: str = Field(
        default="label",
        description="Column holding the class: 0/1, true/false, names such as pos/neg, or any "
        "K > 2 strings or integers. When 'label' is missing, sentiment, class, category, "
        "target, rating, stars or y is used.",
    )
    split_column: str | None = Field(
        default=None,
        description="Column saying train or test (or validation) for each row. Without it, "
        "--test-source gives test, or a stratified --test-fraction of the rows is held out.",
    )
    test_source: str | None = Field(
        default=None,
        description="A second table, of the same columns, used as the test split.",
    )
    test_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Share of the rows held out for test, stratified by class and seeded by "
        "--split-seed, when the table has no split column and no --test-source is given.",
    )
    text_encoding: str = Field(
        default="utf-8",
        description="Encoding of CSV, TSV and JSON Lines files; bytes that are not valid in "
        "it are replaced with U+FFFD and counted.",
    )

    @field_validator("text_column", "label_column")
    @classmethod
    def _column_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a column name is empty; give the column's name as in the table")
        return value.strip()

    @field_validator("split_column", "test_source")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("text_encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value.strip()).name
        except LookupError:
            raise ValueError(
                f"unknown text encoding {value!r}; use a Python codec name such as utf-8, "
                "latin-1 or cp1252"
            ) from None

    def is_default(self) -> bool:
        return self == TableConfig()
