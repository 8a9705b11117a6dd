"""The seed notes' Keras script, as written there, on the pipeline's padded sequences.

No Prefect and no pipeline code: NumPy, pyarrow and Keras only. The notes'
``imdb.load_data(num_words=10000)`` + ``pad_sequences(maxlen=200)`` is replaced by reading
the same padded sequences the pipeline trains on, so that the benchmark compares training
and nothing else. The notes' ``validation_split=0.2`` is kept: Keras holds out the last 20 %
of the training arrays, and the pipeline's validation rows are placed there, so both hold
out the same reviews.

    python bench/plain_keras.py --data DATA/processed/<fingerprint> --arch lstm --seed 42

prints one JSON line: seconds in ``fit``, epochs, test accuracy and ROC-AUC.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # after the log level, which TensorFlow reads on import
import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

RECURRENT_LAYERS = {
    "simple_rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def read_split(folder: str, split: str, maxlen: int) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(f"{folder}/{split}.parquet", columns=["tokens", "label"])
    tokens = table.column("tokens").combine_chunks().values.to_numpy().reshape(-1, maxlen)
    return tokens.astype("int32"), table.column("label").to_numpy().astype("float32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a processed/<fingerprint> folder")
    parser.add_argument("--arch", required=True, choices=tuple(RECURRENT_LAYERS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--num-words", type=int, default=10_000)
    parser.add_argument("--maxlen", type=int, default=200)
    args = parser.parse_args()

    x_train, y_train = read_split(args.data, "train", args.maxlen)
    x_validation, y_validation = read_split(args.data, "validation", args.maxlen)
    x_test, y_test = read_split(args.data, "test", args.maxlen)
    x_train = np.concatenate([x_train, x_validation])
    y_train = np.concatenate([y_train, y_validation])

    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(args.maxlen,), dtype="int32"),
            keras.layers.Embedding(args.num_words, 32),
            RECURRENT_LAYERS[args.arch](32),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, validation_split=0.2, verbose=0)
    fit_seconds = time.perf_counter() - started
    probabilities = model.predict(x_test, verbose=0).reshape(-1)
    print(
        json.dumps(
            {
                "architecture": args.arch,
                "seed": args.seed,
                "epochs": args.epochs,
                "fit_seconds": round(fit_seconds, 3),
                "accuracy": round(float(((probabilities >= 0.5) == y_test).mean()), 4),
                "roc_auc": round(float(roc_auc_score(y_test, probabilities)), 4),
                "parameters": int(model.count_params()),
            }
        )
    )


if __name__ == "__main__":
    main()
