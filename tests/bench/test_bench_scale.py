"""The scaling benchmark: its corpora, one stage in its own process, and its section."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import bench.scale_corpus as scale_corpus
from bench.__main__ import _shown_arguments, build_parser, main
from bench.markdown import render
from bench.ratings_table import archive_rows
from bench.scale import CHART_FILE, draw_chart, figures, run_scale, scale_section
from bench.scale_corpus import parse_factors, sampled, sentences, write_corpus
from tests.samples import file_member, write_tarball

# Three reviews per split and label, of one to four sentences, with the archive's markup.
REVIEWS = {
    ("train", "pos"): [
        "Great film. The cast shines! Would I watch it again? Yes.",
        "Loved it.<br /><br />The score is superb. See it.",
        "Wonderful",
    ],
    ("train", "neg"): [
        "Dull plot. Bad acting! Why was it made? No idea.",
        "Hated it.<br />The ending drags. Skip it.",
        "Boring. Terrible.",
    ],
    ("test", "pos"): [
        "Brilliant work. A joy! Go and see it.",
        "Excellent. Truly excellent.",
        "Superb story. Fine cast.<br /><br />Loved the music.",
    ],
    ("test", "neg"): [
        "Awful. Just awful! Avoid.",
        "The worst film. Dull and long.",
        "Terrible. I left early. Save your money!",
    ],
}
ORIGINALS = len(REVIEWS) * 3


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    members = [
        file_member(f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt", text.encode())
        for (split, label), texts in REVIEWS.items()
        for i, text in enumerate(texts)
    ]
    return write_tarball(tmp_path / "aclImdb.tar.gz", members)


def _corpus(archive: Path, factor: float, path: Path) -> tuple[dict, list[dict]]:
    rows = archive_rows(archive)
    assert write_corpus(rows, factor, path) == len(pq.read_table(path))
    return rows, pq.read_table(path).to_pylist()


def test_the_corpus_holds_k_variants_of_every_review(archive, tmp_path):
    rows, corpus = _corpus(archive, 3, tmp_path / "corpus.parquet")

    assert len(corpus) == 3 * ORIGINALS
    assert [row["text"] for row in corpus[:ORIGINALS]] == rows["text"]  # variant 0: as it is
    for variant in (1, 2):
        block = corpus[variant * ORIGINALS : (variant + 1) * ORIGINALS]
        for row, text, label, split in zip(
            block, rows["text"], rows["sentiment"], rows["split"], strict=True
        ):
            assert (row["label"], row["split"]) == (label, split)
            parts = sentences(text)
            orders = {" ".join(order) for order in itertools.permutations(parts)}
            assert row["text"] in orders if len(parts) > 1 else row["text"] == text
    assert any(row["text"] not in rows["text"] for row in corpus[ORIGINALS:])  # some reshuffled
    assert {(row["split"], row["label"]) for row in corpus} == set(REVIEWS)


def test_the_corpus_is_written_in_row_groups_and_is_the_same_each_time(
    archive, tmp_path, monkeypatch
):
    monkeypatch.setattr(scale_corpus, "ROW_GROUP_ROWS", 5)
    _, first = _corpus(archive, 2, tmp_path / "a.parquet")
    _, again = _corpus(archive, 2, tmp_path / "b.parquet")

    # Each variant of 12 reviews in chunks of 5, 5 and 2.
    assert pq.ParquetFile(tmp_path / "a.parquet").metadata.num_row_groups == 6
    assert pq.read_schema(tmp_path / "a.parquet").names == ["text", "label", "split"]
    assert first == again
    assert not (tmp_path / "a.parquet.partial").exists()


def test_sentences_split_at_sentence_ends_and_markup():
    assert sentences("One. Two! Three?<br /><br />Four") == ["One.", "Two!", "Three?", "Four"]
    assert sentences("No end") == ["No end"]


def test_a_fraction_is_a_seeded_sample_balanced_by_split_and_label():
    rows = {
        "split": ["train"] * 60 + ["test"] * 40,
        "sentiment": (["pos"] * 20 + ["neg"] * 40) + (["pos"] * 30 + ["neg"] * 10),
    }
    chosen = sampled(rows, 0.1, seed=3)

    picked = [(rows["split"][i], rows["sentiment"][i]) for i in chosen]
    assert {group: picked.count(group) for group in set(picked)} == {
        ("train", "pos"): 2,
        ("train", "neg"): 4,
        ("test", "pos"): 3,
        ("test", "neg"): 2,  # 1 by the fraction; two at least, for validation
    }
    assert list(chosen) == sorted(chosen)
    assert list(sampled(rows, 0.1, seed=3)) == list(chosen)
    assert list(sampled(rows, 0.1, seed=4)) != list(chosen)


def test_factors_are_fractions_or_whole_numbers():
    assert parse_factors("16,1,4") == (1.0, 4.0, 16.0)
    assert parse_factors("0.08,0.04") == (0.04, 0.08)
    for bad in ("2.5", "0", "-1", "x", ""):
        with pytest.raises(ValueError):
            parse_factors(bad)


def test_the_command_line_shows_the_factors_and_refuses_them_alone(tmp_path, capsys):
    args = build_parser().parse_args(["--scale", "--scale-factors", "0.04,0.02"])
    assert _shown_arguments(args) == ["--scale", "--scale-factors", "0.02,0.04"]
    assert _shown_arguments(build_parser().parse_args(["--scale"])) == ["--scale"]

    source = tmp_path / "a.tar.gz"
    source.write_bytes(b"")
    for argv, message in (
        (["--scale-factors", "1"], "goes with --scale"),
        (["--scale", "--scale-factors", "2.5"], "whole number"),
        (["--scale", "--quick"], "not allowed with"),
        (["--scale", "--scale-out"], "give it on its own"),
    ):
        with pytest.raises(SystemExit):
            main([*argv, "--source", str(source), "--sha256", "0" * 64])
        assert message in capsys.readouterr().err


def _stage_result(rows, seconds, peak, **extra):
    return {"rows": rows, "seconds": seconds, "peak_rss_gib": peak, **extra}


SCALE = {
    "measured_at": "2026-12-05 12:00 UTC",
    "invocation": "python -m bench --scale",
    "machine": {
        "cores": 2,
        "cpu": "AMD EPYC",
        "memory_gib": 8,
        "gpu": "none",
        "python": "3.11",
        "tensorflow": "2.21",
        "keras": "3",
        "prefect": "3.9",
    },
    "sizes": [
        {
            "factor": 1.0,
            "rows": 50_000,
            "stages": {
                "prepare": _stage_result(50_000, 50.0, 0.9),
                "train": _stage_result(20_000, 100.0, 1.5),
                "evaluate": _stage_result(25_000, 5.0, 1.2, reviews_per_second=5000.0),
                "baseline": _stage_result(50_000, 60.0, 2.0),
            },
        },
        {
            "factor": 16.0,
            "rows": 800_000,
            "stages": {
                "prepare": _stage_result(800_000, 1000.0, 2.5),  # 1.25 s per 1,000: ratio 1.25
                "train": _stage_result(320_000, 480.0, 1.6),  # 1.5 against 5.0: ratio 0.30
                "evaluate": _stage_result(400_000, 120.0, 1.3, reviews_per_second=3333.3),
                "baseline": _stage_result(800_000, 1600.0, 6.0),  # 2.0 against 1.2: 1.67
            },
        },
    ],
}


def test_the_section_works_out_ratios_and_targets():
    text = "\n".join(scale_section(SCALE))

    assert "Rows per size: 1x: 50,000, 16x: 800,000." in text
    assert "| size | stage | rows | wall s | s per 1,000 reviews | ratio to 1x |" in text
    assert "| 1x | prepare | 50,000 | 50.0 | 1.000 | 1.00 | 0.90 | memory met |" in text
    assert "| 1x | train | 20,000 | 100.0 | 5.000 | 1.00 | 1.50 | base size |" in text
    # Exactly 1.25 is within the target; 2.5 GiB is over 2.
    assert (
        "| 16x | prepare | 800,000 | 1000.0 | 1.250 | 1.25 | 2.50 | time met; memory **missed** |"
    ) in text
    assert "| 16x | train | 320,000 | 480.0 | 1.500 | 0.30 | 1.60 | time met |" in text
    assert (
        "| 16x | evaluate (3,333 reviews/s) | 400,000 | 120.0 | 0.300 | 1.50 | 1.30 "
        "| time **missed** |"
    ) in text
    assert "| 16x | baseline | 800,000 | 1600.0 | 2.000 | 1.67 | 6.00 | time **missed** |" in text
    assert "**missed** (missed: evaluate, baseline)" in text
    assert "Peak memory of prepare ≤ 2 GiB: **missed** (2.50 GiB)" in text
    assert f"]({CHART_FILE})" in text
    assert "### Scaling with the number of reviews" in render({"scale": SCALE})


def test_ratios_are_to_the_smallest_size_without_1x_and_failures_are_shown():
    small = json.loads(json.dumps(SCALE))
    small["sizes"][0]["factor"], small["sizes"][1]["factor"] = 0.04, 0.08
    small["sizes"][1]["stages"]["train"] = {"failed": "MemoryError"}
    small["sizes"][1]["stages"]["evaluate"] = {"failed": "the train stage failed"}
    small["sizes"][1]["stages"]["prepare"]["peak_rss_gib"] = 1.0

    text = "\n".join(scale_section(small))
    rows = {(row["factor"], row["stage"]): row for row in figures(small)}

    assert "ratio to 0.04x" in text
    assert "| 0.08x | train |  | failed: MemoryError |" in text
    assert rows[(0.08, "train")]["time_met"] is False
    assert rows[(0.08, "prepare")]["memory_met"] is True
    assert "Peak memory of prepare ≤ 2 GiB: met (1.00 GiB)" in text


def test_the_streamed_epoch_has_rows_of_its_own_when_measured():
    """Results from before the streamed stage have no row for it; newer ones do."""
    streamed = json.loads(json.dumps(SCALE))
    streamed["sizes"][0]["stages"]["train_streamed"] = _stage_result(20_000, 120.0, 1.0)
    streamed["sizes"][1]["stages"]["train_streamed"] = _stage_result(320_000, 960.0, 1.1)

    old_rows = "\n".join(scale_section(SCALE))
    text = "\n".join(scale_section(streamed))

    assert "train_streamed |" not in old_rows
    # 960 s for 320,000 rows is 3.0 s per 1,000, against 6.0 at 1x: ratio 0.50.
    assert "| 16x | train_streamed | 320,000 | 960.0 | 3.000 | 0.50 | 1.10 | time met |" in text


def test_the_chart_is_an_svg_of_both_figures(tmp_path):
    path = draw_chart(SCALE, tmp_path / "docs" / CHART_FILE)

    svg = path.read_text("utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "peak RSS (GiB)" in svg and "seconds" in svg


@pytest.mark.slow
def test_every_stage_runs_in_its_own_process_and_the_folder_is_removed(archive, tmp_path):
    """The whole benchmark on the hand-made archive at one size: every stage, one LSTM epoch
    in memory and one streamed (two sizes are the section's tests, on recorded figures)."""
    from bench.harness import BenchSettings

    lines: list[str] = []
    settings = BenchSettings(str(archive), "0" * 64, tmp_path / "work", log=lines.append)
    results = run_scale(settings, (2.0,))

    [size] = results["sizes"]
    assert size["rows"] == 2 * ORIGINALS
    prepare = size["stages"]["prepare"]
    assert prepare["rows"] == 2 * ORIGINALS
    assert prepare["splits"]["test"] == 2 * 6  # the archive's split, twice over
    assert prepare["splits"]["train"] + prepare["splits"]["validation"] == 2 * 6
    assert 0 < prepare["seconds"] <= prepare["wall_seconds"] <= prepare["process_seconds"]
    assert prepare["peak_rss_gib"] > 0.01  # ru_maxrss read as KiB
    assert any(line.startswith("prepare: 24 rows") for line in lines)
    assert size["stages"]["baseline"]["rows"] == 2 * ORIGINALS
    assert 0 <= size["stages"]["baseline"]["accuracy"] <= 1
    assert set(size["stages"]) == {"prepare", "train", "train_streamed", "evaluate", "baseline"}
    assert not [name for name, stage in size["stages"].items() if "failed" in stage]
    assert size["stages"]["train"]["input"]["training_rows"] == "in-memory"
    assert size["stages"]["train_streamed"]["input"]["training_rows"] == "streamed"
    assert size["stages"]["train_streamed"]["rows"] == size["stages"]["train"]["rows"]
    assert size["stages"]["evaluate"]["rows"] == size["rows"] // 2
    assert not (tmp_path / "work" / "scale" / "2x").exists()  # the size's folder removed
