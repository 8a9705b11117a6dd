"""``python -m bench --scale``: how the cost of each stage grows with the number of reviews.

Per size (``bench.scale_corpus``: 1x, 4x and 16x IMDb's reviews by default), the corpus
is written, then each stage runs in a process of its own (``bench.scale_stage``), so that
its peak memory is its own, on a fresh data folder: prepare, one epoch of the seed LSTM,
its evaluation on test, and the TF-IDF baseline. The results are raw figures per size and
stage; the section works out seconds per 1,000 reviews, ratios and targets from them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT, BenchSettings, machine
from bench.ratings_table import archive_rows
from bench.scale_corpus import DEFAULT_FACTORS, write_corpus

# What each stage's rows and seconds are, for the section's readers; in the order they run.
STAGE_NAMES = {
    "prepare": "prepare (the corpus)",
    "train": "train, 1 epoch (training rows)",
    "train_streamed": "train, 1 epoch streamed from row groups (training rows)",
    "evaluate": "evaluate (test rows)",
    "baseline": "TF-IDF baseline (the corpus)",
}
STAGES = tuple(STAGE_NAMES)
# The stage each one reads the output of: when that one failed, it is not run.
NEEDS = {
    "train": "prepare",
    "train_streamed": "prepare",
    "evaluate": "train",
    "baseline": "prepare",
}
# The targets: time per review at the largest size within this of the 1x figure,
# for every stage; prepare's peak memory at most this.
PER_REVIEW_RATIO_TARGET = 1.25
PREPARE_MEMORY_TARGET_GIB = 2.0
CHART_FILE = "scale.svg"


def _stage(stage: str, corpus: Path, sha256: str, data_dir: Path, log: Any) -> dict[str, Any]:
    """One stage in a child process: its JSON, or why it failed."""
    command = [sys.executable, "-m", "bench.scale_stage", stage, str(corpus), sha256]
    command.append(str(data_dir))
    log(f"$ python -m bench.scale_stage {stage} {corpus.name}")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    process_seconds = round(time.perf_counter() - started, 2)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        log(done.stderr[-3000:])
        last = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return {"failed": last[0][:300], "process_seconds": process_seconds}
    result = json.loads(lines[-1]) | {"process_seconds": process_seconds}
    rows, seconds, peak = result["rows"], result["seconds"], result["peak_rss_gib"]
    log(f"{stage}: {rows:,} rows, {seconds:.1f} s, peak {peak:.2f} GiB")
    return result


def run_scale(
    settings: BenchSettings, factors: tuple[float, ...] = DEFAULT_FACTORS
) -> dict[str, Any]:
    """Every stage at every size, each size in a fresh folder under the work dir."""
    from imdb_rnn.files import sha256_file

    # The archive's reviews, once: 50,000 strings, the variants are made from them.
    rows = archive_rows(Path(settings.source))
    sizes = []
    for factor in factors:
        work = settings.work_dir / "scale" / f"{factor:g}x"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        corpus = work / f"corpus-{factor:g}x.parquet"
        started = time.perf_counter()
        count = write_corpus(rows, factor, corpus)
        corpus_seconds = round(time.perf_counter() - started, 2)
        settings.log(f"{factor:g}x: {count:,} reviews written in {corpus_seconds:.0f} s")
        # The real checksum: prepare records it, and the folder is named from it.
        sha256 = sha256_file(corpus)
        stages: dict[str, dict[str, Any]] = {}
        for stage in STAGES:
            needs = NEEDS.get(stage)
            if needs and "failed" in stages[needs]:
                stages[stage] = {"failed": f"the {needs} stage failed"}
                continue
            stages[stage] = _stage(stage, corpus, sha256, work / "data", settings.log)
        sizes.append(
            {
                "factor": factor,
                "rows": count,
                "corpus_bytes": corpus.stat().st_size,
                "corpus_seconds": corpus_seconds,
                "stages": stages,
            }
        )
        shutil.rmtree(work, ignore_errors=True)
    return {"machine": machine(), "sizes": sizes}


def per_thousand(result: dict[str, Any]) -> float | None:
    """Seconds per 1,000 of the stage's rows; None when it failed."""
    if "failed" in result or not result.get("rows"):
        return None
    return result["seconds"] * 1000 / result["rows"]


