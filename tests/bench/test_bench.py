"""The benchmark harness: summaries, intervals, verdicts and the markdown it writes."""

from __future__ import annotations

import math

import pytest

from bench.harness import pipeline_models, summarise
from bench.markdown import BEGIN, END, best_section, render, write_markdown


def _row(architecture, seed, fit_seconds, accuracy, epochs=2):
    return {
        "architecture": architecture,
        "seed": seed,
        "epochs": epochs,
        "fit_seconds": fit_seconds,
        "accuracy": accuracy,
        "roc_auc": accuracy + 0.05,
    }


RESULTS = {
    "settings": {
        "source": "aclImdb.tar.gz",
        "seeds": 3,
        "epochs": 2,
        "max_reviews_per_split": None,
        "architectures": ["lstm"],
    },
    "machine": {
        "cores": 2,
        "cpu": "x",
        "memory_gib": 24,
        "gpu": "none",
        "python": "3.11",
        "tensorflow": "2.21",
        "keras": "3",
        "prefect": "3.9",
    },
    "plain": [
        _row("lstm", 42, 40.0, 0.86),
        _row("lstm", 43, 60.0, 0.84),
        _row("lstm", 44, 44.0, 0.85),
    ],
    "pipeline": [
        _row("lstm", 42, 18.0, 0.87),
        _row("lstm", 43, 30.0, 0.85),
        _row("lstm", 44, 20.0, 0.86),
    ],
    "pipeline_runs": {
        "first_wall_seconds": 200.0,
        "rerun_wall_seconds": 4.0,
        "seeds_wall_seconds": 100.0,
        "command": "imdb-rnn run",
    },
    "prepare_seconds": [9.0, 12.0, 8.0],
    "measured_at": "2026-01-01 00:00 UTC",
    "invocation": "python -m bench",
}


def _best(**changes):
    return {
        "measured_at": "2026-01-01 00:00 UTC",
        "invocation": "make bench ARGS=--best",
        "command": "imdb-rnn run --profile best",
        "machine": RESULTS["machine"],
        "model": "bigru",
        "train_seconds": 420.0,
        "epochs_run": 2,
        "best_epoch": 1,
        "val_accuracy": [0.913, 0.901],
        "test_accuracy": 0.898,
        "test_roc_auc": 0.96,
        "parameters": 1000,
        "baseline_accuracy": 0.907,
        **changes,
    }


def test_summary_uses_medians_for_time_and_means_for_accuracy():
    summary = summarise(RESULTS)
    lstm = summary["per_architecture"]["lstm"]
    assert lstm["plain_seconds_per_epoch"] == 22.0  # median of 20, 30, 22
    assert lstm["pipeline_seconds_per_epoch"] == 10.0  # median of 9, 15, 10
    assert lstm["ratio"] == pytest.approx(10 / 22, abs=1e-3)
    assert lstm["plain_accuracy_mean"] == pytest.approx(0.85)
    assert lstm["pipeline_accuracy_mean"] == pytest.approx(0.86)
    assert lstm["accuracy_difference"] == pytest.approx(0.01)
    assert lstm["paired_accuracy_differences"] == [0.01, 0.01, 0.01]
    assert lstm["paired_difference_interval"] == [0.01, 0.01]  # no spread, no doubt
    assert summary["prepare_seconds_median"] == 9.0
    assert summary["rerun_share"] == 0.02


def test_mean_interval_is_students_t_over_the_seeds():
    from bench.harness import mean_interval

    # Two seeds: mean 0.005, standard error 0.01 / sqrt(2) / sqrt(2) = 0.005, and t with one
    # degree of freedom is Cauchy: t(0.975, 1) = tan(0.475 * pi) = 12.7062.
    half_width = math.tan(0.475 * math.pi) * 0.005
    assert mean_interval([0.0, 0.01]) == [
        round(0.005 - half_width, 4),
        round(0.005 + half_width, 4),
    ]
    assert mean_interval([0.0, 0.01]) == [-0.0585, 0.0685]
    assert mean_interval([0.01]) is None


def test_accuracy_verdict_tells_a_difference_from_seed_noise():
    from bench.markdown import accuracy_verdict

    assert accuracy_verdict(-0.0044, [-0.0171, 0.0083]) == "met"
    assert accuracy_verdict(-0.0095, [-0.0689, 0.0499]).startswith("**not resolved**")
    assert accuracy_verdict(-0.0095, [-0.0150, -0.0040]) == "**missed**"  # 0 is out
    assert accuracy_verdict(0.02, None) == "**missed**"  # one seed: no interval


