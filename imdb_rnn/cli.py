"""Command line: ``imdb-rnn run ...``.

Arguments are checked against the typed configs before Prefect or TensorFlow is imported,
so ``--help`` and a wrong value answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from imdb_rnn.config import (
    CANONICAL_URL,
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ModelConfig,
    PreprocessConfig,
    RunnerConfig,
    SourceConfig,
    TrainingConfig,
)
from imdb_rnn.errors import ConfigError, ImdbRnnError
from imdb_rnn.profiles import PROFILES
from imdb_rnn.serve import add_serve_parser, serve_command
from rnn_models.registry import ARCHITECTURE_NAMES

PROG = "imdb-rnn"

# config section -> {field: command-line flag}
FLAGS: dict[str, dict[str, str]] = {
    "source": {"source": "--source", "sha256": "--sha256", "timeout_seconds": "--timeout"},
    "preprocess": {
        "vocab_size": "--vocab-size",
        "maxlen": "--maxlen",
        "padding": "--padding",
        "truncating": "--truncating",
        "validation_fraction": "--validation-fraction",
        "split_seed": "--split-seed",
        "max_reviews_per_split": "--max-reviews-per-split",
        "invalid_reviews": "--invalid-reviews",
    },
    "model": {
        "embedding_dim": "--embedding-dim",
        "units": "--units",
        "dropout": "--dropout",
        "embedding_dropout": "--embedding-dropout",
        "pooling": "--pooling",
        "bigram_buckets": "--bigram-buckets",
        "skip_padding": "--skip-padding",
    },
    "champion": {
        "enabled": "--no-champion",
        "metric": "--champion-metric",
        "min_improvement": "--min-improvement",
    },
    "training": {
        "architectures": "--archs",
        "epochs": "--epochs",
        "batch_size": "--batch-size",
        "learning_rate": "--learning-rate",
        "seed": "--seed",
        "seeds": "--seeds",
        "ensemble_folds": "--ensemble-folds",
        "early_stopping_patience": "--early-stopping",
        "xla": "--xla",
        "threads": "--threads",
        "batch_parts": "--batch-parts",
        "lazy_embeddings": "--lazy-embeddings",
        "clipnorm": "--clipnorm",
        "mirrored": "--mirrored",
        "retrain": "--retrain",
    },
    "runner": {
        "runner": "--runner",
        "dask_address": "--dask-address",
        "workers": "--dask-workers",
        "tasks_per_worker": "--dask-tasks-per-worker",
    },
    "claims": {
        "enabled": "--no-claims",
        "sample_reviews": "--claims-reviews",
        "distances": "--claims-distances",
        "synthetic_train": "--claims-train",
        "synthetic_epochs": "--claims-epochs",
    },
}
CONFIG_TYPES = {
    "source": SourceConfig,
    "preprocess": PreprocessConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "champion": ChampionConfig,
    "claims": ClaimsConfig,
    "runner": RunnerConfig,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train and compare recurrent sentiment models on the IMDb reviews.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="download, prepare, train, evaluate and report",
        description="Run the comparison flow. Defaults reproduce the seed notes: vocabulary "
        "10,000, maxlen 200, embedding 32, 32 units, adam, 2 epochs, batch 64.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument(
        "--profile",
        default="seed",
        choices=tuple(PROFILES),
        help="named settings: "
        + "; ".join(f"{name}: {profile.summary}" for name, profile in PROFILES.items())
        + ". Flags given on the command line override the profile",
    )
    data = run.add_argument_group("data")
    data.add_argument(
        "--source", default=CANONICAL_URL, help="URL, or path to an aclImdb .tar.gz or folder"
    )
    data.add_argument(
        "--sha256", default=None, help="expected sha256 of the archive (needed for other sources)"
    )
    data.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds")
    data.add_argument(
        "--data-dir",
        default="data",
        help="where caches, models and reports go: a folder (a shared one for a cluster), or "
        "an fsspec URL such as s3://bucket/imdb, which each process mirrors into its cache "
        "folder ($IMDB_RNN_CACHE_DIR, default ~/.cache/imdb-rnn)",
    )
    data.add_argument(
        "--vocab-size", type=int, default=10_000, help="token ids, padding and unknown included"
    )
    data.add_argument("--maxlen", type=int, default=200, help="tokens per review after padding")
    data.add_argument(
        "--padding", default="pre", choices=("pre", "post"), help="side that gets the zeros"
    )
    data.add_argument(
        "--truncating",
        default="pre",
        choices=("pre", "post"),
        help="side cut from long reviews (pre keeps the end)",
    )
    data.add_argument(
        "--validation-fraction", type=float, default=0.2, help="share of train held out"
    )
    data.add_argument("--split-seed", type=int, default=42, help="seed of the validation split")
    data.add_argument(
        "--max-reviews-per-split",
        type=int,
        default=None,
        help="balanced sample of this many reviews per split, for quick runs",
    )
    data.add_argument(
        "--invalid-reviews",
        default="fail",
        choices=("fail", "skip"),
        help="a review that is empty or not named <id>_<rating>.txt: stop, or leave it out",
    )
    model = run.add_argument_group("model")
    model.add_argument(
        "--archs",
        default=",".join(TrainingConfig().architectures),
        help=f"comma-separated, from: {', '.join(ARCHITECTURE_NAMES)}",
    )
    model.add_argument("--embedding-dim", type=int, default=32, help="embedding width")
    model.add_argument("--units", type=int, default=32, help="recurrent units (per direction)")
    model.add_argument("--dropout", type=float, default=0.0, help="dropout before the output layer")
    model.add_argument(
        "--embedding-dropout",
        type=float,
        default=0.0,
        help="spatial dropout of embedding channels while training",
    )
    model.add_argument(
        "--pooling",
        default="last",
        choices=("last", "max", "mean", "max_mean"),
        help="classify the last state, or the outputs at every position pooled over time",
    )
    model.add_argument(
        "--bigram-buckets",
        type=int,
        default=0,
        help="also embed each pair of neighbouring words, hashed into this many buckets "
        "(0 = words only)",
    )
    model.add_argument(
        "--skip-padding",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="mask padding in the recurrent layer, and train and predict on batches of "
        "similar length cut to their longest review (much faster at a large --maxlen; "
        "use --padding post on a GPU)",
    )
    training = run.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=2, help="passes over train")
    training.add_argument("--batch-size", type=int, default=64, help="reviews per step")
    training.add_argument("--learning-rate", type=float, default=1e-3, help="adam learning rate")
    training.add_argument("--seed", type=int, default=42, help="seed of weights and shuffling")
    training.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train each architecture with this many seeds (seed, seed+1, ...) and report "
        "mean ± standard deviation",
    )
    training.add_argument(
        "--ensemble-folds",
        type=int,
        default=1,
        metavar="K",
        help="cross-validated ensemble: pool train and validation, cut them into K folds, "
        "train K members per architecture (member k without fold k, validated on it) and "
        "score the average of their probabilities as one model; 1 = one model",
    )
    training.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help="stop after this many epochs without a better validation loss and keep the best "
        "epoch's weights; default: train every epoch",
    )
    training.add_argument(
        "--xla",
        default="auto",
        choices=("auto", "on", "off"),
        help="XLA-compile the train step; auto = on for last-state models when there is no GPU",
    )
    training.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow CPU threads (0 = one per core)",
    )
    training.add_argument(
        "--batch-parts",
        type=int,
        default=2,
        metavar="N",
        help="compute the gradients of N equal parts of each batch side by side, one per "
        "core, for LSTM and GRU layers when the train step is XLA-compiled (1 = Keras' own "
        "train step)",
    )
    training.add_argument(
        "--clipnorm",
        type=float,
        default=None,
        help="clip each gradient to this L2 norm (Keras clipnorm); default: no clipping",
    )
    training.add_argument(
        "--lazy-embeddings",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="adam updates only the embedding rows each batch uses (much faster with "
        "--bigram-buckets; trains without XLA)",
    )
    training.add_argument(
        "--mirrored",
        action="store_true",
        help="train with tf.distribute.MirroredStrategy over every GPU of the machine "
        "(--batch-size is the global batch)",
    )
    training.add_argument(
        "--retrain", action="store_true", help="train even if the same model exists"
    )
    cluster = run.add_argument_group(
        "where training runs (see 'Running on a cluster' in the README)"
    )
    cluster.add_argument(
        "--runner",
        default=None,
        choices=("sequential", "dask"),
        help="sequential: one training at a time in this process; dask: every architecture "
        "and seed as its own task on a Dask cluster (needs pip install 'imdb-rnn[dask]'). "
        "Default: dask when --dask-address is given, else sequential",
    )
    cluster.add_argument(
        "--dask-address",
        default=None,
        metavar="ADDRESS",
        help="scheduler of a running Dask cluster, e.g. tcp://scheduler:8786; without it "
        "--runner dask starts a local cluster",
    )
    cluster.add_argument(
        "--dask-workers",
        type=int,
        default=2,
        help="worker processes of the local cluster; each training gets --threads, or the "
        "machine's cores divided among the workers",
    )
    cluster.add_argument(
        "--dask-tasks-per-worker",
        type=int,
        default=1,
        help="tasks each local worker runs at once (Dask threads per worker)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run the flow even when the last run had exactly these inputs (by default its "
        "results are shown and nothing runs)",
    )
    training.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    champion = run.add_argument_group("champion (the model in service)")
    champion.add_argument(
        "--champion-metric",
        default="roc_auc",
        choices=("roc_auc", "accuracy", "f1", "average_precision", "mcc"),
        help="test metric the run's best recurrent model and the champion are compared on",
    )
    champion.add_argument(
        "--min-improvement",
        type=float,
        default=0.0,
        help="promote only when the challenger is better by more than this",
    )
    champion.add_argument(
        "--no-champion", action="store_true", help="skip the champion comparison and promotion"
    )

    claims = run.add_argument_group("seed notes' claims (memory, long-term dependency, gradients)")
    claims.add_argument(
        "--no-claims", action="store_true", help="skip measuring the seed notes' claims"
    )
    claims.add_argument(
        "--claims-reviews",
        type=int,
        default=256,
        help="test reviews the gradient by position is averaged over",
    )
    claims.add_argument(
        "--claims-distances",
        default="10,50,100,200",
        help="comma-separated marker distances of the synthetic long-range task",
    )
    claims.add_argument(
        "--claims-train",
        type=int,
        default=4096,
        help="synthetic training sequences per architecture and distance",
    )
    claims.add_argument(
        "--claims-epochs",
        type=int,
        default=5,
        help="most epochs of each synthetic training (stops once learnt)",
    )

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
        description="Label reviews as positive or negative with the champion (the model in "
        "service), using its own vocabulary and padding. Pass reviews as arguments or --file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="review text(s) to label")
    predict.add_argument(
        "--file", type=Path, help=".txt (one review a line), .csv or .parquet (a text column)"
    )
    predict.add_argument("--out", type=Path, help="write predictions to this .parquet or .csv")
    predict.add_argument("--data-dir", default="data", help="the data folder holding the champion")

    add_serve_parser(commands)
    return parser


def _first_problem(section: str, error: ValidationError) -> str:
    problem = error.errors()[0]
    if not problem["loc"]:  # a rule about several fields: its message names them
        return problem["msg"].removeprefix("Value error, ")
    field = str(problem["loc"][0])
    flag = FLAGS[section].get(field, field)
    message = problem["msg"].removeprefix("Value error, ")
    return f"{flag}: {message} (got {problem.get('input')!r})"


def _flag_value(args: argparse.Namespace, flag: str) -> Any:
    value = getattr(args, flag.removeprefix("--").replace("-", "_"))
    # "--no-x" switches are stored as True when given; the config field is "x enabled".
    return not value if flag.startswith("--no-") else value


def given_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The ``run`` options that ``argv`` sets explicitly (so a profile does not override them)."""
    run = next(
        action.choices["run"]
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    saved = {action.dest: action.default for action in run._actions}
    try:
        for action in run._actions:
            action.default = argparse.SUPPRESS
        explicit = vars(run.parse_known_args(list(argv)[1:])[0])
    finally:
        for action in run._actions:
            action.default = saved[action.dest]
    return {f"--{dest.replace('_', '-')}" for dest in explicit}


def configs_from_args(
    args: argparse.Namespace, explicit_flags: set[str] | None = None
) -> dict[str, Any]:
    """Build and validate the configs; raise ``ConfigError`` with a one-line message.

    ``args.profile`` supplies the values of the flags that are not in ``explicit_flags``
    (``None``: every flag counts as given, as when no profile is involved).
    """
    profile = PROFILES[getattr(args, "profile", "seed")]
    configs: dict[str, Any] = {}
    for section, flags in FLAGS.items():
        values = {field: _flag_value(args, flag) for field, flag in flags.items()}
        if section == "runner" and values["runner"] is None:
            values["runner"] = "dask" if values["dask_address"] else "sequential"
        for field, value in profile.settings.get(section, {}).items():
            if explicit_flags is not None and FLAGS[section][field] not in explicit_flags:
                values[field] = value
        try:
            configs[section] = CONFIG_TYPES[section](**values)
        except ValidationError as error:
            raise ConfigError(_first_problem(section, error)) from None
    configs["baseline"] = BaselineConfig(enabled=not args.no_baseline)
    if configs["runner"].runner == "dask":
        from imdb_rnn.cluster import require_dask

        require_dask()
    return configs


def _quiet_defaults() -> None:
    # TensorFlow's C++ start-up chatter hides the pipeline's own log lines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The temporary Prefect server can take more than the default 20 s on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # A temporary local server has no one to report usage to; offline it only logs errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def run_command(args: argparse.Namespace, explicit_flags: set[str] | None = None) -> int:
    from imdb_rnn.storage import DataStore

    configs = configs_from_args(args, explicit_flags)
    store = DataStore.open(args.data_dir)
    if not args.force and not configs["training"].retrain:
        from imdb_rnn.rerun import unchanged_last_run

        reports = store.paths().reports
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
    from flows.compare import compare_architectures
    from tasks.summary import format_seed_table, format_text_table

    try:
        result = compare_architectures(
            source=configs["source"],
            preprocess=configs["preprocess"],
            model=configs["model"],
            training=configs["training"],
            baseline=configs["baseline"],
            champion=configs["champion"],
            claims=configs["claims"],
            runner=configs["runner"],
            data_dir=store.location,
        )
    except ImdbRnnError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    print()
    print(format_text_table(result.rows))
    print(f"\n* best in column. Best model: {result.best_model}")
    if result.seed_rows:
        print("\nAcross seeds (mean ± standard deviation):")
        print(format_seed_table(result.seed_rows))
    for row in result.rows:
        if row["status"] != "ok":
            print(f"{row['model']} {row['status']}")
    print(f"Report: {result.html_path}")
    return 0


def print_run(metrics: dict[str, Any], directory: Path) -> None:
    """A finished run's tables, verdicts and files, from its ``metrics.json``."""
    from tasks.summary import format_seed_table, format_text_table

    print(f"Run {metrics['run_id']}\n")
    print(format_text_table(metrics["rows"]))
    print(f"\n* best in column. Best model: {metrics['best_model']}")
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
    import json
    import webbrowser

    from imdb_rnn.storage import DataStore

    reports = DataStore.open(args.data_dir).paths().reports
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
    from imdb_rnn.predict import (
        format_predictions,
        load_champion,
        predict_reviews,
        read_review_file,
        write_predictions,
    )
    from imdb_rnn.storage import DataStore

    texts = list(args.texts) + (read_review_file(args.file) if args.file else [])
    if not any(text.strip() for text in texts):
        raise ConfigError("no review text given: pass reviews as arguments or with --file")
    _quiet_defaults()
    try:
        champion = load_champion(DataStore.open(args.data_dir).paths().champion)
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return run_command(args, given_flags(parser, argv))
        if args.command == "report":
            return report_command(args)
        if args.command == "predict":
            return predict_command(args)
        if args.command == "serve":
            return serve_command(args)
    except ConfigError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")  # argparse rejects unknown ones


if __name__ == "__main__":
    sys.exit(main())
