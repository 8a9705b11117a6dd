"""Hand-made records and archives that several test modules share."""

from __future__ import annotations

import io
import json
import math
import tarfile
from pathlib import Path
from typing import Any

from imdb_rnn.claims import ArchitectureClaims, ClaimsResult
from imdb_rnn.config import ClaimsConfig, PreprocessConfig
from imdb_rnn.evaluation import ModelEvaluation

# --- three scored models: the comparison table and the summary files


def evaluation(
    name: str, kind: str, accuracy: float, roc_auc: float, log_loss: float
) -> ModelEvaluation:
    return ModelEvaluation(
        model=name,
        kind=kind,
        metrics={
            "accuracy": accuracy,
            "precision": 0.8,
            "recall": 0.7,
            "f1": 0.74666,
            "roc_auc": roc_auc,
            "average_precision": 0.9,
            "log_loss": log_loss,
            "mcc": 0.5,
        },
        confusion={"tn": 40, "fp": 10, "fn": 15, "tp": 35},
        length_buckets=[
            {"bucket": "<=100", "reviews": 30, "accuracy": 0.9},
            {"bucket": "101-200", "reviews": 40, "accuracy": 0.8},
            {"bucket": "201-400", "reviews": 20, "accuracy": 0.7},
            {"bucket": ">400", "reviews": 10, "accuracy": math.nan},
        ],
        parameters=1234,
        train_seconds=12.345,
        predict_seconds=0.5,
        reviews_per_second=200.0,
    )


EVALUATIONS = [
    evaluation("lstm", "rnn", 0.85123456, 0.92, 0.35),
    evaluation("gru", "rnn", 0.80, 0.95, 0.30),
    evaluation("tfidf_logreg", "baseline", 0.90, 0.96, 0.40),
]
RUN_INFO = {
    "data": {
        "source": "file:///x.tar.gz",
        "source_sha256": "ab" * 32,
        "fingerprint": "f" * 16,
        "rows": {"train": 80, "validation": 20, "test": 100},
    },
    "preprocess": {"maxlen": 200, "vocab_size": 10000},
    "timings": {"prepare": 1.25},
    "software": {"python": "3.11"},
}


# --- models with review-length buckets and saved predictions: report.html and its charts


def buckets(short: float, long: float, n: int = 1000) -> list[dict]:
    return [
        {"bucket": "<=100", "reviews": n, "accuracy": short},
        {"bucket": "101-200", "reviews": n, "accuracy": (short + long) / 2},
        {"bucket": "201-400", "reviews": n, "accuracy": (short + long) / 2},
        {"bucket": ">400", "reviews": n, "accuracy": long},
    ]


def bucketed_evaluation(name, kind, accuracy, length_buckets, predictions_path="", history=None):
    return ModelEvaluation(
        model=name,
        kind=kind,
        metrics={
            "accuracy": accuracy,
            "precision": 0.8,
            "recall": 0.7,
            "f1": 0.75,
            "roc_auc": accuracy + 0.05,
            "average_precision": 0.9,
            "log_loss": 0.4,
            "mcc": 0.5,
        },
        confusion={"tn": 40, "fp": 10, "fn": 15, "tp": 35},
        length_buckets=length_buckets,
        parameters=322_113,
        train_seconds=24.04,
        predict_seconds=2.0,
        reviews_per_second=12_500.0,
        epochs=2 if history else 0,
        history=history or {},
        predictions_path=predictions_path,
    )


HISTORY = {
    "loss": [0.6, 0.4],
    "accuracy": [0.7, 0.85],
    "val_loss": [0.55, 0.45],
    "val_accuracy": [0.72, 0.8],
}
PAGE_RUN_INFO = {
    "data": {
        "source": "https://example.org/aclImdb.tar.gz",
        "source_sha256": "ab" * 32,
        "fingerprint": "f" * 16,
        "rows": {"train": 80, "validation": 20, "test": 100},
    },
    "preprocess": {"maxlen": 200, "vocab_size": 10000},
    "training": {"epochs": 2},
    "timings": {"prepare": 1.25},
    "software": {"python": "3.11"},
}


# --- a claims step small enough for a test flow

# Claims measured in seconds: a few reviews, two distances, a tiny synthetic task.
SMALL_CLAIMS = ClaimsConfig(
    sample_reviews=8,
    distances=(2, 6),
    synthetic_train=32,
    synthetic_test=16,
    synthetic_epochs=1,
    synthetic_vocab=8,
)


