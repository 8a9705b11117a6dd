"""``imdb-rnn predict``: label review text with the champion model.

The champion (``imdb_rnn.champion``) carries its vocabulary and padding parameters; the
text is cleaned and split into words as the training data was, goes through the same
``SequenceEncoder``, and is scored by the same ``predict_probabilities`` as evaluation
(and a stack's combiner), so a review scores here what it scored in the report.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_rnn.champion import Champion
from imdb_rnn.errors import ConfigError
from imdb_rnn.files import atomic_path
from imdb_rnn.text import TokenLists
from rnn_models.inference import PREDICT_BATCH_SIZE

TEXT_COLUMNS = ("text", "review")
# Reviews cleaned and scored together: eight of the model's batches of 1,024 rows.
PREDICT_CHUNK = 8 * PREDICT_BATCH_SIZE


def read_review_file(path: Path) -> list[str]:
    """Reviews from a .txt (one per line), .csv or .parquet (a ``text`` or ``review`` column)."""
    if not path.is_file():
        raise ConfigError(f"--file {path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in {".txt", ".csv", ".parquet"}:
        raise ConfigError(f"--file {path}: use a .txt, .csv or .parquet file, not {suffix!r}")
    if suffix == ".parquet":
        return _text_column(pd.read_parquet(path), path)
    text, valid_utf8 = _decoded(path)
    if suffix == ".txt":
        reviews = [line for line in text.splitlines() if line.strip()]
    else:
        reviews = _text_column(pd.read_csv(io.StringIO(text)), path)
    if not valid_utf8:
        _warn_replaced(path, reviews)
    return reviews


def _decoded(path: Path) -> tuple[str, bool]:
    """The file's text, and whether it was valid UTF-8.

    Bad bytes are replaced with U+FFFD, as training does with the review files, so that one
    Latin-1 review does not stop the others from being labelled.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), False


def _warn_replaced(path: Path, reviews: list[str]) -> None:
    damaged = sum("\ufffd" in review for review in reviews)
    print(
        f"imdb-rnn: warning: {damaged} of {len(reviews)} reviews in {path} were not valid "
        "UTF-8; the bad bytes were replaced with U+FFFD (save the file as UTF-8 to keep them)",
        file=sys.stderr,
    )


def _text_column(frame: pd.DataFrame, path: Path) -> list[str]:
    column = next((name for name in TEXT_COLUMNS if name in frame.columns), None)
    if column is None:
        found = ", ".join(map(str, frame.columns))
        raise ConfigError(f"--file {path}: no 'text' or 'review' column (found: {found})")
    return frame[column].fillna("").astype(str).tolist()


def champion_probabilities(
    texts: Sequence[str], champion: Champion, chunk: int = PREDICT_CHUNK
) -> np.ndarray:
    """The champion's probabilities for ``texts``, a chunk of reviews at a time.

    While the model scores one chunk, the next one is cleaned and split into words, and two
    chunks are scored at once: the words are Python's work on one core, the model's
    arithmetic on either. A chunk is a whole number of the model's batches (of
    ``PREDICT_BATCH_SIZE`` rows), so a model that reads every position
    scores each review in the batch it would have had in one go: the same probabilities to
    the bit. (One that skips padding sorts each chunk by length, not all reviews.)
    """
    from imdb_rnn.text import clean_text, tokenize_all

    def words(start: int, stop: int) -> TokenLists:
        return tokenize_all([clean_text(text) for text in texts[start:stop]])

    starts = list(range(0, len(texts), chunk))
    if len(starts) > 1 and len(texts) - starts[-1] < PREDICT_BATCH_SIZE:
        # A last chunk shorter than a batch would be scored as a smaller batch than the
        # padded one it has in one go; it joins the chunk before it instead.
        starts.pop()
    stops = [*starts[1:], len(texts)]
    first = champion.probabilities(words(starts[0], stops[0]))  # traces the model once, here
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="predict") as pool:
        rest = [
            pool.submit(champion.probabilities, words(start, stop))
            for start, stop in zip(starts[1:], stops[1:], strict=True)
        ]
        return np.concatenate([first, *(future.result() for future in rest)])


def predict_reviews(texts: Sequence[str], champion: Champion) -> pd.DataFrame:
    """One row per review: ``text``, ``probability`` and ``label``.

    Two classes: ``probability`` is that of the second class (positive, for IMDb) and
    ``label`` the class it decides on (aclImdb's are called negative and positive). K > 2
    classes: ``label`` is the most probable class, ``probability`` its probability, and a
    ``probability_<class>`` column per class follows.
    """
    if not texts or not any(text.strip() for text in texts):
        raise ConfigError("no review text given: pass reviews as arguments or with --file")
    from imdb_rnn.mistakes import display_names

    probabilities = champion_probabilities(texts, champion).astype(float)
    names = list(display_names(champion.classes))
    if probabilities.ndim == 1:
        return pd.DataFrame(
            {
                "text": list(texts),
                "probability": probabilities.round(6),
                "label": [names[1] if p >= 0.5 else names[0] for p in probabilities],
            }
        )
    chosen = probabilities.argmax(axis=1)
    frame = pd.DataFrame(
        {
            "text": list(texts),
            "probability": probabilities.max(axis=1).round(6),
            "label": [names[k] for k in chosen],
        }
    )
    for k, name in enumerate(names):
        frame[f"probability_{name}"] = probabilities[:, k].round(6)
    return frame


def write_predictions(frame: pd.DataFrame, out: Path) -> None:
    """Write predictions atomically as .parquet or .csv, by the file's suffix."""
    suffix = out.suffix.lower()
    if suffix not in {".parquet", ".csv"}:
        raise ConfigError(f"--out {out}: use a .parquet or .csv file name")
    with atomic_path(out) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)


def format_predictions(frame: pd.DataFrame, width: int = 70) -> str:
    """A line per review: its label, the probability, the text; for K classes, then every
    class's probability on a second line."""
    per_class = [column for column in frame.columns if column.startswith("probability_")]
    label_width = max(8, *(len(str(label)) for label in frame["label"]))
    lines = []
    for _, row in frame.iterrows():
        text = " ".join(str(row["text"]).split())
        shown = text if len(text) <= width else text[: width - 1] + "…"
        lines.append(f"{row['label']:<{label_width}}  {row['probability']:.4f}  {shown}")
        if per_class:
            spread = "  ".join(
                f"{column.removeprefix('probability_')} {row[column]:.4f}" for column in per_class
            )
            lines.append(f"{'':<{label_width}}  {spread}")
    return "\n".join(lines)
