"""Shared fixtures: tiny generated datasets in the aclImdb layout and a local HTTP server."""

from __future__ import annotations

import atexit
import functools
import hashlib
import http.server
import os
import random
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Prefect reads its settings when first imported: give the tests their own home and no telemetry.
_PREFECT_HOME = tempfile.mkdtemp(prefix="imdb-rnn-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_ARCHIVE = PROJECT_ROOT.parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"

POSITIVE_WORDS = ["great", "wonderful", "excellent", "loved", "brilliant", "superb"]
NEGATIVE_WORDS = ["awful", "terrible", "boring", "hated", "worst", "dull"]
FILLER_WORDS = ["the", "movie", "film", "plot", "actor", "scene", "story", "and", "was", "a"]
TEST_ONLY_WORD = "zyzzyva"


def review_text(label: int, n_words: int, rng: random.Random) -> str:
    """A review whose sentiment words give away its label, with markup like the real ones."""
    cue = POSITIVE_WORDS if label == 1 else NEGATIVE_WORDS
    words = [rng.choice(cue) if i % 3 == 0 else rng.choice(FILLER_WORDS) for i in range(n_words)]
    middle = len(words) // 2
    return " ".join(words[:middle]) + "<br /><br />" + " ".join(words[middle:])


@dataclass
class FakeDataset:
    root: Path  # the aclImdb folder
    per_label: dict[str, int]
    files: list[Path] = field(default_factory=list)


def make_aclimdb(
    base: Path, per_label: int = 12, test_per_label: int | None = None, seed: int = 0
) -> FakeDataset:
    """Write ``base/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``.

    Test reviews also contain ``TEST_ONLY_WORD``, which no training review has.
    Review lengths vary from 3 to 450 words, so every length bucket gets reviews.
    """
    rng = random.Random(seed)
    root = base / "aclImdb"
    counts = {"train": per_label, "test": test_per_label or per_label}
    dataset = FakeDataset(root, counts)
    lengths = [3, 8, 20, 60, 120, 180, 250, 450]
    for split, n in counts.items():
        for label_name, label in (("pos", 1), ("neg", 0)):
            folder = root / split / label_name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                rating = rng.choice([7, 8, 9, 10]) if label else rng.choice([1, 2, 3, 4])
                text = review_text(label, lengths[i % len(lengths)], rng)
                if split == "test":
                    text += f" {TEST_ONLY_WORD}"
                path = folder / f"{i}_{rating}.txt"
                path.write_text(text, encoding="utf-8")
                dataset.files.append(path)
    (root / "README").write_text("Generated test data in the aclImdb layout.\n")
    return dataset


def make_tarball(dataset_base: Path, target: Path) -> str:
    """Pack ``dataset_base/aclImdb`` into ``target`` (.tar.gz); return its sha256."""
    with tarfile.open(target, "w:gz") as tar:
        tar.add(dataset_base / "aclImdb", arcname="aclImdb")
    return hashlib.sha256(target.read_bytes()).hexdigest()


@dataclass
class Archive:
    path: Path
    sha256: str
    dataset: FakeDataset


@pytest.fixture
def fake_dataset(tmp_path: Path) -> FakeDataset:
    return make_aclimdb(tmp_path / "source")


@pytest.fixture
def fake_archive(tmp_path: Path) -> Archive:
    dataset = make_aclimdb(tmp_path / "source")
    path = tmp_path / "served" / "aclImdb_test.tar.gz"
    path.parent.mkdir(exist_ok=True)
    return Archive(path, make_tarball(tmp_path / "source", path), dataset)


@dataclass
class LocalServer:
    url: str
    requests: list[str]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    served: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.served.append(self.path)
        super().do_GET()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[LocalServer]:
    """Serves ``tmp_path / 'served'`` on 127.0.0.1 and records every GET path."""
    folder = tmp_path / "served"
    folder.mkdir(exist_ok=True)
    requests: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"served": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalServer(f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for every test that runs a flow."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def train_model(
    architecture: str,
    prepared: Any,
    model: Any,
    training: Any,
    models_dir: Path,
    *,
    execution: Any = None,
    fold: Any = None,
    on_epoch_end: Any = None,
) -> Any:
    """``tasks.train.train_architecture`` for ``training``'s first seed (and ``fold``)."""
    from imdb_rnn.config import ExecutionConfig
    from imdb_rnn.trained import TrainingRecipe
    from tasks.train import train_architecture

    recipe = TrainingRecipe(
        architecture, model, training.fit_for_seed(training.seed), prepared.fingerprint, fold
    )
    return train_architecture(
        recipe, prepared, execution or ExecutionConfig(), models_dir, on_epoch_end
    )


def read_artifact(key: str) -> Any:
    """The newest artifact with ``key``, read back from the server through the Prefect client."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert found, f"no artifact with key {key!r}"
    return found[0]


@pytest.fixture
def evaluations(tmp_path: Path) -> list[Any]:
    """Three scored models with saved test predictions, as report.html draws them."""
    import numpy as np

    from imdb_rnn.evaluation import save_predictions
    from tests.samples import HISTORY, bucketed_evaluation, buckets

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    made = []
    for name, kind, accuracy, (short, long) in [
        ("simple_rnn", "rnn", 0.69531, (0.70, 0.66)),
        ("lstm", "rnn", 0.86333, (0.88, 0.83)),
        ("tfidf_logreg", "baseline", 0.90741, (0.91, 0.90)),
    ]:
        scores = np.clip(labels * accuracy + rng.normal(0.25, 0.2, labels.size), 0, 1)
        path = tmp_path / f"{name}.parquet"
        save_predictions(path, labels, scores, np.full(labels.size, 150))
        history = HISTORY if kind == "rnn" else None
        made.append(
            bucketed_evaluation(name, kind, accuracy, buckets(short, long), str(path), history)
        )
    return made


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A fresh ``memory://`` store, and a cache folder per simulated machine."""
    import fsspec

    from imdb_rnn.storage import CACHE_ENV, DataStore

    location = f"memory://imdb-{os.getpid()}-{tmp_path.name}"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-a"))
    yield DataStore.open(location)
    fs = fsspec.filesystem("memory")
    if fs.exists(location):
        fs.rm(location, recursive=True)


def small_prepared(base: Path, sha256: str = "c" * 64) -> Any:
    """80 generated train and 80 test reviews, prepared with vocabulary 60 and maxlen 30."""
    from imdb_rnn.aclimdb import RawDataset
    from imdb_rnn.config import PreprocessConfig
    from tasks.prepare import prepare_dataset

    dataset = make_aclimdb(base / "source", per_label=40)
    raw = RawDataset(dataset.root, sha256, "generated")
    return prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=30), base / "processed")
