"""How long ``fit`` hangs on after its last epoch, with tf.data's autotuning on and off.

    python -m bench.iterator_stall --runs 6

Trains the seed GRU (``Embedding(10000, 32) -> GRU(32) -> Dense``, batch 64, 200 tokens,
XLA) on random tokens, ``--epochs`` epochs of ``--steps`` steps and 1,000 validation rows
per fit, each fit in a fresh process. The settings alternate: the pipeline's input
(``rnn_models.datasets``, autotuning off), and tf.data's and Keras' defaults (the same
training dataset with autotuning on, the validation rows given to Keras as arrays). For each
fit it prints the seconds from Keras' ``on_train_end`` until ``fit`` returns: the time spent
deleting the input iterators. No data download and no Prefect; one JSON line per fit,
then a summary line per setting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _fit_once(autotuned: bool, epochs: int, steps: int) -> dict[str, float | bool]:
    """One fit in this process: the pipeline's input, or the same with autotuning on."""
    import keras
    import numpy as np
    import tensorflow as tf

    from rnn_models import ModelConfig, build_model
    from rnn_models.datasets import batched_dataset, training_dataset
    from rnn_models.runtime import configure_tensorflow

    configure_tensorflow(42)
    generator = np.random.default_rng(0)
    rows, validation_rows = 64 * steps, 1000
    tokens = generator.integers(1, 10_000, size=(rows + validation_rows, 200)).astype(np.int32)
    labels = generator.integers(0, 2, size=rows + validation_rows).astype(np.float32)
    x_validation, y_validation = tokens[rows:], labels[rows:]
    dataset = training_dataset(tokens[:rows], labels[:rows], 64, 42, 0, epochs)
    if autotuned:  # tf.data's default, and Keras' own pipeline for the validation arrays
        options = tf.data.Options()
        options.autotune.enabled = True
        validation = {"validation_data": (x_validation, y_validation)}
        dataset = dataset.with_options(options)
    else:
        validation = {"validation_data": batched_dataset(x_validation, y_validation, 1000)}
    model = build_model("gru", ModelConfig(), 10_000, 200)
    model.compile("adam", "binary_crossentropy", jit_compile=True)

    class _TrainEnd(keras.callbacks.Callback):
        def on_train_end(self, logs: dict | None = None) -> None:
            self.at = time.perf_counter()

    train_end = _TrainEnd()
    started = time.perf_counter()
    model.fit(
        dataset, steps_per_epoch=steps, epochs=epochs, verbose=0, callbacks=[train_end],
        **validation,
    )  # fmt: skip
    returned = time.perf_counter()
    return {
        "autotuned": autotuned,
        "fit_s": round(returned - started, 2),
        "after_last_epoch_s": round(returned - train_end.at, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.iterator_stall",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=6, help="fits per setting (default 6)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per fit (default 2)")
    parser.add_argument("--steps", type=int, default=312, help="steps per epoch (default 312)")
    parser.add_argument("--one", choices=["autotuned", "untuned"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.runs, args.epochs, args.steps) < 1:
        parser.error("--runs, --epochs and --steps must be at least 1")
    if args.one:
        print(json.dumps(_fit_once(args.one == "autotuned", args.epochs, args.steps)))
        return 0

    results = []
    for _ in range(args.runs):
        for setting in ("autotuned", "untuned"):
            # A fresh process per fit, as each run of the pipeline is one.
            completed = subprocess.run(
                [sys.executable, "-m", "bench.iterator_stall", "--one", setting,
                 "--epochs", str(args.epochs), "--steps", str(args.steps)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            results.append(result)
            print(json.dumps(result), flush=True)
    for autotuned in (True, False):
        waits = [r["after_last_epoch_s"] for r in results if r["autotuned"] is autotuned]
        fits = [r["fit_s"] for r in results if r["autotuned"] is autotuned]
        print(
            json.dumps(
                {
                    "autotuned": autotuned,
                    "fits": len(fits),
                    "median_fit_s": statistics.median(fits),
                    "fits_waiting_over_1s": sum(wait > 1 for wait in waits),
                    "longest_wait_s": max(waits),
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
