"""``python -m bench --whole-run``: the first ``imdb-rnn run`` of this code against release 0.3.0.

A user's first run with the defaults, on a fresh data folder, is timed for three commands,
taking turns so that a slow spell of a shared host falls on all of them alike:

- **0.3.0**: the release, from a git worktree of its commit, run by the same interpreter;
- **same work**: this code doing only what 0.3.0 did (no NBSVM, no bootstrap intervals, no
  mistakes or word effects), the comparison the speed target is about;
- **default**: this code as a user runs it, with every stage added since.

Each run's wall time, the moments its stages finished (read from the log as it is written),
its models' test accuracies and its claims' verdicts are kept: the accuracies and verdicts
must be the same in every run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import ROOT, BenchSettings, machine

RELEASE = "0.3.0"
RELEASE_COMMIT = "150d5f64f8d8b4aad9070ac2d1f1a195f26fa79f"
# What 0.3.0 did not do; turned off, this code does the release's work.
SAME_WORK_ARGS = (
    "--baselines",
    "tfidf_logreg",
    "--bootstrap",
    "0",
    "--error-examples",
    "0",
    "--explained-reviews",
    "0",
)
VARIANTS = ("0.3.0", "same work", "default")
# When each stage is over, as either version logs it (seconds from the command's start).
MILESTONES = (
    ("flow started", re.compile(r"Beginning flow run .* for flow 'compare-architectures'")),
    ("unpacked", re.compile(r"Task run 'unpack-[^']*' - Finished")),
    ("prepared", re.compile(r"Task run 'prepare-[^']*' - Finished")),
    ("baselines", re.compile(r"Task run 'baseline[^']*' - Finished")),
    ("claims", re.compile(r"Task run 'seed-claims' - Finished")),
    ("report", re.compile(r"Task run 'report' - Finished")),
)
# The trainings and evaluations are one subflow, whose name is drawn at random.
_SUBFLOW_START = re.compile(r"Flow run '([^']+)' - Beginning subflow run")
TRAINED = "trained and evaluated"


@contextmanager
def release_worktree(scratch: Path) -> Iterator[Path]:
    """A checkout of the release's commit beside this one, removed afterwards."""
    folder = scratch / f"imdb-rnn-{RELEASE}"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), RELEASE_COMMIT],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
            check=False,
            capture_output=True,
        )


def _command(variant: str, settings: BenchSettings, data_dir: Path) -> list[str]:
    data = ["--source", settings.source, "--sha256", settings.sha256, "--data-dir", str(data_dir)]
    if variant == "0.3.0":
        entry = "import sys; from imdb_rnn.cli import main; sys.exit(main())"
        return [sys.executable, "-c", entry, "run", *data]
    imdb_rnn = Path(sys.executable).with_name("imdb-rnn")
    extra = SAME_WORK_ARGS if variant == "same work" else ()
    return [str(imdb_rnn), "run", *data, *extra]


def _stamped_run(
    command: list[str], cwd: Path, env: dict[str, str], log: Any
) -> tuple[float, list[tuple[float, str]]]:
    """Run ``command``; its wall seconds and every output line with the second it came."""
    log("$ " + " ".join(command))
    started = time.perf_counter()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        tail = "\n".join(line for _, line in lines[-40:])
        raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{tail}")
    return seconds, lines


def milestones(lines: list[tuple[float, str]]) -> dict[str, float]:
    """The second each stage of ``MILESTONES`` was over, for the stages the log shows."""
    found: dict[str, float] = {}
    subflow = None
    for second, line in lines:
        started = _SUBFLOW_START.search(line)
        if started:
            subflow = started.group(1)
        elif subflow and f"Flow run '{subflow}' - Finished" in line:
            found[TRAINED] = round(second, 1)
        for name, pattern in MILESTONES:
            if pattern.search(line):
                found[name] = round(second, 1)
    return dict(sorted(found.items(), key=lambda item: item[1]))


def _outcome(data_dir: Path) -> dict[str, Any]:
    """What must not change: each model's test accuracy and each claim's verdict."""
    metrics = json.loads((data_dir / "reports" / "latest" / "metrics.json").read_text("utf-8"))
    claims = metrics["run"].get("seed_claims") or {}
    return {
        "accuracies": {m["model"]: m["metrics"]["accuracy"] for m in metrics["models"]},
        "verdicts": [
            [v["model"], v["claim"], v["measured"], v["supported"]]
            for v in claims.get("verdicts", [])
        ],
        "timings": metrics["run"].get("timings", {}),
    }


