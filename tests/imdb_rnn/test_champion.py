"""The champion folder: reading it, loading it, and swapping the link to it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from imdb_rnn.champion import (
    ChampionDecision,
    NoChampionError,
    judge,
    load_champion,
    read_champion,
    swap_link,
    write_champion_folder,
)
from imdb_rnn.errors import DataContractError
from imdb_rnn.paths import DataPaths


def test_no_champion_says_how_to_train_one(tmp_path):
    with pytest.raises(NoChampionError, match="train one with 'imdb-rnn run'"):
        load_champion(DataPaths.at(tmp_path).champion)


RECORD = {"run_id": "20260101T000000Z-a", "architecture": "lstm", "metrics": {"roc_auc": 0.9}}


def _champion_folder(folder: Path, record: dict = RECORD) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"weights")
    (folder / "champion.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def test_no_champion_reads_as_none(tmp_path):
    paths = DataPaths.at(tmp_path)
    assert read_champion(paths.champion) is None
    paths.champions.mkdir(parents=True)  # a folder of old champions, but no link
    assert read_champion(paths.champion) is None


def test_the_champion_record_names_the_folder_in_service(tmp_path):
    paths = DataPaths.at(tmp_path)
    folder = _champion_folder(paths.champions / "20260101T000000Z-a-lstm")
    swap_link(paths.champion, folder)
    record = read_champion(paths.champion)
    assert record == {**RECORD, "directory": str(folder)}
    assert Path(record["directory"]).is_absolute()


def test_a_champion_folder_holds_the_model_its_vocabulary_and_its_record(tmp_path):
    model_dir = tmp_path / "models" / "lstm-0123456789abcdef"
    model_dir.mkdir(parents=True)
    (model_dir / "model.keras").write_bytes(b"trained weights")
    (model_dir / "history.json").write_text("{}", encoding="utf-8")
    vocabulary = tmp_path / "processed" / "vocab.json"
    vocabulary.parent.mkdir()
    vocabulary.write_text('{"the": 2}', encoding="utf-8")
    target = tmp_path / "models" / "champions" / "run-lstm"

    write_champion_folder(target, model_dir, vocabulary, RECORD)

    assert sorted(p.name for p in target.iterdir()) == [
        "champion.json",
        "model.keras",
        "vocab.json",
    ]
    assert (target / "model.keras").read_bytes() == b"trained weights"
    assert (target / "vocab.json").read_text(encoding="utf-8") == '{"the": 2}'
    assert json.loads((target / "champion.json").read_text(encoding="utf-8")) == RECORD
    # Copied, not moved: the trained model's folder stays whole.
    assert (model_dir / "model.keras").read_bytes() == b"trained weights"
    assert vocabulary.is_file()
    assert [p.name for p in target.parent.iterdir()] == ["run-lstm"]  # no staging left over


def test_the_link_is_relative_and_points_at_the_new_folder(tmp_path):
    paths = DataPaths.at(tmp_path)
    folder = _champion_folder(paths.champions / "first")
    swap_link(paths.champion, folder)
    assert paths.champion.is_symlink()
    assert os.readlink(paths.champion) == os.path.join("champions", "first")
    assert paths.champion.resolve() == folder
    # Relative, so the data folder can be moved or mounted elsewhere.
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    tmp_path.rename(moved)
    try:
        assert read_champion(DataPaths.at(moved).champion)["run_id"] == RECORD["run_id"]
    finally:
        moved.rename(tmp_path)


def test_swapping_replaces_the_link_in_one_step(tmp_path, monkeypatch):
    paths = DataPaths.at(tmp_path)
    first = _champion_folder(paths.champions / "first")
    second = _champion_folder(paths.champions / "second", {**RECORD, "run_id": "second-run"})
    swap_link(paths.champion, first)

    seen_during_swap = []
    real_replace = os.replace

    def watching_replace(source, destination):
        seen_during_swap.append(read_champion(paths.champion)["run_id"])
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", watching_replace)
    swap_link(paths.champion, second)

    # The old champion stayed in service until the one rename that put the new one there.
    assert seen_during_swap == [RECORD["run_id"]]
    assert os.readlink(paths.champion) == os.path.join("champions", "second")
    assert read_champion(paths.champion)["run_id"] == "second-run"
    assert sorted(p.name for p in paths.models.iterdir()) == ["champion", "champions"]
    assert (first / "model.keras").is_file()  # the old champion's folder is kept


def test_a_stale_temporary_link_from_a_crashed_swap_is_replaced(tmp_path):
    paths = DataPaths.at(tmp_path)
    folder = _champion_folder(paths.champions / "first")
    stale = paths.models / f".champion.{os.getpid()}.tmp"
    os.symlink("nowhere", stale)
    swap_link(paths.champion, folder)
    assert paths.champion.resolve() == folder
    assert sorted(p.name for p in paths.models.iterdir()) == ["champion", "champions"]


def test_a_real_folder_where_the_link_goes_is_refused_and_left_alone(tmp_path):
    paths = DataPaths.at(tmp_path)
    folder = _champion_folder(paths.champions / "first")
    paths.champion.mkdir()
    (paths.champion / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(DataContractError, match="real file or folder"):
        swap_link(paths.champion, folder)
    assert not paths.champion.is_symlink()
    assert (paths.champion / "mine.txt").read_text(encoding="utf-8") == "keep me"


def _decision(**changes) -> ChampionDecision:
    values = {
        "metric": "roc_auc",
        "challenger": "gru",
        "challenger_score": 0.95,
        "champion": "lstm from run 20260101T000000Z-a",
        "champion_score": 0.9,
        "min_improvement": 0.01,
        "promoted": True,
        "champion_dir": "/data/models/champions/run-gru",
    }
    return ChampionDecision(**{**values, **changes})


def test_the_first_champion_is_promoted_because_there_was_none():
    decision = _decision(challenger_score=0.912345, champion=None, champion_score=None)
    assert decision.reason == "Promoted gru (roc_auc 0.9123): there was no champion yet."


def test_a_promotion_gives_both_scores_the_gain_and_the_margin():
    assert _decision().reason == (
        "Promoted gru: roc_auc 0.9500 beats the champion lstm from run 20260101T000000Z-a "
        "at 0.9000 by +0.0500 (needed more than 0.0100)."
    )


@pytest.mark.parametrize(
    ("score", "gain"), [(0.905, "+0.0050"), (0.88, "-0.0200")], ids=["too little", "worse"]
)
def test_a_kept_champion_gives_both_scores_the_gain_and_the_margin(score, gain):
    decision = _decision(challenger_score=score, promoted=False)
    assert decision.reason == (
        "Kept the champion lstm from run 20260101T000000Z-a: roc_auc 0.9000 on this test "
        f"data; the best challenger, gru, scored {score:.4f} ({gain}, needed more than 0.0100)."
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"challenger": None, "challenger_score": None, "champion_score": None},
        {},  # a reason to skip wins over the scores
    ],
)
def test_a_skipped_decision_gives_why_it_was_skipped(changes):
    decision = _decision(skipped="No recurrent model to promote.", promoted=False, **changes)
    assert decision.reason == "No recurrent model to promote."
    assert decision.to_dict()["reason"] == "No recurrent model to promote."
    assert decision.to_dict()["skipped"] == "No recurrent model to promote."


def _probabilities(labels: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.where(right == labels.astype(bool), 0.8, 0.2)


@pytest.fixture(scope="module")
def two_models():
    """A champion right on 80 % of 3,000 reviews; a challenger that fixes 200 of its errors."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 3000)
    champion_right = np.arange(3000) < 2400
    challenger_right = champion_right.copy()
    challenger_right[2400:2600] = True
    slightly = champion_right.copy()
    slightly[2400:2404] = True  # 4 more right and 2 fewer: no test could call that real
    slightly[:2] = False
    return labels, {
        "champion": _probabilities(labels, champion_right),
        "much better": _probabilities(labels, challenger_right),
        "slightly better": _probabilities(labels, slightly),
    }


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_significant_promotes_only_what_the_paired_test_supports(two_models, metric):
    from sklearn.metrics import accuracy_score, roc_auc_score

    labels, scores = two_models
    score = {
        "accuracy": lambda p: accuracy_score(labels, p >= 0.5),
        "roc_auc": lambda p: roc_auc_score(labels, p),
    }[metric]
    verdicts = {}
    for challenger in ("much better", "slightly better"):
        verdicts[challenger] = judge(
            labels,
            scores[challenger],
            scores["champion"],
            (score(scores[challenger]), score(scores["champion"])),
            metric,
            "significant",
            400,
            0.95,
        )
    assert verdicts["much better"].better and not verdicts["slightly better"].better
    assert verdicts["much better"].difference_interval[0] > 0
    low, high = verdicts["slightly better"].difference_interval
    assert low <= 0 <= high
    # McNemar: 200 to 0 disagreements; and 4 to 2, p = 2 * (1 + 6 + 15) / 2**6.
    assert verdicts["much better"].accuracy_p_value < 1e-50
    assert verdicts["slightly better"].accuracy_p_value == pytest.approx(44 / 64)