def test_markdown_marks_each_target_and_keeps_hand_written_text(tmp_path):
    results = {**RESULTS, "summary": summarise(RESULTS)}
    text = render({"speed": results})
    assert "0.455 (met)" in text  # speed ratio
    assert "+0.0100 (**missed**)" in text  # accuracy outside ±0.005
    assert "≤ 10 s: met" in text and "≤ 5%: met" in text
    page = tmp_path / "BENCHMARKS.md"
    page.write_text(f"# Benchmarks\n\nBefore.\n\n{BEGIN}\nSTALE TABLE\n{END}\n\nAfter.\n", "utf-8")
    write_markdown({"speed": results}, page)
    written = page.read_text("utf-8")
    assert written.startswith("# Benchmarks\n\nBefore.") and written.endswith("After.\n")
    assert "STALE TABLE" not in written and "0.455 (met)" in written


def test_pipeline_rows_leave_out_the_baseline_and_failed_models():
    metrics = {
        "models": [
            {
                "model": "gru-seed43",
                "architecture": "gru",
                "seed": 43,
                "kind": "rnn",
                "epochs": 2,
                "train_seconds": 10.0,
                "parameters": 5,
                "metrics": {"accuracy": 0.81234, "roc_auc": 0.9},
            },
            {"model": "lstm", "kind": "rnn", "failure": "nan", "metrics": {}},
            {"model": "tfidf_logreg", "kind": "baseline", "metrics": {}},
        ]
    }
    (row,) = pipeline_models(metrics)
    assert row == {
        "architecture": "gru",
        "seed": 43,
        "epochs": 2,
        "fit_seconds": 10.0,
        "accuracy": 0.8123,
        "roc_auc": 0.9,
        "parameters": 5,
    }


def test_scale_out_section_shows_every_run_and_the_median_ratio():
    def run(wall, fits, processes, threads):
        return {
            "wall_seconds": wall,
            "train_seconds": dict(zip(("gru", "lstm"), fits, strict=True)),
            "accuracy": {},
            "claims_seconds": 100.0,
            "train_and_evaluate_seconds": wall - 150.0,
            "trained_on": [f"host/{pid}" for pid in range(processes)],
            "tensorflow_threads": threads,
            "command": "imdb-rnn run",
        }

    scale = {
        "machine": {
            "cores": 2,
            "cpu": "x",
            "gpu": "none",
            "python": "3.11",
            "tensorflow": "2",
            "keras": "3",
            "prefect": "3",
        },
        "measured_at": "2026-01-01 00:00 UTC",
        "invocation": "python -m bench --scale-out",
        "runs": {
            "sequential": [run(300.0, (20.0, 30.0), 1, 0), run(320.0, (21.0, 31.0), 1, 0)],
            "dask_2_workers": [run(280.0, (35.0, 50.0), 2, 1), run(300.0, (36.0, 52.0), 2, 1)],
        },
        "median_wall_seconds": {"sequential": 310.0, "dask_2_workers": 290.0},
        "median_train_and_evaluate_seconds": {"sequential": 160.0, "dask_2_workers": 140.0},
    }
    page = render({"scale_out": scale})
    assert "| sequential #2 | 320.0 | 170.0 | 21.0 | 31.0 | 100.0 | all | 1 |" in page
    assert "| dask 2 workers #1 | 280.0 | 130.0 | 35.0 | 50.0 | 100.0 | 1 | 2 |" in page
    # 290 / 310 = 0.935..., 140 / 160 = 0.875
    assert "sequential 310.0 s, 2 Dask workers 290.0 s (ratio 0.94)" in page
    assert "160.0 s and 140.0 s (ratio 0.88)" in page
    assert "seed settings, full data" in page


def test_best_section_reads_an_ensemble_as_members_and_out_of_fold_validation():
    single = "\n".join(best_section(_best()))
    assert "| validation accuracy per epoch | 0.9130, 0.9010 |" in single
    assert "| epochs run / best epoch on validation loss | 2 / 1 |" in single
    assert "0.8980 | ≥ 0.905: **missed**" in single and "above it: **missed**" in single

    ensemble = "\n".join(
        best_section(
            _best(
                model="bigru-ensemble8",
                ensemble_members=8,
                member_fit_seconds=[200.0] * 8,
                train_seconds=901.0,
                epochs_run=1,
                val_accuracy=[0.9071],
                test_accuracy=0.9081,
            )
        )
    )
    assert "| out-of-fold validation accuracy | 0.9071 |" in ensemble
    assert "| epochs per member (at most) | 1 |" in ensemble
    assert (
        "training time, first member's start to last member's end (8 members; their fits add "
        "up to 1600 s) | 901 s | ≤ 900 s: **missed**"
    ) in ensemble
    assert "0.9081 | ≥ 0.905: met" in ensemble and "above it: met" in ensemble


