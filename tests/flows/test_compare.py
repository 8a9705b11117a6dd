"""The whole flow under a Prefect test server, on a generated archive served over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from imdb_rnn.config import (
    BaselineConfig,
    ClaimsConfig,
    PreprocessConfig,
    SourceConfig,
    TrainingConfig,
)
from rnn_models.config import ModelConfig
from tests.conftest import read_artifact

pytestmark = [pytest.mark.flow, pytest.mark.slow]

SEED_ARCHITECTURES = ["simple_rnn", "lstm", "gru"]


def test_flow_downloads_trains_three_architectures_and_reports(
    prefect_harness, fake_archive, http_server, tmp_path
):
    from flows.compare import compare_architectures

    data_dir = tmp_path / "data"
    parameters = dict(
        source=SourceConfig(
            source=f"{http_server.url}/{fake_archive.path.name}", sha256=fake_archive.sha256
        ),
        preprocess=PreprocessConfig(vocab_size=60, maxlen=40),
        model=ModelConfig(embedding_dim=8, units=8),
        training=TrainingConfig(epochs=1, batch_size=8),
        baseline=BaselineConfig(),
        claims=ClaimsConfig(enabled=False),  # measured in tests/test_claims.py
        data_dir=str(data_dir),
    )
    result = compare_architectures(**parameters)

    assert [row["model"] for row in result.rows] == [*SEED_ARCHITECTURES, "tfidf_logreg", "nbsvm"]
    table = json.loads(read_artifact("rnn-comparison").data)
    assert [row["model"] for row in table] == [*SEED_ARCHITECTURES, "tfidf_logreg", "nbsvm"]
    assert all(isinstance(row["accuracy"], float) for row in table)
    markdown = read_artifact("rnn-summary").data
    # The artifact is the whole report: the headline the tests support, the verdicts, and
    # every chart inlined.
    assert result.headline and f"**{result.headline[0]}**" in markdown
    assert "## Is the difference real?" in markdown and "## Calibration" in markdown
    assert markdown.count("](data:image/png;base64,") >= 6
    metrics = json.loads((data_dir / "reports" / result.run_id / "metrics.json").read_text())
    assert metrics["evidence"]["resamples"] == 1000
    assert {r["verdict"] for r in metrics["evidence"]["comparisons"]} <= {
        "better",
        "worse",
        "no detectable difference",
    }
    assert "Accuracy by review length" in markdown and "Short vs long memory" in markdown
    html_report = data_dir / "reports" / result.run_id / "report.html"
    assert str(html_report.resolve()) in markdown
    # Prefect stores a link artifact as markdown: [text](url).
    link = read_artifact("rnn-report").data
    assert link == f"[report.html of run {result.run_id}]({html_report.resolve().as_uri()})"

    report_dir = data_dir / "reports" / result.run_id
    assert {p.name for p in report_dir.iterdir()} == {
        "summary.md",
        "summary.csv",
        "metrics.json",
        "report.html",
    }
    assert (data_dir / "reports" / "latest").resolve() == report_dir.resolve()
    assert len(list((data_dir / "models").glob("*-*"))) == 5  # three RNNs and two baselines
    champion = json.loads((data_dir / "models" / "champion" / "champion.json").read_text())
    best_by_auc = max(
        (row for row in result.rows if row["kind"] == "rnn"), key=lambda row: row["roc_auc"]
    )
    assert champion["architecture"] == best_by_auc["model"] and champion["run_id"] == result.run_id
    assert "## Champion\n\nPromoted " in markdown
    assert http_server.requests == [f"/{fake_archive.path.name}"]

    # Same inputs again: nothing is downloaded, prepared or trained a second time.
    mtimes = {p: p.stat().st_mtime_ns for p in (data_dir / "models").rglob("model.keras")}
    again = compare_architectures(**parameters)
    assert len(http_server.requests) == 1
    assert again.run_id != result.run_id
    assert again.rows == result.rows
    assert {p: p.stat().st_mtime_ns for p in (data_dir / "models").rglob("model.keras")} == mtimes
    # The same model is already in service: it stays, and the history has both runs.
    assert "Kept the champion" in (data_dir / "reports" / again.run_id / "summary.md").read_text()
    import pandas as pd

    history = pd.read_parquet(data_dir / "reports" / "history.parquet")
    assert len(history) == 10 and history["run_id"].nunique() == 2  # 5 models, 2 runs
    assert history["promoted"].sum() == 1


def test_a_failed_step_stops_the_synthetic_task_instead_of_waiting_for_it(
    prefect_harness, tmp_path
):
    """The synthetic task starts before the download; the seed budget would train for
    about a minute, so a corrupt archive's error would wait that long. The failed run stops
    it after a batch: it leaves no results, and its task run says why it stopped."""
    from prefect import get_client

    from flows.compare import compare_architectures
    from imdb_rnn.errors import DataSourceError

    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08 this is no archive " * 200)
    data_dir = tmp_path / "data"
    with pytest.raises(DataSourceError, match=r"is not a readable \.tar\.gz"):
        compare_architectures(
            source=SourceConfig(
                source=str(corrupt), sha256=hashlib.sha256(corrupt.read_bytes()).hexdigest()
            ),
            claims=ClaimsConfig(),  # the seed budget: 12 brief trainings
            data_dir=str(data_dir),
        )

    assert not list((data_dir / "claims").glob("*.json"))

    async def synthetic_states():
        async with get_client() as client:
            runs = await client.read_task_runs()
        return [run.state for run in runs if run.name == "synthetic-claims"]

    latest = max(asyncio.run(synthetic_states()), key=lambda state: state.timestamp)
    assert latest.is_failed() and "a step of its run failed" in latest.message


def test_flow_rejects_bad_parameters_before_any_work(prefect_harness, tmp_path):
    from flows.compare import compare_architectures

    with pytest.raises(Exception, match="unknown architecture 'cnn'"):
        compare_architectures(training={"architectures": ["cnn"]}, data_dir=str(tmp_path / "d"))
    assert not (tmp_path / "d").exists()


def test_several_seeds_train_each_architecture_per_seed_and_report_the_spread(
    prefect_harness, fake_archive, tmp_path
):
    from flows.compare import compare_architectures

    data_dir = tmp_path / "data"
    result = compare_architectures(
        source=SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256),
        preprocess=PreprocessConfig(vocab_size=60, maxlen=40),
        model=ModelConfig(embedding_dim=8, units=8),
        training=TrainingConfig(architectures=("gru",), epochs=1, batch_size=8, seed=5, seeds=2),
        baseline=BaselineConfig(enabled=False),
        claims=ClaimsConfig(enabled=False),
        data_dir=str(data_dir),
    )

    assert [row["model"] for row in result.rows] == ["gru-seed5", "gru-seed6"]
    assert len(list((data_dir / "models").glob("gru-*"))) == 2  # one folder per seed
    (spread,) = result.seed_rows
    accuracies = [row["accuracy"] for row in result.rows]
    assert spread["model"] == "gru" and spread["seeds"] == 2 and spread["seed_values"] == [5, 6]
    assert spread["accuracy_mean"] == pytest.approx(sum(accuracies) / 2, abs=1e-4)
    assert json.loads(read_artifact("rnn-seeds").data)[0]["seed_values"] == [5, 6]
    assert "## Across seeds" in result.markdown


def _topics_parquet(path):
    """Three topics, 40 texts each, 10 of each marked test; the words tell the topic."""
    import numpy as np
    import pandas as pd

    words = {
        "food": "recipe taste dinner salt sweet",
        "sport": "match goal team score coach",
        "tech": "laptop screen battery code chip",
    }
    rng = np.random.default_rng(3)
    rows = []
    for number in range(40):
        for topic, vocabulary in words.items():
            picked = " ".join(rng.choice(vocabulary.split(), size=4))
            part = "test" if number % 4 == 0 else "train"
            rows.append({"body": f"{picked} the note {number}", "topic": topic, "part": part})
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_flow_on_a_table_of_three_classes_reports_them_and_serves_class_names(
    prefect_harness, tmp_path
):
    from entrypoints.predict import predict_reviews
    from flows.compare import compare_architectures
    from imdb_rnn.champion import load_champion
    from imdb_rnn.config import TableConfig
    from imdb_rnn.paths import DataPaths

    data_dir = tmp_path / "data"
    result = compare_architectures(
        source=SourceConfig(source=str(_topics_parquet(tmp_path / "topics.parquet"))),
        table=TableConfig(text_column="body", label_column="topic", split_column="part"),
        preprocess=PreprocessConfig(vocab_size=40, maxlen=10),
        model=ModelConfig(embedding_dim=8, units=8),
        training=TrainingConfig(architectures=("gru",), epochs=3, batch_size=8),
        claims=ClaimsConfig(enabled=False),
        data_dir=str(data_dir),
    )

    # NBSVM is a two-class model, so the GRU is compared with the multinomial TF-IDF baseline.
    assert [row["model"] for row in result.rows] == ["gru", "tfidf_logreg"]
    metrics = json.loads((data_dir / "reports" / result.run_id / "metrics.json").read_text())
    for model in metrics["models"]:
        assert model["classes"] == ["food", "sport", "tech"]
        matrix = model["confusion_matrix"]
        assert [sum(row) for row in matrix] == [10, 10, 10]  # rows are the true classes
        diagonal = sum(matrix[k][k] for k in range(3))
        assert model["metrics"]["accuracy"] == pytest.approx(diagonal / 30)
    baseline = next(m for m in metrics["models"] if m["model"] == "tfidf_logreg")
    assert baseline["metrics"]["accuracy"] == 1.0  # each topic's words are its own
    markdown = read_artifact("rnn-summary").data
    assert "food" in markdown and "sport" in markdown and "tech" in markdown
    assert "(macro)" in markdown

    champion = load_champion(DataPaths.at(data_dir).champion)
    predicted = predict_reviews(["goal match team score coach", "salt dinner taste"], champion)
    columns = ["probability_food", "probability_sport", "probability_tech"]
    assert list(predicted.columns) == ["text", "probability", "label", *columns]
    assert predicted[columns].sum(axis=1).to_numpy() == pytest.approx([1, 1], abs=1e-5)
    chosen = predicted[columns].to_numpy().argmax(axis=1)
    assert list(predicted["label"]) == [["food", "sport", "tech"][k] for k in chosen]
    assert list(predicted["probability"]) == list(predicted[columns].max(axis=1))