# --- hand-made measurements of the claims step: short, long and exploding on purpose


def measured_claims(name, curve, accuracy, parameters, norms=(1.0, 2.0)):
    return ArchitectureClaims(
        model=name,
        window=len(curve),
        gradient_curve=list(curve),
        synthetic={
            str(d): {"accuracy": a, "epochs": 1, "seconds": 0.1} for d, a in accuracy.items()
        },
        parameters=parameters,
        seconds_per_epoch=12.0,
        reviews_per_second=5000.0,
        gradient_norm_first=norms[0],
        gradient_norm_max=norms[1],
    )


def hand_made_result() -> ClaimsResult:
    decaying = [0.5**k for k in range(200)][::-1]  # span 7: short
    flat_end = [0.001] * 20 + [1.0] * 180  # span 180: long
    return ClaimsResult(
        distances=(10, 200),
        measured=[
            measured_claims("simple_rnn", decaying, {10: 0.99, 200: 0.5}, 1000, norms=(0.1, 50.0)),
            measured_claims("lstm", flat_end, {10: 1.0, 200: 0.95}, 4000),
            measured_claims("gru", flat_end, {10: 1.0, 200: 0.6}, 3000),
        ],
        seconds=1.0,
        reused=False,
    )


# --- archives built member by member: hostile, partial or valid

OTHER_SHA = "0" * 64


def files_under(folder: Path) -> list[str]:
    """Relative paths of every non-folder entry below ``folder`` (links included)."""
    if not folder.exists():
        return []
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_symlink() or not p.is_dir()
    )


