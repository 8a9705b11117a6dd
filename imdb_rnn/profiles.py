"""Named sets of settings for ``imdb-rnn run --profile NAME``.

``seed`` is the seed notes' setup, the defaults of every config. ``best`` is the setup
chosen for test accuracy on IMDb within about 15 minutes of training on a 2-core CPU, and
``compact`` one model of it, for serving. They were chosen on the validation split, never on
test (see docs/BENCHMARKS.md for how they were measured). Flags given on the command line
override a profile's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Profile:
    summary: str
    # config section -> {field: value}, sections and fields as in imdb_rnn.config
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


# The shape and fit of one model of the best profile, shared by the compact profile.
# Padding on the right: a masked recurrent layer keeps cuDNN kernels on a GPU.
_BIGRU_PREPROCESS = {"vocab_size": 20_000, "maxlen": 600, "padding": "post"}
_BIGRU_MODEL = {
    "embedding_dim": 64,
    "units": 32,
    "embedding_dropout": 0.3,
    "dropout": 0.3,
    "pooling": "max_mean",
    "bigram_buckets": 200_000,
    # Reviews have 225 of their 600 positions filled on average: batches cut to their
    # longest review train a model in about half the time.
    "skip_padding": True,
}
_BIGRU_FIT = {
    "architectures": ("bigru",),
    # Every single model scored best on validation after its first epoch.
    "epochs": 1,
    "batch_size": 128,
    "learning_rate": 2e-3,
}

PROFILES: dict[str, Profile] = {
    "seed": Profile("the seed notes' setup (the defaults)"),
    "best": Profile(
        "a cross-validated ensemble of 10 bidirectional GRUs, each trained for one epoch on "
        "9/10 of the pooled train and validation reviews, over word embeddings plus hashed "
        "word-bigram embeddings (200,000 buckets), max and mean pooling over the review's "
        "own positions, maxlen 600 with padding skipped (batches of similar length), "
        "vocabulary 20,000, embedding 64, spatial and output dropout, batch 128 at learning "
        "rate 0.002; and their stack with NBSVM (--stack), fitted on out-of-fold scores",
        {
            "preprocess": _BIGRU_PREPROCESS,
            "model": _BIGRU_MODEL,
            "training": {
                **_BIGRU_FIT,
                # As many members as fit 15 minutes of training on a 2-core CPU, with room
                # for this host's noise.
                "ensemble_folds": 10,
                "stack": True,
            },
        },
    ),
    "compact": Profile(
        "one bidirectional GRU of the best profile's shape (no ensemble, no stack), trained "
        "for one epoch on the train split: for serving, about 10 times the best profile's "
        "prediction throughput",
        {"preprocess": _BIGRU_PREPROCESS, "model": _BIGRU_MODEL, "training": _BIGRU_FIT},
    ),
}
