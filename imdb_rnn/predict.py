"""Score raw review text with the champion model.

The champion folder carries its vocabulary and padding parameters, and the text goes
through the same ``SequenceEncoder`` that prepared the training data, so prediction
cannot drift from training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from imdb_rnn.errors import ConfigError, ImdbRnnError
from imdb_rnn.files import atomic_path
from imdb_rnn.paths import CHAMPION_FILE

TEXT_COLUMNS = ("text", "review")
PREDICT_BATCH_SIZE = 1024


class NoChampionError(ImdbRnnError):
    """No model has been promoted in this data folder yet."""


@dataclass(frozen=True)
class Champion:
    model: Any
    encoder: Any  # tasks.prepare.SequenceEncoder
    record: dict[str, Any]


def load_champion(champion_link: Path) -> Champion:
    """The model in service with its encoder; fails with how to train one if there is none."""
    import json

    record_path = champion_link / CHAMPION_FILE
    if not record_path.is_file():
        raise NoChampionError(
            f"no champion model in {champion_link}: train one with 'imdb-rnn run' "
            "(or pass --data-dir pointing at the data folder of a run)"
        )
    from rnn_models.optimizers import load_model  # knows the optimizer the model was saved with
    from tasks.prepare import SequenceEncoder

    return Champion(
        load_model(champion_link / "model.keras"),
        SequenceEncoder.load(champion_link, CHAMPION_FILE),
        json.loads(record_path.read_text(encoding="utf-8")),
    )


def read_review_file(path: Path) -> list[str]:
    """Reviews from a .txt (one per line), .csv or .parquet (a ``text`` or ``review`` column)."""
    if not path.is_file():
        raise ConfigError(f"--file {path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        raise ConfigError(f"--file {path}: use a .txt, .csv or .parquet file, not {suffix!r}")
    column = next((name for name in TEXT_COLUMNS if name in frame.columns), None)
    if column is None:
        found = ", ".join(map(str, frame.columns))
        raise ConfigError(f"--file {path}: no 'text' or 'review' column (found: {found})")
    return frame[column].fillna("").astype(str).tolist()


def predict_reviews(texts: Sequence[str], champion: Champion) -> pd.DataFrame:
    """One row per review: ``text``, ``probability`` (positive) and ``label``."""
    if not texts or not any(text.strip() for text in texts):
        raise ConfigError("no review text given: pass reviews as arguments or with --file")
    from rnn_models.runtime import batched_dataset

    tokens, _ = champion.encoder.encode_texts(list(texts))
    batches = batched_dataset(tokens, None, PREDICT_BATCH_SIZE)
    probabilities = champion.model.predict(batches, verbose=0)
    probabilities = probabilities.reshape(-1).astype(float)
    return pd.DataFrame(
        {
            "text": list(texts),
            "probability": probabilities.round(6),
            "label": ["positive" if p >= 0.5 else "negative" for p in probabilities],
        }
    )


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
    lines = []
    for row in frame.itertuples(index=False):
        text = " ".join(row.text.split())
        shown = text if len(text) <= width else text[: width - 1] + "…"
        lines.append(f"{row.label:<8}  {row.probability:.4f}  {shown}")
    return "\n".join(lines)
