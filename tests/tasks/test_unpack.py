"""Unpacking an archive safely: hostile members refused, only reviews kept, reuse."""

from __future__ import annotations

import shutil
import tarfile

import pytest

from imdb_rnn.config import SourceConfig
from imdb_rnn.errors import (
    DatasetLayoutError,
    DataSourceError,
    UnsafeArchiveError,
)
from imdb_rnn.paths import DataPaths
from imdb_rnn.sources import LocalSource
from imdb_rnn.unpacked import REVIEWS_FILE, UnpackedReviews
from tasks.download import fetch_archive
from tasks.unpack import check_member, extract_archive, locate_dataset
from tests.conftest import make_aclimdb, make_tarball
from tests.samples import (
    OTHER_SHA,
    device_member,
    file_member,
    files_under,
    link_member,
    valid_members,
    write_tarball,
)


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (file_member("../evil.txt")[0], "climbs out"),
        (file_member("aclImdb/../../evil.txt")[0], "climbs out"),
        (file_member("/tmp/evil.txt")[0], "absolute path"),
        (file_member("C:/evil.txt")[0], "absolute path"),
        (link_member("aclImdb/link", "../../etc/passwd", tarfile.SYMTYPE)[0], "outside"),
        (link_member("aclImdb/link", "/etc/passwd", tarfile.SYMTYPE)[0], "outside"),
        (link_member("aclImdb/train/link", "../../../x", tarfile.SYMTYPE)[0], "outside"),
        (link_member("aclImdb/hard", "../outside.txt", tarfile.LNKTYPE)[0], "outside"),
        (link_member("aclImdb/hard", "/etc/passwd", tarfile.LNKTYPE)[0], "outside"),
        (device_member("aclImdb/dev")[0], "device or pipe"),
    ],
    ids=[
        "dotdot",
        "dotdot-nested",
        "absolute",
        "drive-letter",
        "symlink-up",
        "symlink-absolute",
        "symlink-deep-up",
        "hardlink-up",
        "hardlink-absolute",
        "char-device",
    ],
)
def test_check_member_rejects_hostile_members(member, reason):
    with pytest.raises(UnsafeArchiveError, match=reason) as caught:
        check_member(member)

    assert repr(member.name) in str(caught.value)


def test_check_member_rejects_a_fifo():
    info = tarfile.TarInfo("aclImdb/pipe")
    info.type = tarfile.FIFOTYPE

    with pytest.raises(UnsafeArchiveError, match="device or pipe"):
        check_member(info)


@pytest.mark.parametrize(
    "member",
    [
        file_member("aclImdb/train/pos/0_9.txt")[0],
        file_member("aclImdb/README")[0],
        link_member("aclImdb/a", "b", tarfile.SYMTYPE)[0],
        link_member("aclImdb/train/pos/x.txt", "../neg/y.txt", tarfile.SYMTYPE)[0],
        link_member("aclImdb/copy", "aclImdb/README", tarfile.LNKTYPE)[0],
    ],
    ids=["review", "readme", "symlink-sibling", "symlink-internal-up", "hardlink-internal"],
)
def test_check_member_accepts_members_that_stay_inside(member):
    check_member(member)  # raises nothing


@pytest.mark.parametrize(
    "hostile",
    [
        file_member("../evil.txt", b"evil"),
        file_member("../train/pos/0_1.txt", b"evil"),  # also matches the review pattern
        link_member("aclImdb/train/pos/link.txt", "../../../../etc/passwd", tarfile.SYMTYPE),
        link_member("aclImdb/train/pos/hard.txt", "../outside.txt", tarfile.LNKTYPE),
        device_member("aclImdb/train/pos/dev.txt"),
    ],
    ids=["dotdot", "dotdot-review", "symlink", "hardlink", "char-device"],
)
def test_extract_archive_rejects_a_hostile_tarball_and_leaves_nothing(tmp_path, hostile):
    # The hostile member comes after a complete layout, so some files are staged first.
    archive = write_tarball(tmp_path / "in" / "hostile.tar.gz", [*valid_members(), hostile])
    (tmp_path / "outside.txt").write_text("target of the hard link")
    extracted = tmp_path / "data" / "raw" / "extracted"
    before = files_under(tmp_path)

    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, OTHER_SHA, extracted)

    assert files_under(tmp_path) == before  # nothing written anywhere, inside or outside
    assert not (extracted / "evil.txt").exists()
    assert not (tmp_path / "data" / "raw" / "evil.txt").exists()
    assert list(extracted.iterdir()) == []  # neither extracted/<sha> nor a staging folder


def test_extract_archive_rejects_an_absolute_member(tmp_path):
    evil = tmp_path / "evil.txt"
    archive = write_tarball(
        tmp_path / "in" / "absolute.tar.gz", [*valid_members(), file_member(str(evil), b"evil")]
    )
    extracted = tmp_path / "extracted"

    with pytest.raises(UnsafeArchiveError, match="absolute path"):
        extract_archive(archive, OTHER_SHA, extracted)

    assert not evil.exists()
    assert list(extracted.iterdir()) == []


def test_tarball_without_the_aclimdb_layout_is_rejected(tmp_path):
    archive = write_tarball(
        tmp_path / "other.tar.gz", [file_member("photos/cat.txt"), file_member("notes/README.md")]
    )
    extracted = tmp_path / "extracted"

    with pytest.raises(DatasetLayoutError, match="no reviews in the aclImdb layout"):
        extract_archive(archive, OTHER_SHA, extracted)

    assert list(extracted.iterdir()) == []


