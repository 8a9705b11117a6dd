"""Command line: ``imdb-rnn run | report | predict | serve``.

Arguments are checked against the typed configs before Prefect or TensorFlow is imported,
so ``--help`` and a wrong value answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from entrypoints.interrupts import INTERRUPTED, Interrupt, stop_on_interrupt
from entrypoints.options import RUN_GROUPS, add_options, configs_from_args
from entrypoints.serve import add_serve_parser, serve_command
from entrypoints.terminal import expected_errors_without_tracebacks, import_tensorflow_quietly
from imdb_rnn.errors import ConfigError, ImdbRnnError
from imdb_rnn.profiles import PROFILES
from imdb_rnn.reporting.evidence_tables import format_verdicts, variation_sentence
from imdb_rnn.reporting.tables import format_seed_table, format_text_table
from imdb_rnn.stopping import RunInterrupted
from imdb_rnn.storage import DataStore

PROG = "imdb-rnn"
DATA_DIR_HELP = (
    "where caches, models and reports go: a folder (a shared one for a cluster), or an "
    "fsspec URL such as s3://bucket/imdb, which each process mirrors into its cache folder "
    "($IMDB_RNN_CACHE_DIR, default ~/.cache/imdb-rnn) (default: data)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train and compare recurrent sentiment models on the IMDb reviews.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_parser(commands)

    report = commands.add_parser(
        "report",
        help="print a run's comparison table and the path of its report",
        description="Print the comparison table of a finished run (best values marked) and "
        "the path of its report.html.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    report.add_argument("run_id", nargs="?", default="latest", help="a run id, or latest")
    report.add_argument("--data-dir", default="data", help="where the pipeline wrote its outputs")
    report.add_argument("--open", action="store_true", help="open report.html in a browser")

    predict = commands.add_parser(
        "predict",
        help="label reviews with the champion model",
        description="Label texts with the champion (the model in service), using its own "
        "vocabulary and padding: positive or negative for IMDb, or the champion's class names "
        "for a table of your own (with every class's probability when there are more than "
        "two). Pass texts as arguments or --file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="review text(s) to label")
    predict.add_argument(
        "--file", type=Path, help=".txt (one review a line), .csv or .parquet (a text column)"
    )
    predict.add_argument("--out", type=Path, help="write predictions to this .parquet or .csv")
    predict.add_argument("--data-dir", default="data", help="the data folder holding the champion")
    predict.add_argument(
        "--debug", action="store_true", help="show TensorFlow's start-up messages on the terminal"
    )

    add_serve_parser(commands)
    return parser


def _add_run_parser(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="download, prepare, train, evaluate and report",
        description="Run the comparison flow. Defaults reproduce the seed notes: vocabulary "
        "10,000, maxlen 200, embedding 32, 32 units, adam, 2 epochs, batch 64.",
    )
    run.add_argument(
        "--profile",
        default="seed",
        choices=tuple(PROFILES),
        help="named settings: "
        + "; ".join(f"{name}: {profile.summary}" for name, profile in PROFILES.items())
        + ". Flags given on the command line override the profile (default: seed)",
    )
    run.add_argument("--data-dir", default="data", help=DATA_DIR_HELP)
    run.add_argument(
        "--force",
        action="store_true",
        help="run the flow even when the last run had exactly these inputs (by default its "
        "results are shown and nothing runs)",
    )
    run.add_argument(
        "--debug",
        action="store_true",
        help="show on the terminal the full traceback of an expected error (a failed download, "
        "a corrupt archive, a bad review file; the Prefect API's logs always have it) and "
        "TensorFlow's start-up messages",
    )
    for title, options in RUN_GROUPS.items():
        add_options(run.add_argument_group(title), options)


def _quiet_defaults() -> None:
    # TensorFlow's C++ start-up chatter hides the pipeline's own log lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The temporary Prefect server can take more than the default 20 s on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # A temporary local server has no one to report usage to; offline it only logs errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def run_command(args: argparse.Namespace) -> int:
    """Run the comparison flow, unless the last run had exactly these inputs."""
    configs = configs_from_args(args)
    store = DataStore.open(args.data_dir)
    if not args.force and not configs["execution"].retrain:
        from entrypoints.rerun import unchanged_last_run

        reports = store.paths.reports
        last = unchanged_last_run(configs, reports)
        if last is not None:
            print(
                f"Nothing changed since run {last['run_id']}: same data, settings and "
                f"{PROG} version, and its outputs are intact. Its results:\n"
            )
            print_run(last, reports / "latest")
            print("\nUse --force to run the flow anyway (a new run id, report and history row).")
            return 0
    _quiet_defaults()
    with stop_on_interrupt(PROG) as interrupt:
        try:
            result = _run_flow(configs, store.location, args.debug, interrupt)
        except (KeyboardInterrupt, RunInterrupted):
            interrupt.say()
            return INTERRUPTED
        except ImdbRnnError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
    print()
    print_comparison(result.rows, result.best_model, result.headline, result.evidence)
    if result.seed_rows:
        print("\nAcross seeds (mean ± standard deviation):")
        print(format_seed_table(result.seed_rows))
    for row in result.rows:
        if row["status"] != "ok":
            print(f"{row['model']} {row['status']}")
    print(f"Report: {result.html_path}")
    return 0


def print_comparison(
    rows: list[dict[str, Any]],
    best_model: str,
    headline: list[str] | None,
    evidence: dict[str, Any] | None,
) -> None:
    """The metrics table, what the pairwise tests say, and the verdicts behind it."""
    print(format_text_table(rows))
    note = "* best in column."
    if evidence and evidence.get("resamples") and any("accuracy_low" in row for row in rows):
        note += (
            f" Under each model, its {evidence['confidence']:.0%} intervals (paired bootstrap, "
            f"{evidence['resamples']:,} resamples of the test reviews)."
        )
    print(f"\n{note} Best model: {best_model}")
    if headline:
        print("\n" + "\n".join(headline))
    if evidence and evidence.get("comparisons"):
        print("\nPairwise (accuracy, McNemar's exact test, Holm-corrected):")
        print(format_verdicts(evidence))
    if evidence and evidence.get("seed_variation"):
        print(variation_sentence(evidence["seed_variation"]))


def _run_flow(configs: dict[str, Any], data_dir: str, debug: bool, interrupt: Interrupt) -> Any:
    """The comparison flow, on a Prefect API of its own unless one is configured.

    TensorFlow is imported while that API starts up, and before any thread could write to
    stderr, so that its start-up lines can be kept off the terminal.
    """
    from entrypoints.server import prefect_api

    with prefect_api(meanwhile=lambda: import_tensorflow_quietly(show=debug)) as server:
        if server is not None:
            interrupt.before_exit = server.kill
        from flows.compare import compare_architectures

        quiet = contextlib.nullcontext() if debug else expected_errors_without_tracebacks()
        with quiet:
            return compare_architectures(**configs, data_dir=data_dir)


def print_run(metrics: dict[str, Any], directory: Path) -> None:
    """A finished run's tables, verdicts and files, from its ``metrics.json``."""
    print(f"Run {metrics['run_id']}\n")
    print_comparison(
        metrics["rows"], metrics["best_model"], metrics.get("headline"), metrics.get("evidence")
    )
    if metrics.get("across_seeds"):
        print("\nAcross seeds (mean ± standard deviation):")
        print(format_seed_table(metrics["across_seeds"]))
    if metrics.get("memory_verdict"):
        print(f"Short vs long memory: {metrics['memory_verdict']}")
    claims = metrics.get("run", {}).get("seed_claims")
    if claims:
        print("\nThe seed notes' claims, measured:")
        for verdict in claims["verdicts"]:
            print(f"- {verdict['text']}")
    print(f"\nReport: {directory.resolve() / 'report.html'}")
    print(f"Summary: {directory.resolve() / 'summary.md'}")


