"""Reading wheels and sdists (``generator.distributions``).

The full corpus of refused files runs through ``timeshelf add`` in ``test_ingest.py``;
here are what an accepted file yields, the filename rules, hashing and the archive limits.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.distributions import (
    Limits,
    check_filename,
    hash_file,
    inspect_distribution,
)
from generator.errors import DistributionTooLarge, InvalidDistribution
from tests.conftest import Dists
from tests.factory import metadata_text, write_tar_gz, write_zip


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda d: d.wheel("Foo.Bar", "1.0", requires_python=">=3.8"),
         ("foo-bar", "Foo.Bar", "1.0", "bdist_wheel", ">=3.8")),
        (lambda d: d.wheel("foo", "1.0.0+cpu", tag="cp311-cp311-manylinux_2_17_x86_64"),
         ("foo", "foo", "1.0.0+cpu", "bdist_wheel", None)),
        (lambda d: d.sdist("foo", "2.0rc1"), ("foo", "foo", "2.0rc1", "sdist", None)),
        (lambda d: d.sdist("foo_bar", "1.0", fmt="zip", requires_python="<4,>=3.9"),
         ("foo-bar", "foo_bar", "1.0", "sdist", "<4,>=3.9")),
        (lambda d: d.sdist("foo", "1.0-beta-2", filename="foo-1.0-beta-2.tar.gz"),
         ("foo", "foo", "1.0b2", "sdist", None)),
        (lambda d: d.sdist("foo", "1.0-custom-2", filename="foo-1.0-custom-2.tar.gz"),
         ("foo", "foo", "1.0-custom-2", "sdist", None)),
    ],
    ids=["wheel", "wheel-local-platform", "sdist", "zip-sdist", "normalized-version",
         "legacy-version"],
)
def test_inspect_distribution(
    build: Callable[[Dists], Path], expected: tuple[str, str, str, str, str | None],
    dists: Dists,
) -> None:
    path = build(dists)
    dist = inspect_distribution(path)
    project, display, version, packagetype, requires_python = expected
    assert dist.filename == path.name
    assert (dist.project, dist.display_name, dist.version) == (project, display, version)
    assert (dist.packagetype, dist.requires_python) == (packagetype, requires_python)
    assert dist.summary == "A test package"
    assert dist.digests == hash_file(path)
    if packagetype == "bdist_wheel":
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            assert dist.core_metadata == archive.read(name)
    else:
        assert dist.core_metadata is None


def test_hash_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    path = tmp_path / "blob"
    path.write_bytes(data)
    digests = hash_file(path)
    assert digests.sha256 == hashlib.sha256(data).hexdigest()
    assert digests.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert digests.md5 == hashlib.md5(data).hexdigest()  # noqa: S324
    assert digests.size == len(data)


@pytest.mark.parametrize(
    "filename",
    ["foo-1.0.tar.gz", "Foo_Bar-1.0-py3-none-any.whl", "a+b-1.0.zip", "x"],
    ids=["sdist", "wheel", "plus", "short"],
)
def test_check_filename_accepts(filename: str) -> None:
    check_filename(filename)


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("foo\x00.whl", r"'foo\x00.whl': a file name may not contain control characters"),
        ("foo\t.whl", r"'foo\t.whl': a file name may not contain control characters"),
        ("foo\x7f.whl", "or DEL (127)"),
        ("a/b.whl", "a/b.whl: a file name may not contain '/' or '\\'"),
        ("a\\b.whl", "a\\b.whl: a file name may not contain '/' or '\\'"),
        (".hidden.whl", ".hidden.whl: a file name must be ASCII and may not start with '.'"),
        ("ünï.whl", "ünï.whl: a file name must be ASCII"),
    ],
    ids=["nul", "tab", "del", "slash", "backslash", "leading-dot", "non-ascii"],
)
def test_check_filename_refuses(filename: str, message: str) -> None:
    with pytest.raises(InvalidDistribution) as excinfo:
        check_filename(filename)
    assert message in str(excinfo.value)


def test_inspect_uses_the_given_name(dists: Dists) -> None:
    path = dists.sdist("foo", "1.0")
    renamed = path.with_name("upload.tmp")
    path.rename(renamed)
    assert inspect_distribution(renamed, "foo-1.0.tar.gz").filename == "foo-1.0.tar.gz"
    with pytest.raises(InvalidDistribution) as excinfo:
        inspect_distribution(renamed)
    assert str(excinfo.value) == (
        "upload.tmp: not a distribution: use a wheel (.whl) or an sdist (.tar.gz or .zip)"
    )


PKG_INFO = metadata_text("foo", "1.0").encode()


@pytest.mark.parametrize(
    ("build", "limits", "message"),
    [
        (lambda d: d.sdist("foo", "1.0", extra={"foo-1.0/z": bytes(200_000)}),
         Limits(max_expanded_size=100_000), "expands to more than 100000 bytes"),
        (lambda d: d.wheel("foo", "1.0", extra={"foo/z": bytes(200_000)}),
         Limits(ratio_floor=50_000, max_ratio=20), "exceeds the compression ratio limit of 20"),
        (lambda d: write_zip(d.fresh_dir() / "foo-1.0.zip",
                             {"foo-1.0/PKG-INFO": PKG_INFO, "foo-1.0/z": bytes(200_000)}),
         Limits(max_expanded_size=100_000), "expands to more than 100000 bytes"),
        (lambda d: d.sdist("foo", "1.0"), Limits(max_file_size=10),
         "file too large: "),
        (lambda d: write_tar_gz(d.fresh_dir() / "foo-1.0.tar.gz",
                                {f"foo-1.0/{i}": b"" for i in range(5)}),
         Limits(max_members=4), "more than 4 archive members"),
    ],
    ids=["tar-expanded", "wheel-ratio", "zip-expanded", "file-size", "tar-members"],
)
def test_limits(
    build: Callable[[Dists], Path], limits: Limits, message: str, dists: Dists
) -> None:
    path = build(dists)
    with pytest.raises(DistributionTooLarge) as excinfo:
        inspect_distribution(path, limits=limits)
    assert str(excinfo.value).startswith(f"{path.name}: ")
    assert message in str(excinfo.value)
    assert excinfo.value.filename == path.name


def test_ratio_below_the_floor_is_fine(dists: Dists) -> None:
    # Small files compress well too: the ratio only counts past ``ratio_floor``.
    path = dists.wheel("foo", "1.0", extra={"foo/z": bytes(100_000)})
    assert inspect_distribution(path).project == "foo"