def test_a_number_keeps_the_margin_rule(two_models):
    labels, scores = two_models
    verdict = judge(
        labels,
        scores["slightly better"],
        scores["champion"],
        (0.802, 0.8),
        "accuracy",
        0.0,
        0,
        0.95,
    )
    assert verdict.better and verdict.difference_interval is None  # 0.002 > 0, no resamples


def test_the_reason_quotes_the_interval_and_mcnemar():
    decision = _decision(
        min_improvement="significant",
        promoted=False,
        challenger_score=0.905,
        difference_interval=[-0.004, 0.014],
        accuracy_p_value=0.21,
    )
    assert decision.reason.endswith(
        "scored 0.9050 (+0.0050; 95% interval [-0.0040, +0.0140]; McNemar's p on accuracy "
        "0.21, needed a significant improvement)."
    )


# --- three classes


def _three_class_rows(labels: np.ndarray, right: np.ndarray) -> np.ndarray:
    """0.7 on the label where ``right``, else on the next class; 0.15 on the other two."""
    chosen = np.where(right, labels, (labels + 1) % 3)
    rows = np.full((len(labels), 3), 0.15)
    rows[np.arange(len(labels)), chosen] = 0.7
    return rows


def test_three_classes_are_judged_by_the_chosen_class_and_their_own_metric():
    from sklearn.metrics import f1_score

    labels = np.arange(900) % 3
    champion_right = np.arange(900) < 600
    much, slightly = champion_right.copy(), champion_right.copy()
    much[600:700] = True  # 100 more right, none fewer
    slightly[600:604] = True  # 4 more right and 2 fewer
    slightly[:2] = False
    champion = _three_class_rows(labels, champion_right)

    def macro_f1(p):
        return f1_score(labels, p.argmax(axis=1), average="macro")

    verdicts = {}
    for name, right in (("much", much), ("slightly", slightly)):
        challenger = _three_class_rows(labels, right)
        scores = (macro_f1(challenger), macro_f1(champion))
        verdicts[name] = judge(labels, challenger, champion, scores, "f1", "significant", 300, 0.95)
    assert verdicts["much"].better and verdicts["much"].difference_interval[0] > 0
    assert not verdicts["slightly"].better
    low, high = verdicts["slightly"].difference_interval
    assert low <= 0 <= high
    # McNemar on the chosen class: 100 to 0 disagreements; 4 to 2, p = 2 * (1 + 6 + 15) / 2**6.
    assert verdicts["much"].accuracy_p_value == pytest.approx(2 * 0.5**100)
    assert verdicts["slightly"].accuracy_p_value == pytest.approx(44 / 64)


