"""``python -m bench --predict``: ``imdb-rnn predict --file`` as a service would use it.

The seed champion (the default LSTM, trained by ``imdb-rnn run --archs lstm``) labels files
of 1, 10,000 and 100,000 real reviews (the archive's 50,000, repeated), each command timed
from start to exit. The one-review command is the fixed start-up cost (Python, TensorFlow,
the champion); the throughput is the extra reviews over the extra seconds of the larger
files. In-process, the same 100,000 reviews are also timed stage by stage (reading the
file, cleaning and splitting words, ids, the model).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.harness import ROOT, BenchSettings, machine
from bench.ratings_table import archive_rows

SIZES = (1, 10_000, 100_000)
REPEATS = 3
TARGET_REVIEWS_PER_SECOND = 10_000


def write_reviews(texts: list[str], rows: int, path: Path) -> Path:
    """``rows`` reviews, the given ones repeated in order, as a Parquet ``text`` column."""
    repeated = [texts[i % len(texts)] for i in range(rows)]
    pq.write_table(pa.table({"text": repeated}), path)
    return path


def _imdb_rnn() -> str:
    return str(Path(sys.executable).with_name("imdb-rnn"))


def _timed(command: list[str], log: Any) -> float:
    log("$ " + " ".join(command))
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[0]} exited with {result.returncode}:\n{result.stderr[-3000:]}"
        )
    return seconds


def stage_seconds(data_dir: Path, reviews: Path) -> dict[str, float]:
    """The work of the same prediction in this process, one stage after another (the command
    overlaps the words of one chunk with the model's scoring of others)."""
    from imdb_rnn.champion import load_champion
    from imdb_rnn.storage import DataStore
    from imdb_rnn.text import clean_text, tokenize_all
    from rnn_models.inference import predict_probabilities

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    champion = load_champion(DataStore.open(str(data_dir)).paths.champion)
    seconds["load the champion"] = time.perf_counter() - started
    started = time.perf_counter()
    texts = pq.read_table(reviews).column("text").to_pylist()
    seconds["read the file"] = time.perf_counter() - started
    started = time.perf_counter()
    token_lists = tokenize_all([clean_text(text) for text in texts])
    seconds["clean and split words"] = time.perf_counter() - started
    started = time.perf_counter()
    padded, _ = champion.encoder.encode_tokens(token_lists)
    seconds["word ids, padded"] = time.perf_counter() - started
    started = time.perf_counter()
    predict_probabilities(champion.model, padded)
    seconds["model"] = time.perf_counter() - started
    return {stage: round(value, 2) for stage, value in seconds.items()}


def run_predict_speed(settings: BenchSettings) -> dict[str, Any]:
    """Train the seed champion, then time ``imdb-rnn predict --file`` at each size."""
    work = settings.work_dir / "predict"
    data_dir = work / "data"
    work.mkdir(parents=True, exist_ok=True)
    train = [_imdb_rnn(), "run", "--source", settings.source, "--sha256", settings.sha256]
    train += ["--data-dir", str(data_dir), "--archs", "lstm", "--no-claims", "--no-baseline"]
    _timed(train, settings.log)
    texts = archive_rows(Path(settings.source))["text"]
    files = {rows: write_reviews(texts, rows, work / f"reviews-{rows}.parquet") for rows in SIZES}
    timings: dict[int, list[float]] = {rows: [] for rows in SIZES}
    for _ in range(REPEATS):
        for rows, path in files.items():
            out = work / f"predictions-{rows}.parquet"
            command = [_imdb_rnn(), "predict", "--data-dir", str(data_dir), "--file", str(path)]
            timings[rows].append(round(_timed([*command, "--out", str(out)], settings.log), 2))
            settings.log(f"{rows:,} reviews: {timings[rows][-1]} s")
    medians = {rows: statistics.median(values) for rows, values in timings.items()}
    largest = max(SIZES)
    return {
        "machine": machine(),
        "champion": "lstm (seed settings)",
        "seconds": {str(rows): values for rows, values in timings.items()},
        "median_seconds": {str(rows): value for rows, value in medians.items()},
        "start_up_seconds": medians[1],
        "reviews_per_second": round((largest - 1) / (medians[largest] - medians[1])),
        "end_to_end_reviews_per_second": round(largest / medians[largest]),
        "in_process_stages": stage_seconds(data_dir, files[largest]),
        "target_reviews_per_second": TARGET_REVIEWS_PER_SECOND,
    }


def predict_section(results: dict[str, Any]) -> list[str]:
    """The prediction throughput section of ``BENCHMARKS.md``."""
    from bench.markdown import _machine_line, _met, _table

    rows = [
        [
            f"{int(size):,}",
            " / ".join(f"{s:.2f}" for s in values),
            f"{statistics.median(values):.2f}",
        ]
        for size, values in results["seconds"].items()
    ]
    rate = results["reviews_per_second"]
    stages = results["in_process_stages"]
    return [
        "### Prediction: `imdb-rnn predict --file` with the seed champion",
        "",
        f"Measured {results['measured_at']} with `{results['invocation']}` on "
        f"{_machine_line(results['machine'])}. The champion is the seed LSTM; each file holds "
        "real reviews (the archive's, repeated) and every command is timed from start to "
        "exit, writing its predictions to a Parquet file (`--out`).",
        "",
        _table(["reviews", "seconds (each run)", "median s"], rows),
        "",
        f"Start-up (the one-review command: Python, TensorFlow, the champion): "
        f"{results['start_up_seconds']:.1f} s. Throughput beyond it: **{rate:,} reviews/s** "
        f"(target ≥ {results['target_reviews_per_second']:,}: "
        f"{_met(rate >= results['target_reviews_per_second'])}); end to end, 100,000 reviews "
        f"at {results['end_to_end_reviews_per_second']:,} reviews/s.",
        "",
        "The same 100,000 reviews in one process, stage by stage: "
        + ", ".join(f"{stage} {value:.2f} s" for stage, value in stages.items())
        + ".",
        "",
    ]
