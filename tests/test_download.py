"""Unit tests of tasks/download.py: plain functions only, no Prefect task or flow runs."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from imdb_rnn.aclimdb import find_dataset_root, tree_sha256
from imdb_rnn.config import CANONICAL_SHA256, CANONICAL_URL, SourceConfig
from imdb_rnn.errors import (
    ChecksumMismatchError,
    DatasetLayoutError,
    DataSourceError,
    DownloadError,
    UnsafeArchiveError,
)
from imdb_rnn.paths import DataPaths
from imdb_rnn.sources import LocalSource, expected_sha256
from tasks.download import fetch_archive
from tasks.unpack import check_member, extract_archive, locate_dataset
from tests.conftest import make_aclimdb, make_tarball

OTHER_SHA = "0" * 64


def files_under(folder: Path) -> list[str]:
    """Relative paths of every non-folder entry below ``folder`` (links included)."""
    if not folder.exists():
        return []
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_symlink() or not p.is_dir()
    )


def file_member(name: str, data: bytes = b"text") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def device_member(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info, None


def write_tarball(target: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """Write members exactly as given (names are not sanitised the way ``tar.add`` does)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return target


def valid_members() -> list[tuple[tarfile.TarInfo, bytes]]:
    """One review in each of the four aclImdb folders: a complete, extractable layout."""
    return [
        file_member(f"aclImdb/{split}/{label}/{i}_{rating}.txt", f"{label} review {i}".encode())
        for i, (split, label, rating) in enumerate(
            [("train", "pos", 8), ("train", "neg", 2), ("test", "pos", 9), ("test", "neg", 1)]
        )
    ]


# --- checksums of local sources ------------------------------------------------------------


def test_local_archive_with_given_sha256_is_verified_in_place(fake_archive, tmp_path):
    archives = tmp_path / "data" / "archives"
    config = SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256.upper())

    source = fetch_archive(config, archives)

    assert source == LocalSource(
        fake_archive.path.resolve(), fake_archive.sha256, "archive", str(fake_archive.path)
    )
    assert not archives.exists()  # a local archive is not copied into the cache