def test_a_champion_names_its_classes_and_one_from_before_names_is_aclimdbs():
    from imdb_rnn.champion import Champion

    assert Champion(None, None, {**RECORD, "classes": ["bad", "fine", "good"]}).classes == [
        "bad",
        "fine",
        "good",
    ]
    assert Champion(None, None, RECORD).classes == ["neg", "pos"]


@pytest.mark.slow
def test_a_three_class_champion_gives_a_row_of_three_probabilities_per_review(tmp_path):
    from rnn_models import build_model
    from rnn_models.config import ModelConfig
    from rnn_models.runtime import seeded_construction

    vocabulary = ["<pad>", "<unk>", "great", "awful", "okay", "film"]
    with seeded_construction(3):
        model = build_model("gru", ModelConfig(embedding_dim=4, units=3), 6, 5, classes=3)
    model_dir = tmp_path / "models" / "gru-x"
    model_dir.mkdir(parents=True)
    model.save(model_dir / "model.keras")
    (tmp_path / "vocab.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    preprocess = {"maxlen": 5, "padding": "pre", "truncating": "pre"}
    record = {**RECORD, "preprocess": preprocess, "classes": ["bad", "fine", "good"]}
    paths = DataPaths.at(tmp_path)
    write_champion_folder(paths.champions / "run-gru", model_dir, tmp_path / "vocab.json", record)
    swap_link(paths.champion, paths.champions / "run-gru")

    champion = load_champion(paths.champion)
    got = champion.probabilities([["great", "film"], ["awful", "awful", "film"], ["zzz"]])
    # By hand: the ids of each review's words (unknown is 1), padded in front to five.
    tokens = np.array([[0, 0, 0, 2, 5], [0, 0, 3, 3, 5], [0, 0, 0, 0, 1]], dtype=np.int32)
    assert got.shape == (3, 3)
    np.testing.assert_allclose(got, model.predict(tokens, verbose=0), rtol=1e-5, atol=1e-6)
    assert champion.classes == ["bad", "fine", "good"]
