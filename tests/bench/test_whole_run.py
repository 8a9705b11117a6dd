"""The whole-run benchmark: stages read from the log, medians and ratios, the section."""

from __future__ import annotations

import subprocess

import pytest

from bench.whole_run import (
    RELEASE_COMMIT,
    SAME_WORK_ARGS,
    milestones,
    release_worktree,
    summarise_whole_run,
    whole_run_section,
)

LOG = [
    (
        7.9,
        "09:06:24.261 | INFO | Flow run 'tan-salmon' - Beginning flow run 'tan-salmon' "
        "for flow 'compare-architectures'",
    ),
    (26.1, "09:06:42.454 | INFO | Task run 'unpack-ab9' - Finished in state Completed()"),
    (32.8, "09:06:49.141 | INFO | Task run 'prepare-408' - Finished in state Completed()"),
    (
        33.0,
        "09:06:49.356 | INFO | Flow run 'pygmy-dachshund' - Beginning subflow run "
        "'pygmy-dachshund' for flow 'train-and-evaluate'",
    ),
    (
        50.0,
        "09:07:06.370 | INFO | Task run 'train-simple_rnn-seed42' - Finished in state Completed()",
    ),
    (95.2, "09:07:51.546 | INFO | Flow run 'pygmy-dachshund' - Finished in state Completed()"),
    (
        139.6,
        "09:08:35.906 | INFO | Task run 'baseline-tfidf-logreg' - Finished in state Completed()",
    ),
    (232.0, "09:10:08.302 | INFO | Task run 'seed-claims' - Finished in state Completed()"),
    (234.3, "09:10:10.637 | INFO | Task run 'report' - Finished in state Completed()"),
]


def test_milestones_are_the_seconds_each_stage_was_over():
    assert milestones(LOG) == {
        "flow started": 7.9,
        "unpacked": 26.1,
        "prepared": 32.8,
        "trained and evaluated": 95.2,
        "baselines": 139.6,
        "claims": 232.0,
        "report": 234.3,
    }


def test_the_baselines_task_of_this_code_counts_as_the_baselines_stage():
    line = "| INFO | Task run 'baselines' - Finished in state Completed()"
    assert milestones([(99.9, line)]) == {"baselines": 99.9}


def _run(variant, wall, lstm=0.85992, verdicts=(("lstm", "memory", "long", True),)):
    return {
        "variant": variant,
        "round": 1,
        "wall_seconds": wall,
        "finished_at": {"prepared": 10.0},
        "accuracies": {"lstm": lstm, **({"nbsvm": 0.9156} if variant == "default" else {})},
        "verdicts": [list(v) for v in verdicts],
    }


def test_medians_ratios_and_agreement_worked_by_hand():
    runs = [
        _run("0.3.0", 240.0),
        _run("same work", 100.0),
        _run("default", 150.0),
        _run("0.3.0", 250.0),
        _run("same work", 130.0),
        _run("default", 140.0),
        _run("0.3.0", 260.0),
        _run("same work", 110.0),
        _run("default", 145.0),
    ]

    summary = summarise_whole_run(runs)

    assert summary["median_wall_seconds"] == {"0.3.0": 250.0, "same work": 110.0, "default": 145.0}
    assert summary["ratio_same_work"] == 0.44
    assert summary["ratio_default"] == 0.58
    assert summary["same_accuracies"] and summary["same_verdicts"]


def test_a_changed_accuracy_or_verdict_is_caught():
    runs = [_run("0.3.0", 240.0), _run("same work", 100.0, lstm=0.8598), _run("default", 150.0)]
    assert not summarise_whole_run(runs)["same_accuracies"]
    flipped = (("lstm", "memory", "long", False),)
    runs = [_run("0.3.0", 240.0), _run("same work", 100.0), _run("default", 150, verdicts=flipped)]
    assert not summarise_whole_run(runs)["same_verdicts"]


def test_the_section_shows_each_run_and_the_targets():
    runs = [_run("0.3.0", 240.0), _run("same work", 130.0), _run("default", 230.0)]
    whole = {
        "release": "0.3.0",
        "measured_at": "2026-12-05 10:00 UTC",
        "invocation": "python -m bench --whole-run",
        "machine": {
            "cores": 2,
            "cpu": "AMD EPYC",
            "gpu": "none",
            "python": "3.12",
            "tensorflow": "2.21",
            "keras": "3",
            "prefect": "3.9",
        },
        "runs": runs,
        "summary": summarise_whole_run(runs),
        "commands": {"same work": "imdb-rnn run " + " ".join(SAME_WORK_ARGS)},
    }

    text = "\n".join(whole_run_section(whole))

    assert "| same work | 130.0 | 0.54 | ≤ 0.5: **missed** |" in text
    assert "| default | 230.0 | 0.96 | < 1: met |" in text
    assert "| 0.3.0 | 1 | 240.0 | – | – | 10.0 |" in text
    assert "--baselines tfidf_logreg" in text


def test_the_release_worktree_is_the_release_and_goes_away(tmp_path):
    if subprocess.run(["git", "cat-file", "-e", RELEASE_COMMIT], check=False).returncode:
        pytest.skip("this clone lacks the release's commit (a shallow clone)")
    with release_worktree(tmp_path) as release:
        assert 'version = "0.3.0"' in (release / "pyproject.toml").read_text()
        assert (release / "imdb_rnn" / "cli.py").is_file()
    assert not release.exists()
