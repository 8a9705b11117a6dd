"""Run the pipeline and the plain Keras script on the same data, and collect the numbers.

Every measurement runs in its own process, as a user would run it: ``imdb-rnn run`` for
the pipeline (temporary Prefect server included) and ``bench/plain_keras.py`` for the
notes' script. Results are plain dicts, written as JSON by ``bench.__main__``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLAIN_SCRIPT = ROOT / "bench" / "plain_keras.py"
SEED_ARCHITECTURES = ("simple_rnn", "lstm", "gru")


@dataclass(frozen=True)
class BenchSettings:
    """What one benchmark invocation runs."""

    source: str
    sha256: str
    work_dir: Path
    seeds: int = 10
    epochs: int = 2
    max_reviews_per_split: int | None = None  # quick mode: a balanced subset
    extra_pipeline_args: tuple[str, ...] = ()
    prepare_repeats: int = 3
    architectures: tuple[str, ...] = SEED_ARCHITECTURES
    log: Any = field(default=print, repr=False, compare=False)

    def data_args(self) -> list[str]:
        args = ["--source", self.source, "--sha256", self.sha256, "--epochs", str(self.epochs)]
        if self.max_reviews_per_split:
            args += ["--max-reviews-per-split", str(self.max_reviews_per_split)]
        return args


def shown_command(command: list[str], settings: BenchSettings) -> str:
    """``command`` as the results show it: no paths of the machine it ran on."""
    shown = []
    for part in command:
        if part == settings.source:
            part = f"<archive {Path(part).name}>"
        elif part.startswith(str(settings.work_dir)):
            part = "<work>" + part[len(str(settings.work_dir)) :]
        elif part.startswith("/") and Path(part).name in ("imdb-rnn", "plain_keras.py"):
            part = Path(part).name
        elif part == sys.executable:
            part = "python"
        shown.append(part)
    return " ".join(shown)


def machine() -> dict[str, Any]:
    """The hardware and software the numbers were measured with."""
    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("tensorflow", "keras", "prefect", "scikit-learn", "numpy", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model or platform.processor() or "unknown",
        "memory_gib": _memory_gib(),
        "gpu": "none" if not _has_gpu_device() else "present",
        "platform": platform.platform(),
        "python": platform.python_version(),
        **versions,
    }


def _memory_gib() -> float | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return None
    for line in meminfo.read_text(encoding="utf-8").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def _has_gpu_device() -> bool:
    return Path("/dev/nvidia0").exists()


def _timed(command: list[str], log: Any, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run ``command``; return its wall seconds and stdout. A failure stops the benchmark."""
    log("$ " + " ".join(command))
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[0]} exited with {result.returncode} after {seconds:.0f} s:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return seconds, result.stdout


def _imdb_rnn() -> str:
    found = Path(sys.executable).with_name("imdb-rnn")
    return str(found) if found.exists() else "imdb-rnn"


def run_pipeline(settings: BenchSettings, data_dir: Path, *extra: str) -> dict[str, Any]:
    """One ``imdb-rnn run``: its wall time and the models in its ``metrics.json``."""
    command = [
        _imdb_rnn(),
        "run",
        *settings.data_args(),
        "--data-dir",
        str(data_dir),
        *settings.extra_pipeline_args,
        *extra,
    ]
    seconds, _ = _timed(command, settings.log)
    metrics = json.loads((data_dir / "reports" / "latest" / "metrics.json").read_text("utf-8"))
    return {"wall_seconds": round(seconds, 2), "command": command, "metrics": metrics}