def file_member(name: str, data: bytes = b"text") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def device_member(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info, None


def write_tarball(target: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """Write members exactly as given (names are not sanitised the way ``tar.add`` does)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return target


def valid_members() -> list[tuple[tarfile.TarInfo, bytes]]:
    """One review in each of the four aclImdb folders: a complete, extractable layout."""
    return [
        file_member(f"aclImdb/{split}/{label}/{i}_{rating}.txt", f"{label} review {i}".encode())
        for i, (split, label, rating) in enumerate(
            [("train", "pos", 8), ("train", "neg", 2), ("test", "pos", 9), ("test", "neg", 1)]
        )
    ]


# --- reviews of random length as token ids, padded on either side

REVIEW_MAXLEN = 40


def random_reviews(rows: int, seed: int = 0) -> list:
    """``rows`` reviews of 1 to 39 token ids in 2..49 (no padding, no unknown)."""
    import numpy as np

    generator = np.random.default_rng(seed)
    return [
        generator.integers(2, 50, size=generator.integers(1, REVIEW_MAXLEN)) for _ in range(rows)
    ]


def padded(reviews: list, side: str, maxlen: int = REVIEW_MAXLEN):
    """``reviews`` as one int32 matrix, zeros before (``pre``) or after (``post``) each."""
    import numpy as np

    tokens = np.zeros((len(reviews), maxlen), dtype=np.int32)
    for row, review in enumerate(reviews):
        if side == "post":
            tokens[row, : len(review)] = review
        else:
            tokens[row, maxlen - len(review) :] = review
    return tokens


# --- configs


def assert_only_field_refused(config_type: type, field: str, value: object) -> None:
    """Building ``config_type`` with ``field=value`` fails, naming that field alone."""
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        config_type(**{field: value})
    errors = caught.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == (field,)


# --- the prepare step on the generated reviews of make_aclimdb

SOURCE_SHA = "a" * 64
MAXLEN = 50
# 24 training reviews (12 per label) and a quarter held out: 6 validation rows, 3 per label.
CONFIG = PreprocessConfig(maxlen=MAXLEN, validation_fraction=0.25)


def read_metadata(path: Path) -> dict:
    """The pipeline's key/value metadata of a prepared Parquet file."""
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[b"imdb_rnn"])


# --- small models with parameter counts worked out from the cell equations

VOCAB, EMBED, UNITS, SMALL_MAXLEN = 50, 8, 4, 12
EMBEDDING_PARAMS = VOCAB * EMBED  # 400
# Per-layer counts (Keras 3 GRU uses reset_after: two bias vectors).
EXPECTED_PARAMS = {
    "simple_rnn": EMBEDDING_PARAMS + UNITS * (EMBED + UNITS + 1) + (UNITS + 1),  # 457
    "lstm": EMBEDDING_PARAMS + 4 * UNITS * (EMBED + UNITS + 1) + (UNITS + 1),  # 613
    "gru": EMBEDDING_PARAMS + 3 * UNITS * (EMBED + UNITS + 2) + (UNITS + 1),  # 573
    "bilstm": EMBEDDING_PARAMS + 2 * 4 * UNITS * (EMBED + UNITS + 1) + (2 * UNITS + 1),  # 825
    "bigru": EMBEDDING_PARAMS + 2 * 3 * UNITS * (EMBED + UNITS + 2) + (2 * UNITS + 1),  # 745
}


def evidence_for(evaluations: list[Any], resamples: int = 200) -> Any:
    """The evidence of a run made of ``evaluations`` (with saved predictions): intervals,
    verdicts, calibration, mistakes on numbered texts, and one explained review."""
    from dataclasses import replace

    from imdb_rnn.calibration import reliability_curve
    from imdb_rnn.evaluation import load_all_predictions
    from imdb_rnn.evidence import Scored, weigh_evidence
    from imdb_rnn.mistakes import disagreements, most_confident_errors

    predictions = load_all_predictions(evaluations)
    models = [Scored(e.model, e.kind, e.metrics["accuracy"], e.model, 42) for e in evaluations]
    evidence = weigh_evidence(models, predictions, resamples, 0.95, seed=0)
    labels = next(iter(predictions.values()))[0]
    texts = [f"review {i}: a | pipe and <b>markup</b>" for i in range(len(labels))]
    baseline = next(e.model for e in evaluations if e.kind == "baseline")
    return replace(
        evidence,
        calibration={name: reliability_curve(*pair) for name, pair in predictions.items()},
        confident_errors={
            name: most_confident_errors(labels, scores, texts, 2)
            for name, (labels, scores) in predictions.items()
        },
        disagreements=[
            disagreements(
                labels,
                (e.model, predictions[e.model][1]),
                (baseline, predictions[baseline][1]),
                texts,
                1,
            )
            for e in evaluations
            if e.kind == "rnn"
        ],
        explained=[
            {
                "label": "positive",
                "probability": 0.93,
                "words": ["a", "wonderful", "dull", "film"],
                "effects": [0.0, 0.4, -0.2, 0.01],
            }
        ],
    )


# --- a prepared table of three classes, each told apart by its own words

THREE_CLASS_WORDS = {"bad": "awful dull", "fine": "okay plain", "good": "great lovely"}


def three_class_prepared(base: Path, per_class: int = 20, maxlen: int = 12) -> Any:
    """A table of ``per_class`` texts of each of bad, fine and good, prepared under ``base``
    with vocabulary 50: the classes are ids 0, 1 and 2, and a fifth of the rows (four of each
    class for 20) are test rows."""
    import logging

    import pandas as pd

    from imdb_rnn.aclimdb import RawDataset
    from tasks.prepare import prepare_dataset

    rows = [
        {"text": f"{THREE_CLASS_WORDS[name]} film number{number}", "label": name}
        for number in range(per_class)
        for name in THREE_CLASS_WORDS
    ]
    base.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(base / "three.csv", index=False)
    raw = RawDataset(base / "three.csv", "e" * 64, "three.csv", "table")
    config = PreprocessConfig(vocab_size=50, maxlen=maxlen)
    return prepare_dataset(raw, config, base / "processed", logging.getLogger("three-classes"))


def listening_logger(name: str) -> tuple[Any, list[str]]:
    """A logger of its own and the list its messages go to, to stand in for a task's run
    logger (pytest's caplog loses records once Prefect configures logging mid-test)."""
    import logging

    said: list[str] = []

    class _Listen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    logger = logging.getLogger(name)
    logger.handlers = [_Listen()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, said


# --- prepared splits in small Parquet row groups, as a large prepare writes them


def regroup(prepared: Any, rows_per_group: int, splits: tuple[str, ...] = ("train", "validation")):
    """Rewrite ``splits`` of ``prepared`` in row groups of ``rows_per_group`` rows: the same
    rows, schema and metadata, so that a tiny folder streams in several groups."""
    import pyarrow.parquet as pq

    for split in splits:
        path = prepared.split_path(split)
        pq.write_table(pq.read_table(path), path, row_group_size=rows_per_group)
    return prepared
