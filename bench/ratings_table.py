"""Write the aclImdb reviews as a table of labeled text, for the own-data path.

    python -m bench.ratings_table [--archive ARCHIVE] [--out FILE]

One row per review of the archive: ``text``, ``rating`` (1-4 and 7-10: eight classes),
``sentiment`` (neg/pos) and ``split`` (train/test, as the archive splits them). The archive
is read as a stream, without unpacking 50,000 files. By default it is the canonical archive
that ``imdb-rnn run`` downloaded into ``data/raw/archives/``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from imdb_rnn.config import CANONICAL_SHA256

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARCHIVE = ROOT / "data" / "raw" / "archives" / f"{CANONICAL_SHA256}.tar.gz"
DEFAULT_OUT = ROOT / "data" / "tables" / "imdb-ratings.parquet"
_REVIEW = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def archive_rows(archive: Path) -> dict[str, list]:
    """The columns of the table, in the archive's order of members."""
    columns: dict[str, list] = {"text": [], "rating": [], "sentiment": [], "split": []}
    with tarfile.open(archive, mode="r|gz") as tar:
        for member in tar:
            match = _REVIEW.search(member.name)
            if not (match and member.isfile()):
                continue
            stream = tar.extractfile(member)
            assert stream is not None
            columns["text"].append(stream.read().decode("utf-8", errors="replace"))
            columns["rating"].append(int(match[4]))
            columns["sentiment"].append(match[2])
            columns["split"].append(match[1])
    return columns


def write_table(archive: Path, out: Path) -> int:
    columns = archive_rows(archive)
    if not columns["text"]:
        raise SystemExit(f"{archive} holds no aclImdb reviews")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    pq.write_table(pa.table(columns), partial, compression="zstd")
    partial.replace(out)
    return len(columns["text"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ratings_table", description=__doc__)
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help="aclImdb .tar.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Parquet file to write")
    args = parser.parse_args(argv)
    if not args.archive.is_file():
        print(
            f"{args.archive} does not exist: run `imdb-rnn run` once to download the archive, "
            "or pass --archive",
            file=sys.stderr,
        )
        return 2
    rows = write_table(args.archive, args.out)
    print(f"Wrote {rows:,} reviews to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
