"""Bundles: safe extraction of hostile archives, flattening, manifests and checksums."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from uploader.bundles import (
    BundleError,
    BundleLimits,
    Manifest,
    extract_bundle,
    read_manifest,
    requirements_file,
    verify_checksums,
)

Member = tuple[str, bytes] | tarfile.TarInfo


def make_tar(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def manifest(files: dict[str, bytes], **extra: object) -> bytes:
    document = {
        "version": 1,
        "metadata": {"appmode": "python-api", "entrypoint": "app"},
        "python": {"version": "3.11.7", "package_manager": {"name": "pip", "version": "24.0",
                                                           "package_file": "requirements.txt"}},
        "files": {n: {"checksum": hashlib.md5(d, usedforsecurity=False).hexdigest()}
                  for n, d in files.items()},
        **extra,
    }
    return json.dumps(document).encode()


APP = {"requirements.txt": b"flask==3.0\n", "app.py": b"app = None\n"}


def test_a_well_formed_bundle_extracts_and_verifies(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("manifest.json", manifest(APP)), *APP.items()])
    root = extract_bundle(archive, tmp_path / "out")
    found = read_manifest(root)
    assert found is not None
    verify_checksums(root, found)
    assert requirements_file(root, found) == ("requirements.txt", "flask==3.0\n")
    assert found.python_version == "3.11.7"


def test_single_top_level_folders_are_flattened(tmp_path: Path) -> None:
    nested = [(f"outer/inner/{n}", d) for n, d in APP.items()]
    archive = make_tar(tmp_path / "b.tar.gz", [("outer/inner/manifest.json", manifest(APP)), *nested])
    root = extract_bundle(archive, tmp_path / "out")
    assert sorted(p.name for p in root.iterdir()) == ["app.py", "manifest.json", "requirements.txt"]


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("/etc/passwd", b"x")], "absolute path"),
        ([("../escape.txt", b"x")], "leaves the bundle"),
        ([("app/../../escape.txt", b"x")], "leaves the bundle"),
        ([("a\\b.txt", b"x")], "backslash"),
        ([special("link", tarfile.SYMTYPE, "/etc/passwd")], "link leaving the bundle"),
        ([special("link", tarfile.SYMTYPE, "../../etc/passwd")], "link leaving the bundle"),
        ([special("hard", tarfile.LNKTYPE, "app.py")], "hard link"),
        ([special("dev", tarfile.CHRTYPE)], "device, FIFO"),
        ([special("fifo", tarfile.FIFOTYPE)], "device, FIFO"),
        ([special("blk", tarfile.BLKTYPE)], "device, FIFO"),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "backslash", "symlink-absolute",
         "symlink-escape", "hardlink", "char-device", "fifo", "block-device"],
)
def test_hostile_members_are_refused(tmp_path: Path, members: list[Member], message: str) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("app.py", b"ok"), *members])
    with pytest.raises(BundleError, match=message):
        extract_bundle(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (BundleLimits(max_compressed=10), "the limit is 10"),
        (BundleLimits(max_expanded=1000), "expands to more than 1000 bytes"),
        (BundleLimits(max_members=3), "more than 3 files"),
    ],
    ids=["compressed", "expanded-bomb", "member-count"],
)
def test_limits(tmp_path: Path, limits: BundleLimits, message: str) -> None:
    members: list[Member] = [(f"f{i}.txt", b"0" * 600) for i in range(5)]
    archive = make_tar(tmp_path / "b.tar.gz", members)
    with pytest.raises(BundleError, match=message):
        extract_bundle(archive, tmp_path / "out", limits)


def test_not_a_tar(tmp_path: Path) -> None:
    (tmp_path / "b.tar.gz").write_bytes(b"definitely not gzip")
    with pytest.raises(BundleError, match="not a valid gzip tar archive"):
        extract_bundle(tmp_path / "b.tar.gz", tmp_path / "out")


def test_internal_symlink_is_allowed(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("app.py", b"ok"), ("data/real.txt", b"x"),
                                               special("data/alias.txt", tarfile.SYMTYPE, "real.txt")])
    root = extract_bundle(archive, tmp_path / "out")
    assert (root / "data" / "alias.txt").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda files: {**files, "app.py": b"tampered\n"}, "checksum mismatch"),
        (lambda files: {k: v for k, v in files.items() if k != "app.py"}, "missing from the bundle"),
    ],
    ids=["tampered", "missing"],
)
def test_checksums_are_verified(
    tmp_path: Path, mutate: Callable[[dict[str, bytes]], dict[str, bytes]], message: str
) -> None:
    archive = make_tar(tmp_path / "b.tar.gz",
                       [("manifest.json", manifest(APP)), *mutate(APP).items()])
    root = extract_bundle(archive, tmp_path / "out")
    found = read_manifest(root)
    assert found is not None
    with pytest.raises(BundleError, match=message):
        verify_checksums(root, found)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"python": "3.11"}', "'python' must be a JSON object"),
        (b'{"files": {"a": {"checksum": 5}}}', "needs a string checksum"),
        (b'{"python": {"version": 3.11}}', "python.version must be a string"),
    ],
    ids=["syntax", "array", "python-string", "checksum-type", "version-type"],
)
def test_bad_manifests(data: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        Manifest.from_json(data)


def test_a_bundle_without_requirements_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "b.tar.gz", [("app.py", b"x")])
    root = extract_bundle(archive, tmp_path / "out")
    with pytest.raises(BundleError, match=r"has no requirements\.txt"):
        requirements_file(root, read_manifest(root))


def test_manifest_package_file_is_used(tmp_path: Path) -> None:
    files = {"reqs/prod.txt": b"six\n"}
    doc = json.loads(manifest(files))
    doc["python"]["package_manager"]["package_file"] = "reqs/prod.txt"
    archive = make_tar(tmp_path / "b.tar.gz", [("manifest.json", json.dumps(doc).encode()),
                                               *files.items()])
    root = extract_bundle(archive, tmp_path / "out")
    assert requirements_file(root, read_manifest(root)) == ("reqs/prod.txt", "six\n")


def test_package_file_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    doc = json.loads(manifest({}))
    doc["python"]["package_manager"]["package_file"] = "../../etc/passwd"
    archive = make_tar(tmp_path / "b.tar.gz", [("manifest.json", json.dumps(doc).encode())])
    root = extract_bundle(archive, tmp_path / "out")
    with pytest.raises(BundleError, match="leaves the bundle"):
        requirements_file(root, read_manifest(root))