def test_local_archive_with_sidecar_checksum(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text(f"{fake_archive.sha256.upper()}  {fake_archive.path.name}\n")

    assert expected_sha256(str(fake_archive.path), None) == fake_archive.sha256
    source = fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    assert source.sha256 == fake_archive.sha256
    assert source.path == fake_archive.path.resolve()
    assert source.kind == "archive"


def test_local_archive_sidecar_that_disagrees_is_a_mismatch(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text(OTHER_SHA + "\n")

    with pytest.raises(ChecksumMismatchError) as caught:
        fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    assert OTHER_SHA in str(caught.value)
    assert fake_archive.sha256 in str(caught.value)


def test_local_archive_sidecar_without_a_checksum_is_rejected(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text("not-a-checksum aclImdb_test.tar.gz\n")

    with pytest.raises(DataSourceError, match="64 hex digits") as caught:
        fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    assert str(sidecar) in str(caught.value)


def test_local_archive_without_any_checksum_tells_the_user_its_sha256(fake_archive, tmp_path):
    actual = hashlib.sha256(fake_archive.path.read_bytes()).hexdigest()

    with pytest.raises(DataSourceError) as caught:
        fetch_archive(SourceConfig(source=str(fake_archive.path)), tmp_path / "archives")

    message = str(caught.value)
    assert f"--sha256 {actual}" in message
    assert not isinstance(caught.value, ChecksumMismatchError)


def test_missing_local_source_is_a_data_source_error(tmp_path):
    missing = tmp_path / "nowhere.tar.gz"

    with pytest.raises(DataSourceError, match="does not exist") as caught:
        fetch_archive(SourceConfig(source=str(missing), sha256=OTHER_SHA), tmp_path / "archives")

    assert str(missing) in str(caught.value)


def test_unsupported_url_scheme_is_rejected(tmp_path):
    with pytest.raises(DataSourceError, match="unsupported URL scheme 'ftp'"):
        fetch_archive(SourceConfig(source="ftp://example.org/a.tar.gz"), tmp_path / "archives")


def test_file_url_source_is_verified(fake_archive, tmp_path):
    url = fake_archive.path.as_uri()
    assert url.startswith("file://")

    source = fetch_archive(SourceConfig(source=url, sha256=fake_archive.sha256), tmp_path / "a")

    assert source == LocalSource(fake_archive.path.resolve(), fake_archive.sha256, "archive", url)


def test_file_url_source_reads_the_sidecar(fake_archive, tmp_path):
    sidecar = fake_archive.path.with_name(fake_archive.path.name + ".sha256")
    sidecar.write_text(fake_archive.sha256 + "\n")

    assert expected_sha256(fake_archive.path.as_uri(), None) == fake_archive.sha256


def test_expected_sha256_precedence():
    given = "ab" * 32
    assert expected_sha256(CANONICAL_URL, None) == CANONICAL_SHA256
    assert expected_sha256(CANONICAL_URL, given.upper()) == given
    assert expected_sha256("https://example.org/other.tar.gz", None) is None
    assert expected_sha256("http://example.org/other.tar.gz", given) == given


# --- HTTP downloads -------------------------------------------------------------------------
# fake_archive is requested before http_server: both fixtures create tmp_path / "served".


def test_http_download_is_cached_under_its_sha256(fake_archive, http_server, tmp_path):
    archives = tmp_path / "data" / "raw" / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"
    config = SourceConfig(source=url, sha256=fake_archive.sha256, timeout_seconds=10)

    first = fetch_archive(config, archives)

    cached = archives / f"{fake_archive.sha256}.tar.gz"
    assert first == LocalSource(cached, fake_archive.sha256, "archive", url)
    assert cached.read_bytes() == fake_archive.path.read_bytes()
    assert files_under(archives) == [f"{fake_archive.sha256}.tar.gz"]
    assert http_server.requests == [f"/{fake_archive.path.name}"]

    mtime = cached.stat().st_mtime_ns
    second = fetch_archive(config, archives)

    assert second == first
    assert len(http_server.requests) == 1  # served from the cache, not downloaded again
    assert cached.stat().st_mtime_ns == mtime


def test_http_download_replaces_a_corrupt_cached_copy(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    cached = archives / f"{fake_archive.sha256}.tar.gz"
    cached.write_bytes(b"half a download")
    url = f"{http_server.url}/{fake_archive.path.name}"

    fetch_archive(SourceConfig(source=url, sha256=fake_archive.sha256), archives)

    assert len(http_server.requests) == 1
    assert cached.read_bytes() == fake_archive.path.read_bytes()
    assert files_under(archives) == [cached.name]


def test_http_checksum_mismatch_caches_nothing(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"

    with pytest.raises(ChecksumMismatchError) as caught:
        fetch_archive(SourceConfig(source=url, sha256=OTHER_SHA), archives)

    message = str(caught.value)
    assert OTHER_SHA in message
    assert fake_archive.sha256 in message
    assert url in message
    assert len(http_server.requests) == 1  # it did download, then refused the bytes
    assert files_under(archives) == []  # no cached file and no leftover temporary file


def test_http_404_is_a_permanent_download_error(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    url = f"{http_server.url}/missing.tar.gz"

    with pytest.raises(DownloadError) as caught:
        fetch_archive(SourceConfig(source=url, sha256=fake_archive.sha256), archives)

    assert caught.value.transient is False
    assert url in str(caught.value)
    assert "404" in str(caught.value)
    assert http_server.requests == ["/missing.tar.gz"]
    assert files_under(archives) == []


def test_remote_url_without_checksum_fails_before_any_request(fake_archive, http_server, tmp_path):
    archives = tmp_path / "archives"
    url = f"{http_server.url}/{fake_archive.path.name}"

    with pytest.raises(DataSourceError, match="--sha256") as caught:
        fetch_archive(SourceConfig(source=url), archives)

    assert not isinstance(caught.value, DownloadError)
    assert url in str(caught.value)
    assert http_server.requests == []
    assert not archives.exists()


# --- checking archive members ---------------------------------------------------------------


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


# --- extraction -----------------------------------------------------------------------------


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


def test_extraction_writes_only_reviews_and_readme(tmp_path):
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

    assert root == extracted / sha / "aclImdb"
    expected = ["README"] + [
        f"{split}/{label}/{name}"
        for split in ("test", "train")
        for label in ("neg", "pos")
        for name in sorted(p.name for p in (dataset.root / split / label).glob("*.txt"))
    ]
    assert files_under(root) == sorted(expected)
    assert len(expected) == 1 + 2 * 2 * 2
    for relative in expected:
        assert (root / relative).read_bytes() == (dataset.root / relative).read_bytes()
    assert sorted(p.name for p in extracted.iterdir()) == [sha]  # no staging folder left


def test_extraction_is_reused_on_the_second_call(fake_archive, tmp_path, monkeypatch):
    extracted = tmp_path / "extracted"
    root = extract_archive(fake_archive.path, fake_archive.sha256, extracted)
    review = root / "train" / "pos" / fake_archive.dataset.files[0].name
    mtime = review.stat().st_mtime_ns

    def no_second_unpack(*args, **kwargs):
        raise AssertionError("the archive was opened again")

    monkeypatch.setattr(tarfile, "open", no_second_unpack)
    again = extract_archive(fake_archive.path, fake_archive.sha256, extracted)

    assert again == root
    assert review.stat().st_mtime_ns == mtime


def test_locate_dataset_extracts_an_archive_source(fake_archive, tmp_path):
    paths = DataPaths(tmp_path / "data")
    source = LocalSource(fake_archive.path, fake_archive.sha256, "archive", "somewhere")

    raw = locate_dataset(source, paths)

    assert raw.root == paths.extracted / fake_archive.sha256 / "aclImdb"
    assert raw.sha256 == fake_archive.sha256
    assert raw.origin == "somewhere"
    assert len(list((raw.root / "test" / "neg").glob("*.txt"))) == 12


# --- extracted folders as the source --------------------------------------------------------


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


def test_find_dataset_root_rejects_a_folder_without_the_layout(fake_dataset, tmp_path):
    with pytest.raises(DatasetLayoutError, match="aclImdb layout"):
        find_dataset_root(tmp_path / "source" / "aclImdb" / "train")


def test_find_dataset_root_rejects_an_empty_label_folder(fake_dataset):
    for review in (fake_dataset.root / "test" / "neg").glob("*.txt"):
        review.unlink()

    with pytest.raises(DatasetLayoutError, match="test/neg/"):
        find_dataset_root(fake_dataset.root)


def test_tree_sha256_depends_on_review_bytes_and_names_only(tmp_path):
    one = make_aclimdb(tmp_path / "one", per_label=3)
    two = make_aclimdb(tmp_path / "two", per_label=3)
    original = tree_sha256(one.root)

    assert tree_sha256(two.root) == original  # same contents elsewhere: same checksum
    (two.root / "README").write_text("a different README")
    assert tree_sha256(two.root) == original  # only reviews count

    review = sorted((two.root / "train" / "neg").glob("*.txt"))[0]
    review.write_bytes(review.read_bytes() + b"!")
    assert tree_sha256(two.root) != original


def test_tree_sha256_changes_when_a_review_is_renamed(tmp_path):
    one = make_aclimdb(tmp_path / "one", per_label=3)
    original = tree_sha256(one.root)
    review = sorted((one.root / "test" / "pos").glob("*.txt"))[0]

    review.rename(review.with_name("999_10.txt"))

    assert tree_sha256(one.root) != original


def test_folder_source_checksum_changes_when_one_review_changes(fake_dataset, tmp_path):
    config = SourceConfig(source=str(fake_dataset.root))
    before = fetch_archive(config, tmp_path / "archives")
    review = fake_dataset.files[5]
    review.write_text(review.read_text(encoding="utf-8") + " changed", encoding="utf-8")

    after = fetch_archive(config, tmp_path / "archives")

    assert after.sha256 != before.sha256
    assert after.sha256 == tree_sha256(fake_dataset.root)
