"""The prediction benchmark: its review files and its section."""

from __future__ import annotations

import pyarrow.parquet as pq

from bench.predict_speed import predict_section, write_reviews


def test_review_files_repeat_the_reviews_in_order(tmp_path):
    path = write_reviews(["a", "b", "c"], 7, tmp_path / "r.parquet")
    assert pq.read_table(path).column("text").to_pylist() == ["a", "b", "c", "a", "b", "c", "a"]


def test_the_section_gives_start_up_throughput_and_the_target():
    results = {
        "measured_at": "2026-12-05 10:00 UTC",
        "invocation": "python -m bench --predict",
        "machine": {
            "cores": 2,
            "cpu": "AMD EPYC",
            "gpu": "none",
            "python": "3.11",
            "tensorflow": "2.21",
            "keras": "3",
            "prefect": "3.9",
        },
        "seconds": {"1": [6.0, 6.2, 6.1], "10000": [7.0, 7.1, 7.2], "100000": [16.1, 16.0, 16.2]},
        "start_up_seconds": 6.1,
        "reviews_per_second": 9_999,
        "end_to_end_reviews_per_second": 6_211,
        "in_process_stages": {"model": 8.5},
        "target_reviews_per_second": 10_000,
    }

    text = "\n".join(predict_section(results))

    assert "| 100,000 | 16.10 / 16.00 / 16.20 | 16.10 |" in text
    assert "Start-up (the one-review command" in text and "6.1 s" in text
    assert "**9,999 reviews/s** (target ≥ 10,000: **missed**)" in text
    assert "model 8.50 s" in text