def test_tarball_with_only_part_of_the_layout_is_rejected(tmp_path):
    archive = write_tarball(tmp_path / "part.tar.gz", valid_members()[:2])  # train/ only
    extracted = tmp_path / "extracted"

    with pytest.raises(DatasetLayoutError, match="aclImdb layout"):
        extract_archive(archive, OTHER_SHA, extracted)

    assert list(extracted.iterdir()) == []


def test_truncated_tarball_is_a_data_source_error(fake_archive, tmp_path):
    whole = fake_archive.path.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    extracted = tmp_path / "extracted"

    with pytest.raises(DataSourceError) as caught:
        extract_archive(truncated, fake_archive.sha256, extracted)

    message = str(caught.value)
    assert "truncated" in message
    assert "readable" in message
    assert str(truncated) in message
    assert not isinstance(caught.value, DatasetLayoutError)
    assert list(extracted.iterdir()) == []


def test_unpacking_keeps_only_the_reviews_byte_for_byte(tmp_path):
    dataset = make_aclimdb(tmp_path / "source", per_label=2)
    # Extra files the real archive has and the pipeline must not unpack.
    (dataset.root / "imdb.vocab").write_text("great\nawful\n")
    (dataset.root / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/x\n")
    (dataset.root / "train" / "labeledBow.feat").write_text("0 0:1\n")
    (dataset.root / "train" / "unsup").mkdir()
    (dataset.root / "train" / "unsup" / "0_0.txt").write_text("unlabelled review")
    archive = tmp_path / "in" / "extra.tar.gz"
    archive.parent.mkdir()
    sha = make_tarball(tmp_path / "source", archive)
    extracted = tmp_path / "extracted"

    root = extract_archive(archive, sha, extracted)

    assert root == extracted / sha
    assert files_under(root) == [REVIEWS_FILE]  # one table, not a file per review
    unpacked = UnpackedReviews(root)
    for split in ("test", "train"):
        for label in ("neg", "pos"):
            originals = sorted(p.name for p in (dataset.root / split / label).glob("*.txt"))
            assert sorted(unpacked.names(split, label)) == originals
            assert len(originals) == 2
            for name in originals:
                location = str(root / split / label / name)
                assert unpacked.read(location) == (dataset.root / split / label / name).read_bytes()
    assert sorted(p.name for p in extracted.iterdir()) == [sha]  # no staging folder left


def test_a_member_the_archive_holds_twice_is_kept_once_the_later_copy(tmp_path):
    twice = "aclImdb/train/pos/0_8.txt"
    members = [*valid_members(), file_member(twice, b"the second copy")]
    archive = write_tarball(tmp_path / "twice.tar.gz", members)

    root = extract_archive(archive, OTHER_SHA, tmp_path / "extracted")

    unpacked = UnpackedReviews(root)
    assert unpacked.names("train", "pos") == ["0_8.txt"]
    assert unpacked.read(str(root / "train" / "pos" / "0_8.txt")) == b"the second copy"


def test_extraction_is_reused_on_the_second_call(fake_archive, tmp_path, monkeypatch):
    extracted = tmp_path / "extracted"
    root = extract_archive(fake_archive.path, fake_archive.sha256, extracted)
    table = root / REVIEWS_FILE
    mtime = table.stat().st_mtime_ns

    def no_second_unpack(*args, **kwargs):
        raise AssertionError("the archive was opened again")

    monkeypatch.setattr(tarfile, "open", no_second_unpack)
    again = extract_archive(fake_archive.path, fake_archive.sha256, extracted)

    assert again == root
    assert table.stat().st_mtime_ns == mtime


def test_a_folder_unpacked_file_by_file_by_an_earlier_release_is_used_as_it_is(
    fake_dataset, tmp_path, monkeypatch
):
    extracted = tmp_path / "extracted"
    shutil.copytree(fake_dataset.root, extracted / OTHER_SHA / "aclImdb")
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: pytest.fail("archive opened"))

    root = extract_archive(tmp_path / "absent.tar.gz", OTHER_SHA, extracted)

    assert root == extracted / OTHER_SHA / "aclImdb"


def test_locate_dataset_extracts_an_archive_source(fake_archive, tmp_path):
    paths = DataPaths(tmp_path / "data")
    source = LocalSource(fake_archive.path, fake_archive.sha256, "archive", "somewhere")

    raw = locate_dataset(source, paths)

    assert raw.root == paths.extracted / fake_archive.sha256
    assert raw.sha256 == fake_archive.sha256
    assert raw.origin == "somewhere"
    assert len(UnpackedReviews(raw.root).names("test", "neg")) == 12


@pytest.mark.parametrize("given", ["root", "parent"])
def test_extracted_folder_is_used_where_it_is(fake_dataset, tmp_path, given):
    folder = fake_dataset.root if given == "root" else fake_dataset.root.parent
    paths = DataPaths(tmp_path / "data")

    source = fetch_archive(SourceConfig(source=str(folder)), paths.archives)

    assert source.kind == "folder"
    assert source.path == fake_dataset.root
    assert source.origin == str(folder)
    assert len(source.sha256) == 64
    raw = locate_dataset(source, paths)
    assert (raw.root, raw.sha256) == (fake_dataset.root, source.sha256)
    assert not paths.root.exists()  # nothing copied, extracted or cached