def test_speed_suite_alternates_each_seeds_pipeline_run_and_plain_scripts(tmp_path, monkeypatch):
    import bench.harness as harness

    calls = []

    def fake_pipeline(settings, data_dir, *extra):
        calls.append(("pipeline", *extra))
        seed = int(extra[extra.index("--seed") + 1]) if "--seed" in extra else 42
        extracted = data_dir / "raw" / "extracted" / "sha" / "aclImdb" / "train"
        extracted.mkdir(parents=True, exist_ok=True)
        (data_dir / "processed").mkdir(exist_ok=True)
        (data_dir / "processed" / "manifest.json").write_text('{"seconds": 3.0}', "utf-8")
        model = {"architecture": "lstm", "seed": seed, "kind": "rnn", "epochs": 2}
        model |= {"train_seconds": 8.0, "parameters": 1, "model": "lstm"}
        model |= {"metrics": {"accuracy": 0.85, "roc_auc": 0.93}}
        run = {"data": {"directory": str(data_dir / "processed")}, "timings": {}}
        return {
            "wall_seconds": 30.0,
            "command": ["imdb-rnn"],
            "metrics": {"run": run, "models": [model]},
        }

    def fake_plain(settings, processed, architecture, seed):
        calls.append(("plain", architecture, seed))
        return _row(architecture, seed, 16.0, 0.85)

    monkeypatch.setattr(harness, "run_pipeline", fake_pipeline)
    monkeypatch.setattr(harness, "run_plain", fake_plain)
    monkeypatch.setattr(
        harness, "time_prepare", lambda raw_root, settings, repeats: [3.0] * repeats
    )
    settings = harness.BenchSettings("archive", "sha", tmp_path, seeds=3, architectures=("lstm",))

    results = harness.run_speed_suite(settings)

    one_seed = ("--retrain", "--no-claims", "--no-baseline", "--no-champion")
    assert calls == [
        ("pipeline",),
        ("pipeline",),
        ("pipeline", "--force"),
        ("pipeline", "--seed", "42", *one_seed),
        ("plain", "lstm", 42),
        ("plain", "lstm", 43),  # the next seed starts with the other side
        ("pipeline", "--seed", "43", *one_seed),
        ("pipeline", "--seed", "44", *one_seed),
        ("plain", "lstm", 44),
        ("pipeline", "--seeds", "3"),
    ]
    assert [row["seed"] for row in results["pipeline"]] == [42, 43, 44]
    assert results["pipeline_runs"]["one_seed_wall_seconds"] == [30.0, 30.0, 30.0]
    assert results["summary"]["per_architecture"]["lstm"]["ratio"] == 0.5  # 8 s against 16 s


def test_quality_targets_pick_each_model_and_judge_it_with_its_interval():
    from bench.harness import quality_targets
    from bench.markdown import targets_section

    def model(name, kind, accuracy, val, seconds, speed=1000.0):
        return {
            "model": name,
            "kind": kind,
            "metrics": {"accuracy": accuracy},
            "history": {"val_accuracy": [val]} if val else {},
            "train_seconds": seconds,
            "predict_seconds": 1.0,
            "reviews_per_second": speed,
        }

    intervals = {
        "nbsvm": {"accuracy": [0.912, 0.919]},
        "stack": {"accuracy": [0.923, 0.926]},
        "bigru-ensemble10": {"accuracy": [0.904, 0.911]},
    }
    best = {
        "models": [
            model("bigru-ensemble10", "rnn", 0.908, 0.90, 557.0),
            # Higher on validation than the ensemble, but a stack is not a recurrent model.
            model("stack", "rnn", 0.9245, 0.92, 691.0),
            model("nbsvm", "baseline", 0.9156, None, 18.2),
            model("tfidf_logreg", "baseline", 0.9074, None, 22.8),
        ],
        "evidence": {"intervals": intervals},
    }
    compact = {"models": [model("bigru", "rnn", 0.889, 0.90, 47.7, speed=1756.0)]}
    targets = quality_targets(best, compact)
    assert {key: found["model"] for key, found in targets.items()} == {
        "nbsvm": "nbsvm",
        "recurrent": "bigru-ensemble10",
        "stack": "stack",
        "compact": "bigru",
    }
    assert targets["compact"]["interval"] is None  # no evidence in that metrics.json

    page = "\n".join(targets_section({"command": "run best", "targets": targets}))
    # NBSVM: 0.9156 is above 0.915 but its interval is not.
    assert "0.9156 [0.9120, 0.9190] | ≥ 0.915: met by the point estimate" in page
    assert "| 18 s | ≤ 45 s: met |" in page
    assert "0.9080 [0.9040, 0.9110] | ≥ 0.915: **missed** by 0.0070" in page
    assert "0.9245 [0.9230, 0.9260] | ≥ 0.922: met, interval above it" in page
    assert "| 48 s | ≤ 180 s: met | 1,756 | ≥ 5,000: **missed** |" in page