def report_command(args: argparse.Namespace) -> int:
    """Print a finished run's comparison table and where its report is."""
    reports = DataStore.open(args.data_dir).paths.reports
    directory = reports / args.run_id
    metrics_file = directory / "metrics.json"
    if not metrics_file.is_file():
        runs = sorted(p.name for p in reports.glob("*") if (p / "metrics.json").is_file())
        known = f"; reports there: {', '.join(runs[-5:])}" if runs else ""
        print(
            f"{PROG}: error: no report for run {args.run_id!r} in {reports}{known}. "
            f"Run '{PROG} run' to make one, or pass --data-dir.",
            file=sys.stderr,
        )
        return 1
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    html_path = directory.resolve() / "report.html"
    print_run(metrics, directory)
    if args.open and not webbrowser.open(html_path.as_uri()):
        print(f"No browser is available here; open {html_path} on a machine with one.")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """Label reviews with the champion and print or write the result."""
    from entrypoints.predict import (
        format_predictions,
        predict_reviews,
        read_review_file,
        write_predictions,
    )
    from imdb_rnn.champion import load_champion

    texts = list(args.texts) + (read_review_file(args.file) if args.file else [])
    if not any(text.strip() for text in texts):
        raise ConfigError("no review text given: pass reviews as arguments or with --file")
    _quiet_defaults()
    import_tensorflow_quietly(show=args.debug)
    try:
        champion = load_champion(DataStore.open(args.data_dir).paths.champion)
    except ImdbRnnError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    predictions = predict_reviews(texts, champion)
    record = champion.record
    if args.out:
        write_predictions(predictions, args.out)
        print(f"Wrote {len(predictions):,} predictions to {args.out}")
    else:
        print(format_predictions(predictions))
    print(f"(champion: {record['architecture']} from run {record['run_id']})", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    commands = {
        "run": run_command,
        "report": report_command,
        "predict": predict_command,
        "serve": serve_command,
    }
    try:
        return commands[args.command](args)
    except ConfigError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED


def console_main() -> None:
    """The ``imdb-rnn`` command: ``main``, then out at once, without Python's clean-up.

    With TensorFlow, Prefect and scikit-learn loaded, the interpreter's shutdown (freeing
    every module, TensorFlow's destructors) took about 1.1 s after the last line was printed.
    Nothing is left to save by then: every file is written atomically and closed, and what
    Prefect's log and event workers hold (which its own exit handler would send) is sent
    here, as are the streams and log handlers flushed.
    """
    try:
        status = main()
    except SystemExit as exit_:  # argparse's --help and usage errors
        status = exit_.code if isinstance(exit_.code, int) else (exit_.code is not None)
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    if "prefect" in sys.modules:  # not imported by --help, usage errors or `report`
        from entrypoints.server import send_pending_logs_and_events

        send_pending_logs_and_events()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a reader that went away, as `| head` does
            stream.flush()
    os._exit(int(status))


if __name__ == "__main__":
    console_main()
