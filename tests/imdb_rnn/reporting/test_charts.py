"""The report's charts: each is a self-contained PNG data URI, drawn from tiny inputs."""

from __future__ import annotations

import base64
import math
import struct

import numpy as np
import pytest

from imdb_rnn.reporting.charts import (
    confusion_chart,
    gradient_position_chart,
    length_chart,
    precision_recall_chart,
    roc_chart,
    synthetic_chart,
    training_chart,
)
from tests.samples import EVALUATIONS, HISTORY, bucketed_evaluation, buckets

PREFIX = "data:image/png;base64,"
DPI = 110

PREDICTIONS = {
    "lstm": (np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])),
    "gru": (np.array([0, 0, 1, 1, 0, 1]), np.array([0.3, 0.6, 0.7, 0.9, 0.1, 0.55])),
}
TRAINED = [
    bucketed_evaluation("lstm", "rnn", 0.8, buckets(0.85, 0.75), history=HISTORY),
    bucketed_evaluation("gru", "rnn", 0.82, buckets(0.84, 0.8), history=HISTORY),
]


def png_of(uri: str) -> bytes:
    """The PNG bytes of a data URI; fails unless it is one."""
    assert uri.startswith(PREFIX)
    data = base64.b64decode(uri[len(PREFIX) :], validate=True)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return data


def size_of(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's header chunk (IHDR, right after the signature)."""
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def assert_size(png: bytes, inches: tuple[float, float]) -> None:
    width, height = size_of(png)
    assert abs(width - inches[0] * DPI) <= 1 and abs(height - inches[1] * DPI) <= 1


def test_the_roc_chart_is_a_png_of_its_size():
    assert_size(png_of(roc_chart(PREDICTIONS)), (5.2, 4.4))


def test_the_precision_recall_chart_is_a_png_of_its_size():
    assert_size(png_of(precision_recall_chart(PREDICTIONS)), (5.2, 4.4))


def test_the_training_chart_is_a_png_when_a_model_has_a_history():
    assert_size(png_of(training_chart(TRAINED)), (10.5, 4.0))


def test_there_is_no_training_chart_without_any_history():
    assert all(not e.history for e in EVALUATIONS)
    assert training_chart(EVALUATIONS) is None
    assert training_chart([]) is None


def test_the_length_chart_draws_buckets_with_no_reviews():
    # The samples' ">400" bucket has no reviews: its accuracy is NaN.
    assert math.isnan(EVALUATIONS[0].length_buckets[-1]["accuracy"])
    assert_size(png_of(length_chart(EVALUATIONS)), (10.5, 3.8))


@pytest.mark.parametrize("count", [1, 3])
def test_the_confusion_chart_is_a_png_as_wide_as_its_models(count):
    assert_size(png_of(confusion_chart(EVALUATIONS[:count])), (2.4 * count + 0.6, 2.8))


def test_the_gradient_chart_draws_beside_empty_and_all_zero_curves():
    curves = {"lstm": [0.0, 0.5, 1.0, 2.0], "flat": [0.0, 0.0], "empty": []}
    assert_size(png_of(gradient_position_chart(curves, 0.1)), (5.2, 4.4))


def test_the_synthetic_chart_is_a_png_of_its_size():
    synthetic = {
        "lstm": {"10": {"accuracy": 0.99}, "2": {"accuracy": 1.0}},
        "simple_rnn": {"2": {"accuracy": 0.95}, "10": {"accuracy": 0.52}},
    }
    assert_size(png_of(synthetic_chart(synthetic, 0.9)), (5.2, 4.4))


def test_the_shared_scored_models_draw_too(evaluations):
    assert png_of(length_chart(evaluations))
    assert png_of(confusion_chart(evaluations))
    assert png_of(training_chart(evaluations))
