"""``imdb-rnn predict``: labelling reviews with the champion, from arguments or files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from entrypoints.predict import (
    format_predictions,
    predict_reviews,
    read_review_file,
    write_predictions,
)
from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.champion import CHAMPION_FILE, load_champion
from imdb_rnn.config import ChampionConfig, PreprocessConfig, TrainingConfig
from imdb_rnn.errors import ConfigError
from imdb_rnn.paths import DataPaths
from imdb_rnn.text import SequenceEncoder
from rnn_models.config import ModelConfig
from tasks.champion import decide_and_promote
from tasks.evaluate import evaluate_trained_model
from tasks.prepare import prepare_dataset
from tests.conftest import make_aclimdb, train_model

POSITIVE = (
    "A wonderful film. <br /><br />The actor was brilliant and the story excellent, loved it."
)


NEGATIVE = "An awful movie: boring plot, terrible scene after scene. Worst film, hated it."


@pytest.fixture(scope="module")
def champion_setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("predict")
    dataset = make_aclimdb(base / "source", per_label=30)
    raw = RawDataset(dataset.root, "e" * 64, "generated")
    prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=30), base / "processed")
    paths = DataPaths.at(base / "data")
    trained = train_model(
        "lstm",
        prepared,
        ModelConfig(embedding_dim=8, units=8),
        TrainingConfig(epochs=4, batch_size=16, learning_rate=0.01),
        paths.models,
    )
    decide_and_promote(
        "run-1", [evaluate_trained_model(trained, prepared)], prepared, ChampionConfig(), paths
    )
    return dataset, prepared, paths


@pytest.mark.slow
def test_champion_labels_obvious_reviews(champion_setup):
    _, _, paths = champion_setup
    predictions = predict_reviews([POSITIVE, NEGATIVE], load_champion(paths.champion))
    assert list(predictions["label"]) == ["positive", "negative"]
    assert predictions["probability"].iloc[0] > 0.5 > predictions["probability"].iloc[1]
    lines = format_predictions(predictions).splitlines()
    assert lines[0].startswith("positive  0.") and "<br />" in lines[0]


@pytest.mark.slow
def test_prediction_encodes_a_review_exactly_as_training_did(champion_setup):
    dataset, prepared, paths = champion_setup
    raw_file = next(p for p in dataset.files if "/test/neg/" in str(p) and p.name.startswith("5_"))
    table = pq.read_table(prepared.split_path("test"), columns=["review_id", "tokens"]).to_pylist()
    stored = next(row["tokens"] for row in table if row["review_id"] == "test/neg/5")
    encoder = SequenceEncoder.load(paths.champion, CHAMPION_FILE)
    tokens, _ = encoder.encode_texts([raw_file.read_text(encoding="utf-8")])
    assert tokens[0].tolist() == stored


@pytest.mark.slow
def test_empty_input_is_refused(champion_setup):
    _, _, paths = champion_setup
    champion = load_champion(paths.champion)
    for texts in ([], ["", "   "]):
        with pytest.raises(ConfigError, match="no review text given"):
            predict_reviews(texts, champion)


def test_review_files_in_three_formats(tmp_path):
    (tmp_path / "r.txt").write_text("good one\n\n  \nbad one\n", encoding="utf-8")
    pd.DataFrame({"id": [1, 2], "review": ["good one", "bad one"]}).to_csv(tmp_path / "r.csv")
    pd.DataFrame({"text": ["good one", None]}).to_parquet(tmp_path / "r.parquet")
    assert read_review_file(tmp_path / "r.txt") == ["good one", "bad one"]
    assert read_review_file(tmp_path / "r.csv") == ["good one", "bad one"]
    assert read_review_file(tmp_path / "r.parquet") == ["good one", ""]


def test_review_files_that_are_not_utf8_are_read_with_bad_bytes_replaced(tmp_path, capsys):
    (tmp_path / "r.txt").write_bytes(b"caf\xe9 was great\nplain bad one\n")
    (tmp_path / "r.csv").write_bytes(b"review\ncaf\xe9 was great\nna\xefve and dull\nok\n")
    assert read_review_file(tmp_path / "r.txt") == ["caf\ufffd was great", "plain bad one"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"1 of 2 reviews in {tmp_path / 'r.txt'} were not valid UTF-8" in err
    assert read_review_file(tmp_path / "r.csv") == [
        "caf\ufffd was great",
        "na\ufffdve and dull",
        "ok",
    ]
    assert f"2 of 3 reviews in {tmp_path / 'r.csv'} were not valid UTF-8" in (
        capsys.readouterr().err
    )
    (tmp_path / "good.txt").write_text("café was great\n", encoding="utf-8")
    assert read_review_file(tmp_path / "good.txt") == ["café was great"]
    assert capsys.readouterr().err == ""


def test_review_file_errors_name_the_problem(tmp_path):
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(ConfigError, match=r"no 'text' or 'review' column \(found: body\)"):
        read_review_file(tmp_path / "r.csv")
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"use a \.txt, \.csv or \.parquet file"):
        read_review_file(tmp_path / "r.json")
    with pytest.raises(ConfigError, match="no such file"):
        read_review_file(tmp_path / "missing.txt")


def test_predictions_are_written_as_parquet_or_csv(tmp_path):
    frame = pd.DataFrame({"text": ["a"], "probability": [0.9], "label": ["positive"]})
    write_predictions(frame, tmp_path / "p.parquet")
    write_predictions(frame, tmp_path / "p.csv")
    assert pd.read_parquet(tmp_path / "p.parquet").equals(frame)
    assert pd.read_csv(tmp_path / "p.csv").equals(frame)
    with pytest.raises(ConfigError, match=r"use a \.parquet or \.csv"):
        write_predictions(frame, tmp_path / "p.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "p.parquet"]


@pytest.mark.slow
def test_cli_prints_or_writes_predictions(champion_setup, tmp_path, capsys):
    from entrypoints.cli import main

    _, _, paths = champion_setup
    assert main(["predict", "--data-dir", str(paths.root), POSITIVE, NEGATIVE]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == ["positive", "negative"]
    assert "champion: lstm from run run-1" in err
    reviews = tmp_path / "reviews.txt"
    reviews.write_text(f"{NEGATIVE}\n{POSITIVE}\n", encoding="utf-8")
    out_file = tmp_path / "preds.parquet"
    assert (
        main(
            [
                "predict",
                "--data-dir",
                str(paths.root),
                "--file",
                str(reviews),
                "--out",
                str(out_file),
            ]
        )
        == 0
    )
    assert list(pd.read_parquet(out_file)["label"]) == ["negative", "positive"]


@pytest.mark.slow
def test_cli_labels_a_latin1_file_and_warns_once(champion_setup, tmp_path, capsys):
    from entrypoints.cli import main

    _, _, paths = champion_setup
    reviews = tmp_path / "reviews.txt"
    reviews.write_bytes(POSITIVE.encode("latin-1") + b" caf\xe9\n" + NEGATIVE.encode() + b"\n")
    assert main(["predict", "--data-dir", str(paths.root), "--file", str(reviews)]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == ["positive", "negative"]
    assert err.count("were not valid UTF-8") == 1 and f"1 of 2 reviews in {reviews}" in err


@pytest.mark.slow
def test_predict_keeps_tensorflow_start_up_lines_off_the_terminal(champion_setup):
    import os
    import re
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    _, _, paths = champion_setup
    done = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "predict", "--data-dir", str(paths.root), "ok"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] in {"positive", "negative"}
    # TensorFlow's C++ code writes these while it is imported, whatever its log level says.
    chatter = re.compile(r"absl::InitializeLog|cuda drivers|cuInit|cuDNN|oneDNN|cpu_feature")
    assert not chatter.search(done.stderr), done.stderr
    assert done.stderr == "(champion: lstm from run run-1)\n"


def test_cli_without_champion_or_text_fails_clearly(tmp_path, capsys):
    from entrypoints.cli import main

    assert main(["predict", "--data-dir", str(tmp_path), "fine film"]) == 1
    assert "no champion model in" in capsys.readouterr().err
    assert main(["predict", "--data-dir", str(tmp_path)]) == 2
    assert "no review text given" in capsys.readouterr().err


# --- the champion's class names and, for K classes, every class's probability


def stand_in_champion(probabilities, classes=None):
    """A champion whose scores are ``probabilities`` and whose folder names ``classes``."""
    import numpy as np

    from imdb_rnn.champion import Champion

    class StandIn(Champion):
        def probabilities(self, token_lists):
            assert len(token_lists) == len(probabilities)
            return np.asarray(probabilities, dtype=np.float32)

    record = {"architecture": "gru", "run_id": "run-1"}
    return StandIn(None, None, record if classes is None else {**record, "classes": classes})


def test_three_classes_give_the_most_probable_class_and_every_probability():
    champion = stand_in_champion([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], ["bad", "fine", "good"])
    frame = predict_reviews(["so-so", "dreadful"], champion)

    assert list(frame.columns) == [
        "text",
        "probability",
        "label",
        "probability_bad",
        "probability_fine",
        "probability_good",
    ]
    assert list(frame["label"]) == ["fine", "bad"]
    assert list(frame["probability"]) == pytest.approx([0.5, 0.6])
    assert list(frame["probability_good"]) == pytest.approx([0.3, 0.1])
    assert format_predictions(frame).splitlines() == [
        "fine      0.5000  so-so",
        "          bad 0.2000  fine 0.5000  good 0.3000",
        "bad       0.6000  dreadful",
        "          bad 0.6000  fine 0.3000  good 0.1000",
    ]


def test_two_classes_name_the_decided_class_with_the_second_class_probability():
    texts = ["a", "b"]
    spam = predict_reviews(texts, stand_in_champion([0.7, 0.2], ["ham", "spam"]))
    assert list(spam["label"]) == ["spam", "ham"]
    assert list(spam.columns) == ["text", "probability", "label"]
    assert list(spam["probability"]) == pytest.approx([0.7, 0.2])
    # aclImdb's classes (and a champion from before classes were recorded) keep their words.
    for champion in (stand_in_champion([0.7, 0.2], ["neg", "pos"]), stand_in_champion([0.7, 0.2])):
        frame = predict_reviews(texts, champion)
        assert list(frame["label"]) == ["positive", "negative"]
        assert format_predictions(frame).splitlines() == [
            "positive  0.7000  a",
            "negative  0.2000  b",
        ]


@pytest.mark.slow
def test_cli_prints_each_texts_class_and_every_class_probability(tmp_path, monkeypatch, capsys):
    import imdb_rnn.champion
    from entrypoints.cli import main

    champion = stand_in_champion([[0.1, 0.2, 0.7]], ["bad", "fine", "good"])
    monkeypatch.setattr(imdb_rnn.champion, "load_champion", lambda link: champion)
    assert main(["predict", "--data-dir", str(tmp_path), "lovely"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "good      0.7000  lovely",
        "          bad 0.1000  fine 0.2000  good 0.7000",
    ]
    assert err == "(champion: gru from run run-1)\n"


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1500, 2100])  # the last chunk alone, or joined to the one before
def test_chunks_scored_side_by_side_give_the_probabilities_of_one_call(champion_setup, rows):
    from entrypoints.predict import champion_probabilities
    from imdb_rnn.text import clean_text, tokenize_all

    dataset, _, paths = champion_setup
    champion = load_champion(paths.champion)
    reviews = [file.read_text(encoding="utf-8") for file in dataset.files]
    texts = [reviews[i % len(reviews)] for i in range(rows)]

    whole = champion.probabilities(tokenize_all([clean_text(text) for text in texts]))
    chunked = champion_probabilities(texts, champion, chunk=1024)

    assert chunked.shape == (rows,)
    np.testing.assert_array_equal(chunked, whole)