def base_size(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """The size ratios are taken to: 1x when it was measured, else the smallest."""
    return next((size for size in sizes if size["factor"] == 1.0), sizes[0])


def figures(scale: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per size and stage: per 1,000 reviews, ratio to the base, targets.

    ``time_met`` is None at the base size (the ratio is 1 there by definition);
    ``memory_met`` is set for prepare only."""
    sizes = scale["sizes"]
    base = base_size(sizes)
    rows = []
    for size in sizes:
        # Results from before a stage was added have no figure for it.
        for stage in (stage for stage in STAGES if stage in size["stages"]):
            result = size["stages"][stage]
            per = per_thousand(result)
            base_per = per_thousand(base["stages"].get(stage, {}))
            ratio = per / base_per if per is not None and base_per else None
            peak = result.get("peak_rss_gib")
            rows.append(
                {
                    "factor": size["factor"],
                    "stage": stage,
                    "result": result,
                    "per_1000": per,
                    "ratio": ratio,
                    "time_met": (
                        None
                        if size is base
                        else ratio is not None and ratio <= PER_REVIEW_RATIO_TARGET
                    ),
                    "memory_met": (
                        peak is not None and peak <= PREPARE_MEMORY_TARGET_GIB
                        if stage == "prepare"
                        else None
                    ),
                }
            )
    return rows


def _target_cell(row: dict[str, Any]) -> str:
    verdicts = []
    if row["time_met"] is not None:
        verdicts.append("time " + ("met" if row["time_met"] else "**missed**"))
    if row["memory_met"] is not None:
        verdicts.append("memory " + ("met" if row["memory_met"] else "**missed**"))
    return "; ".join(verdicts) or "base size"


def _row_cells(row: dict[str, Any]) -> list[str]:
    result = row["result"]
    size = f"{row['factor']:g}x"
    if "failed" in result:
        return [size, row["stage"], "", "failed: " + result["failed"], "", "", "", ""]
    stage = row["stage"]
    if stage == "evaluate":
        stage += f" ({result['reviews_per_second']:,.0f} reviews/s)"
    ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
    return [
        size,
        stage,
        f"{result['rows']:,}",
        f"{result['seconds']:.1f}",
        f"{row['per_1000']:.3f}",
        ratio,
        f"{result['peak_rss_gib']:.2f}",
        _target_cell(row),
    ]


def scale_section(scale: dict[str, Any]) -> list[str]:
    """The scaling section of ``BENCHMARKS.md``: a table per size and stage, the targets at
    the largest size, and the log-log chart drawn beside the file."""
    from bench.markdown import _machine_line, _met, _table

    rows = figures(scale)
    base, largest = base_size(scale["sizes"]), scale["sizes"][-1]
    at_largest = [row for row in rows if row["factor"] == largest["factor"]]
    missed = [row["stage"] for row in at_largest if row["time_met"] is False]
    prepare_peak = largest["stages"]["prepare"].get("peak_rss_gib")
    memory_met = next(row["memory_met"] for row in at_largest if row["stage"] == "prepare")
    if largest is base:
        time_line = "one size only, no ratio to judge"
    else:
        time_line = _met(all(row["time_met"] for row in at_largest)) + (
            f" (missed: {', '.join(missed)})" if missed else ""
        )
    peak = "failed" if prepare_peak is None else f"{prepare_peak:.2f} GiB"
    sizes = ", ".join(f"{size['factor']:g}x: {size['rows']:,}" for size in scale["sizes"])
    base_name = f"{base['factor']:g}x"
    return [
        "### Scaling with the number of reviews",
        "",
        f"Measured {scale['measured_at']} with `{scale['invocation']}` on "
        f"{_machine_line(scale['machine'])}. Rows per size: {sizes}.",
        "",
        "Each corpus is one Parquet table read by the own-data path (`--split-column "
        "split`): variant 0 of each review is the review, the others its sentences in a "
        "seeded order, each with the review's label and split (below 1x, a seeded sample "
        "balanced by split and label). Each stage runs in a process of its own on a fresh "
        "data folder, with the seed settings: prepare; one epoch of the seed LSTM (fit's "
        "wall time, compilation included), with its rows in memory and again read from the "
        "prepared Parquet's row groups (`--memory-budget 0`); the in-memory model's "
        "evaluation on test (prediction time); the TF-IDF baseline (C searched on "
        "validation). Rows are the reviews the stage handled; peak memory is the process's "
        f"peak resident set (Python and its imports included). Ratios are to the {base_name} "
        "figure.",
        "",
        "Stages: " + "; ".join(f"`{stage}`: {name}" for stage, name in STAGE_NAMES.items()) + ".",
        "",
        _table(
            [
                "size",
                "stage",
                "rows",
                "wall s",
                "s per 1,000 reviews",
                f"ratio to {base_name}",
                "peak RSS GiB",
                "target",
            ],
            [_row_cells(row) for row in rows],
        ),
        "",
        f"Targets at the largest size ({largest['factor']:g}x): time per review within "
        f"{PER_REVIEW_RATIO_TARGET:g}x of the {base_name} figure for every stage: {time_line}. "
        f"Peak memory of prepare ≤ {PREPARE_MEMORY_TARGET_GIB:g} GiB: {_met(memory_met)} "
        f"({peak}).",
        "",
        f"![Seconds and peak memory of each stage against the corpus's reviews, log-log]"
        f"({CHART_FILE})",
        "",
    ]


def draw_chart(scale: dict[str, Any], path: Path) -> Path:
    """Seconds and peak memory of each stage against the corpus's rows, both axes
    logarithmic: a stage whose time per review stays the same is a line of slope 1."""
    import matplotlib

    matplotlib.use("Agg")  # no display; the chart is a file
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    sizes = scale["sizes"]
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for stage in STAGES:
        measured = [
            size
            for size in sizes
            if stage in size["stages"] and "failed" not in size["stages"][stage]
        ]
        corpus_rows = [size["rows"] for size in measured]
        results = [size["stages"][stage] for size in measured]
        time_axis.plot(corpus_rows, [r["seconds"] for r in results], marker="o", label=stage)
        memory_axis.plot(corpus_rows, [r["peak_rss_gib"] for r in results], marker="o", label=stage)
    prepared = [size for size in sizes if "failed" not in size["stages"]["prepare"]]
    if prepared:
        first = prepared[0]
        time_axis.plot(
            [size["rows"] for size in prepared],
            [
                first["stages"]["prepare"]["seconds"] * size["rows"] / first["rows"]
                for size in prepared
            ],
            linestyle=":",
            color="grey",
            label="prepare, proportional to rows",
        )
    memory_axis.axhline(
        PREPARE_MEMORY_TARGET_GIB, linestyle="--", color="grey", label="prepare's target"
    )
    for axis, title in ((time_axis, "seconds"), (memory_axis, "peak RSS (GiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        # Plain numbers at 1, 2 and 5 of each decade, rather than powers of ten.
        axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.yaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_xticks(
            [size["rows"] for size in sizes],
            [f"{size['rows']:,}\n{size['factor']:g}x" for size in sizes],
        )
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_xlabel("reviews in the corpus")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None})  # the same figures, the same file
    plt.close(figure)
    return path