def pipeline_models(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The recurrent models of a ``metrics.json``, in the shape of the plain script's rows."""
    rows = []
    for model in metrics["models"]:
        if model["kind"] != "rnn" or model.get("failure"):
            continue
        rows.append(
            {
                "architecture": model.get("architecture") or model["model"],
                "seed": model.get("seed"),
                "epochs": model["epochs"],
                "fit_seconds": model["train_seconds"],
                "accuracy": round(model["metrics"]["accuracy"], 4),
                "roc_auc": round(model["metrics"]["roc_auc"], 4),
                "parameters": model["parameters"],
            }
        )
    return rows


def run_plain(settings: BenchSettings, processed: Path, architecture: str, seed: int) -> dict:
    command = [
        sys.executable,
        str(PLAIN_SCRIPT),
        "--data",
        str(processed),
        "--arch",
        architecture,
        "--seed",
        str(seed),
        "--epochs",
        str(settings.epochs),
    ]
    seconds, stdout = _timed(command, settings.log)
    row = json.loads(stdout.strip().splitlines()[-1])
    row["process_seconds"] = round(seconds, 2)
    return row


def time_prepare(raw_root: Path, settings: BenchSettings, repeats: int) -> list[float]:
    """Seconds of the prepare step (unpacked reviews -> padded Parquet), fresh output each time."""
    from imdb_rnn.aclimdb import RawDataset
    from imdb_rnn.config import PreprocessConfig
    from tasks.prepare import prepare_dataset

    raw = RawDataset(raw_root, settings.sha256, str(raw_root))
    config = PreprocessConfig(max_reviews_per_split=settings.max_reviews_per_split)
    seconds = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-prepare-") as scratch:
            started = time.perf_counter()
            prepare_dataset(raw, config, Path(scratch))
            seconds.append(round(time.perf_counter() - started, 2))
        settings.log(f"prepare: {seconds[-1]} s")
    return seconds


# A run that only trains and scores one seed: the comparison is about training.
_ONE_SEED_ONLY = ("--retrain", "--no-claims", "--no-baseline", "--no-champion")


def run_speed_suite(settings: BenchSettings) -> dict[str, Any]:
    """Pipeline first run and re-runs; then, seed by seed, a pipeline run that trains the
    seed's models and the plain script for each architecture; then the multi-seed run.

    Each seed's pipeline run and plain scripts follow each other, in alternating order, so
    that a slow spell of this shared host falls on both sides alike rather than on a whole
    block of one side's fits (as it did with all pipeline fits first: five SimpleRNN fits in
    a row took 6.5 s instead of 4.5 s).
    """
    data_dir = settings.work_dir / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    results: dict[str, Any] = {"machine": machine(), "settings": _settings_dict(settings)}

    first = run_pipeline(settings, data_dir)
    rerun = run_pipeline(settings, data_dir)
    forced = run_pipeline(settings, data_dir, "--force")
    run = first["metrics"]["run"]
    processed = Path(run["data"]["directory"])

    results["pipeline"], results["plain"], per_seed_seconds = [], [], []
    for index, seed in enumerate(range(42, 42 + settings.seeds)):
        plain_first = index % 2 == 1
        if plain_first:
            results["plain"] += _plain_runs(settings, processed, seed)
        one_seed = run_pipeline(settings, data_dir, "--seed", str(seed), *_ONE_SEED_ONLY)
        results["pipeline"] += pipeline_models(one_seed["metrics"])
        per_seed_seconds.append(one_seed["wall_seconds"])
        if not plain_first:
            results["plain"] += _plain_runs(settings, processed, seed)
    # Every seed is trained by now: this run scores them together and adds the across-seeds
    # table, as a user's `--seeds N` run would.
    seeds = run_pipeline(settings, data_dir, "--seeds", str(settings.seeds))
    results["pipeline_runs"] = {
        "first_wall_seconds": first["wall_seconds"],
        "rerun_wall_seconds": rerun["wall_seconds"],
        "forced_rerun_wall_seconds": forced["wall_seconds"],
        "one_seed_wall_seconds": per_seed_seconds,
        "seeds_wall_seconds": seeds["wall_seconds"],
        "command": shown_command(first["command"], settings),
    }
    results["pipeline_across_seeds"] = seeds["metrics"].get("across_seeds", [])
    results["baseline"] = [
        {
            "model": m["model"],
            "accuracy": m["metrics"]["accuracy"],
            "fit_seconds": m["train_seconds"],
        }
        for m in first["metrics"]["models"]
        if m["kind"] == "baseline"
    ]
    results["first_run_timings"] = run.get("timings", {})
    results["forced_rerun_timings"] = forced["metrics"]["run"].get("timings", {})

    # The unpacked archive: one folder, named by its checksum (hidden ones are staging).
    raw_root = next(
        folder
        for folder in (data_dir / "raw" / "extracted").iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
    )
    results["prepare_seconds"] = [
        json.loads((processed / "manifest.json").read_text("utf-8"))["seconds"],
        *time_prepare(raw_root, settings, settings.prepare_repeats - 1),
    ]

    results["summary"] = summarise(results)
    return results


def _plain_runs(settings: BenchSettings, processed: Path, seed: int) -> list[dict[str, Any]]:
    return [
        run_plain(settings, processed, architecture, seed)
        for architecture in settings.architectures
    ]


def _profile_command(settings: BenchSettings, profile: str, data_dir: Path) -> list[str]:
    command = [
        _imdb_rnn(),
        "run",
        "--profile",
        profile,
        "--source",
        settings.source,
        "--sha256",
        settings.sha256,
        "--data-dir",
        str(data_dir),
        "--no-claims",
        *settings.extra_pipeline_args,
    ]
    if settings.max_reviews_per_split:
        command += ["--max-reviews-per-split", str(settings.max_reviews_per_split), "--epochs", "1"]
    return command


def run_best_profile(settings: BenchSettings) -> dict[str, Any]:
    """``imdb-rnn run --profile best`` from scratch, then ``--profile compact`` on the same
    prepared data: training seconds, test accuracy, and every quality target."""
    data_dir = settings.work_dir / "data-best"
    shutil.rmtree(data_dir, ignore_errors=True)
    command = _profile_command(settings, "best", data_dir)
    seconds, _ = _timed(command, settings.log)
    metrics = json.loads((data_dir / "reports" / "latest" / "metrics.json").read_text("utf-8"))
    compact_command = _profile_command(settings, "compact", data_dir)
    compact_seconds, _ = _timed(compact_command, settings.log)
    compact = json.loads((data_dir / "reports" / "latest" / "metrics.json").read_text("utf-8"))
    # Chosen on validation, like everything else here: test accuracy is only reported.
    # The stack has a row of its own among the targets.
    best_rnn = max(
        (m for m in metrics["models"] if _recurrent(m)),
        key=lambda m: max(m.get("history", {}).get("val_accuracy", [0.0])),
    )
    baseline = next((m for m in metrics["models"] if m["model"] == "tfidf_logreg"), None)
    history = best_rnn.get("history", {})
    val_loss = history.get("val_loss", [])
    members = metrics["run"].get("training", {}).get("ensemble_folds", 1)
    return {
        "member_fit_seconds": member_fit_seconds(data_dir / "models", best_rnn),
        "machine": machine(),
        "command": shown_command(command, settings),
        "compact_command": shown_command(compact_command, settings),
        "wall_seconds": round(seconds, 1),
        "compact_wall_seconds": round(compact_seconds, 1),
        "model": best_rnn["model"],
        "train_seconds": best_rnn["train_seconds"],
        "epochs_run": best_rnn["epochs"],
        "best_epoch": (val_loss.index(min(val_loss)) + 1) if val_loss else None,
        "val_accuracy": history.get("val_accuracy", []),
        "val_loss": val_loss,
        "ensemble_members": members,
        "test_accuracy": best_rnn["metrics"]["accuracy"],
        "test_roc_auc": best_rnn["metrics"]["roc_auc"],
        "parameters": best_rnn["parameters"],
        "baseline_accuracy": baseline["metrics"]["accuracy"] if baseline else None,
        "settings": run_settings(metrics["run"]),
        "models": sorted(m["model"] for m in metrics["models"]),
        "targets": quality_targets(metrics, compact),
    }


def _recurrent(model: dict[str, Any]) -> bool:
    """A scored recurrent model of a ``metrics.json``: not a baseline, not the stack."""
    return model["kind"] == "rnn" and model["model"] != "stack" and not model.get("failure")


def _scored(metrics: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """A model's test accuracy with its interval, and its times, from a ``metrics.json``."""
    interval = metrics.get("evidence", {}).get("intervals", {}).get(model["model"], {})
    return {
        "model": model["model"],
        "accuracy": model["metrics"]["accuracy"],
        "interval": interval.get("accuracy"),
        "train_seconds": model["train_seconds"],
        "predict_seconds": model["predict_seconds"],
        "reviews_per_second": model["reviews_per_second"],
    }


def quality_targets(best: dict[str, Any], compact: dict[str, Any]) -> dict[str, Any]:
    """The quality targets' models: NBSVM, the best recurrent model (not the stack), the
    stack of the best profile's run, and the compact profile's one model."""
    by_name = {m["model"]: m for m in best["models"] if not m.get("failure")}
    recurrent = [m for m in by_name.values() if m["kind"] == "rnn" and m["model"] != "stack"]
    found: dict[str, Any] = {}
    if "nbsvm" in by_name:
        found["nbsvm"] = _scored(best, by_name["nbsvm"])
    if recurrent:
        # The best recurrent model is chosen on validation, as the report says.
        chosen = max(recurrent, key=lambda m: max(m["history"].get("val_accuracy", [0.0])))
        found["recurrent"] = _scored(best, chosen)
    if "stack" in by_name:
        found["stack"] = _scored(best, by_name["stack"])
    compact_models = [m for m in compact["models"] if m["kind"] == "rnn" and not m.get("failure")]
    if compact_models:
        found["compact"] = _scored(compact, compact_models[0])
    return found


def member_fit_seconds(models_dir: Path, ensemble: dict[str, Any]) -> list[float]:
    """Each member's own fit time, for an ensemble (empty for a single model)."""
    record_path = Path(ensemble.get("model_path", "")).parent / "training.json"
    if not ensemble.get("model_path") or not record_path.is_file():
        return []
    members = json.loads(record_path.read_text("utf-8")).get("members", [])
    return [
        json.loads((models_dir / name / "training.json").read_text("utf-8"))["train_seconds"]
        for name in members
    ]


def run_settings(run: dict[str, Any]) -> dict[str, Any]:
    """The configs a pipeline run recorded in its ``metrics.json``."""
    return {
        name: run[name] for name in ("preprocess", "model", "training", "execution") if name in run
    }


def _settings_dict(settings: BenchSettings) -> dict[str, Any]:
    return {
        "source": Path(settings.source).name,
        "seeds": settings.seeds,
        "epochs": settings.epochs,
        "max_reviews_per_split": settings.max_reviews_per_split,
        "architectures": list(settings.architectures),
        "extra_pipeline_args": list(settings.extra_pipeline_args),
    }


def _per_epoch(row: dict[str, Any]) -> float:
    return row["fit_seconds"] / max(1, row["epochs"])


def _mean_std(values: list[float]) -> tuple[float, float]:
    from statistics import mean, stdev

    return mean(values), (stdev(values) if len(values) > 1 else 0.0)


def mean_interval(values: list[float], confidence: float = 0.95) -> list[float] | None:
    """Student's t interval for the mean of ``values`` (None for fewer than two).

    Over seeds, the paired differences between the pipeline and the plain script are
    independent draws of training noise, so this says how far the mean difference can be
    trusted.
    """
    from statistics import mean, stdev

    from scipy.stats import t

    if len(values) < 2:
        return None
    half_width = t.ppf((1 + confidence) / 2, len(values) - 1) * stdev(values) / len(values) ** 0.5
    return [round(mean(values) - half_width, 4), round(mean(values) + half_width, 4)]


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Medians of seconds per epoch, means of accuracy, and the ratios the targets name."""
    per_architecture = {}
    for architecture in results["settings"]["architectures"]:
        plain = [r for r in results["plain"] if r["architecture"] == architecture]
        ours = [r for r in results["pipeline"] if r["architecture"] == architecture]
        if not plain or not ours:
            continue
        plain_epoch = median(_per_epoch(r) for r in plain)
        our_epoch = median(_per_epoch(r) for r in ours)
        plain_accuracy = _mean_std([r["accuracy"] for r in plain])
        our_accuracy = _mean_std([r["accuracy"] for r in ours])
        same_seed = {r["seed"]: r for r in plain}
        per_architecture[architecture] = {
            "plain_seconds_per_epoch": round(plain_epoch, 2),
            "pipeline_seconds_per_epoch": round(our_epoch, 2),
            "ratio": round(our_epoch / plain_epoch, 3),
            "plain_accuracy_mean": round(plain_accuracy[0], 4),
            "plain_accuracy_std": round(plain_accuracy[1], 4),
            "pipeline_accuracy_mean": round(our_accuracy[0], 4),
            "pipeline_accuracy_std": round(our_accuracy[1], 4),
            "accuracy_difference": round(our_accuracy[0] - plain_accuracy[0], 4),
            "plain_roc_auc_mean": round(_mean_std([r["roc_auc"] for r in plain])[0], 4),
            "pipeline_roc_auc_mean": round(_mean_std([r["roc_auc"] for r in ours])[0], 4),
            "seeds": len(ours),
        }
        paired = [
            round(r["accuracy"] - same_seed[r["seed"]]["accuracy"], 4)
            for r in ours
            if r["seed"] in same_seed
        ]
        per_architecture[architecture]["paired_accuracy_differences"] = paired
        per_architecture[architecture]["paired_difference_interval"] = mean_interval(paired)
    runs = results["pipeline_runs"]
    return {
        "per_architecture": per_architecture,
        "prepare_seconds_median": round(median(results["prepare_seconds"]), 2),
        "rerun_share": round(runs["rerun_wall_seconds"] / runs["first_wall_seconds"], 4),
    }


def run_scale_out(settings: BenchSettings, repeats: int = 2) -> dict[str, Any]:
    """The seed comparison run sequentially and on a local Dask cluster, back to back.

    Both read the same prepared data (a warm-up run prepares it), train every model again
    (``--retrain``) and measure the claims again (their cache is cleared), so the two differ
    only in where the trainings run. The order alternates to spread the host's noise.
    """
    data_dir = settings.work_dir / "data-scale-out"
    shutil.rmtree(data_dir, ignore_errors=True)
    warm_up = ("--archs", "simple_rnn", "--epochs", "1", "--no-claims", "--no-baseline")
    run_pipeline(dataclasses.replace(settings, epochs=1), data_dir, *warm_up, "--no-champion")
    modes = {
        "sequential": ("--runner", "sequential"),
        "dask_2_workers": ("--runner", "dask", "--dask-workers", "2"),
    }
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for _ in range(repeats):
        for mode, flags in modes.items():
            shutil.rmtree(data_dir / "claims", ignore_errors=True)
            result = run_pipeline(settings, data_dir, "--retrain", "--force", *flags)
            models = pipeline_models(result["metrics"])
            timings = result["metrics"]["run"].get("timings", {})
            runs[mode].append(
                {
                    "wall_seconds": result["wall_seconds"],
                    "train_seconds": {row["architecture"]: row["fit_seconds"] for row in models},
                    "accuracy": {row["architecture"]: row["accuracy"] for row in models},
                    "claims_seconds": timings.get("seed claims"),
                    "train_and_evaluate_seconds": timings.get("train and evaluate (wall)"),
                    "trained_on": sorted(
                        {m.get("trained_on", "") for m in result["metrics"]["models"]} - {""}
                    ),
                    "tensorflow_threads": result["metrics"]["run"]["execution"]["threads"],
                    "command": shown_command(result["command"], settings),
                }
            )
            settings.log(f"{mode}: {result['wall_seconds']} s")
    return {
        "machine": machine(),
        "settings": _settings_dict(settings),
        "full_data": settings.max_reviews_per_split is None,
        "runs": runs,
        "median_wall_seconds": {
            mode: round(median(run["wall_seconds"] for run in mode_runs), 1)
            for mode, mode_runs in runs.items()
        },
        "median_train_and_evaluate_seconds": {
            mode: round(median(run["train_and_evaluate_seconds"] for run in mode_runs), 1)
            for mode, mode_runs in runs.items()
        },
    }