def run_whole_run(settings: BenchSettings, repeats: int = 3) -> dict[str, Any]:
    """``repeats`` first runs of each variant, taking turns; medians and every run's stages."""
    results: dict[str, Any] = {"machine": machine(), "release": RELEASE, "runs": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench-whole-run-") as scratch,
        release_worktree(Path(scratch)) as release,
    ):
        # The release's packages first on the path; the interpreter and libraries are shared.
        release_env = {**os.environ, "PYTHONPATH": str(release)}
        for repeat in range(repeats):
            # Each round starts with another variant, so none always runs first.
            order = VARIANTS[repeat % 3 :] + VARIANTS[: repeat % 3]
            for variant in order:
                data_dir = settings.work_dir / "whole-run-data"
                shutil.rmtree(data_dir, ignore_errors=True)
                is_release = variant == "0.3.0"
                seconds, lines = _stamped_run(
                    _command(variant, settings, data_dir),
                    release if is_release else ROOT,
                    release_env if is_release else dict(os.environ),
                    settings.log,
                )
                run = {
                    "variant": variant,
                    "round": repeat + 1,
                    "wall_seconds": round(seconds, 1),
                    "finished_at": milestones(lines),
                    **_outcome(data_dir),
                }
                settings.log(f"{variant}: {run['wall_seconds']} s {run['finished_at']}")
                results["runs"].append(run)
                shutil.rmtree(data_dir, ignore_errors=True)
    results["summary"] = summarise_whole_run(results["runs"])
    results["commands"] = {
        variant: " ".join(
            ["imdb-rnn run" if variant != "0.3.0" else f"imdb-rnn {RELEASE} run"]
            + ["--source <archive>", "--data-dir <fresh folder>"]
            + (list(SAME_WORK_ARGS) if variant == "same work" else [])
        )
        for variant in VARIANTS
    }
    return results


def summarise_whole_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall times, the ratios to the release, and whether the results agree."""
    medians = {
        variant: statistics.median(r["wall_seconds"] for r in runs if r["variant"] == variant)
        for variant in VARIANTS
        if any(r["variant"] == variant for r in runs)
    }
    release = medians.get("0.3.0")
    shared = _shared_models(runs)
    first = {r["variant"]: r for r in reversed(runs)}
    return {
        "median_wall_seconds": medians,
        "ratio_same_work": round(medians["same work"] / release, 3)
        if release and "same work" in medians
        else None,
        "ratio_default": round(medians["default"] / release, 3)
        if release and "default" in medians
        else None,
        "same_accuracies": all(
            {m: r["accuracies"][m] for m in shared} == {m: runs[0]["accuracies"][m] for m in shared}
            for r in runs
        ),
        "same_verdicts": len({json.dumps(r["verdicts"]) for r in runs}) == 1,
        "accuracies": {
            variant: first[variant]["accuracies"] for variant in VARIANTS if variant in first
        },
    }


def _shared_models(runs: list[dict[str, Any]]) -> list[str]:
    names = [set(r["accuracies"]) for r in runs]
    return sorted(set.intersection(*names)) if names else []


def whole_run_section(whole: dict[str, Any]) -> list[str]:
    """The side-by-side table of ``BENCHMARKS.md``: every run, its stages, the medians."""
    from bench.markdown import _machine_line, _met, _table

    summary = whole["summary"]
    medians = summary["median_wall_seconds"]
    stages = [name for name, _ in MILESTONES[:3]] + [TRAINED] + [n for n, _ in MILESTONES[3:]]
    rows = [
        [
            run["variant"],
            str(run["round"]),
            f"{run['wall_seconds']:.1f}",
            *(
                f"{run['finished_at'][stage]:.1f}" if stage in run["finished_at"] else "–"
                for stage in stages
            ),
        ]
        for run in whole["runs"]
    ]
    ratio_same, ratio_default = summary["ratio_same_work"], summary["ratio_default"]
    accuracies = summary["accuracies"].get("default", {})
    lines = [
        f"### Whole first run: this code against release {whole['release']}",
        "",
        f"Measured {whole['measured_at']} with `{whole['invocation']}` on "
        f"{_machine_line(whole['machine'])}. Each run is a user's first `imdb-rnn run` with "
        "the defaults on a fresh data folder (real archive, every model trained anew); the "
        "three commands take turns. The release runs from a git worktree of its commit, with "
        "the same interpreter and libraries. Commands:",
        "",
        *(f"- {variant}: `{command}`" for variant, command in whole["commands"].items()),
        "",
        "Seconds from the command's start until each stage was over (the baselines and the "
        "claims' synthetic task run beside the trainings in this code, so its stages overlap; "
        "0.3.0 ran them one after another):",
        "",
        _table(["command", "round", "wall s", *(f"{stage} s" for stage in stages)], rows),
        "",
        "| | median wall s | ratio to 0.3.0 | target |",
        "|---|---|---|---|",
        f"| 0.3.0 | {medians['0.3.0']:.1f} | 1 | |",
        f"| same work | {medians['same work']:.1f} | {ratio_same:.2f} | ≤ 0.5: "
        f"{_met(ratio_same <= 0.5)} |",
        f"| default | {medians['default']:.1f} | {ratio_default:.2f} | < 1: "
        f"{_met(ratio_default < 1)} |",
        "",
        "Test accuracies the same in every run: "
        f"{_met(summary['same_accuracies'])} ("
        + ", ".join(f"{model} {value:.4f}" for model, value in accuracies.items())
        + f"); claims' verdicts the same in every run: {_met(summary['same_verdicts'])}.",
        "",
    ]
    return lines
