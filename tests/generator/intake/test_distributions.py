"""Reading wheels and sdists (``generator.intake.distributions``).

The full corpus of refused files runs through ``timeshelf add`` in ``test_ingest.py``;
here are what an accepted file yields, the filename rules, hashing, the archive limits,
and the rules for our own files: member types, PEP 440 versions and wheel tags.
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.errors import DistributionTooLarge, InvalidDistribution
from generator.intake.distributions import (
    Limits,
    check_filename,
    hash_file,
    inspect_distribution,
)
from tests.conftest import Dists
from tests.factory import (
    TarEntry,
    WheelSpec,
    metadata_text,
    wheel_members,
    write_tar_gz,
    write_zip,
)

PKG_INFO = metadata_text("foo", "1.0").encode()


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
        (lambda d: write_zip(d.fresh_dir() / "foo-1.0-py3-none-any.whl",
                             wheel_members(WheelSpec("foo", "1.0")),
                             modes={"foo/__init__.py": 0o100644,
                                    "foo-1.0.dist-info/METADATA": 0o100444}),
         ("foo", "foo", "1.0", "bdist_wheel", None)),
        (lambda d: write_tar_gz(d.fresh_dir() / "foo-1.0.tar.gz", {
            "foo-1.0/PKG-INFO": PKG_INFO, "foo-1.0/src": TarEntry(tarfile.DIRTYPE),
            "foo-1.0/src/a.py": b"", "foo-1.0/b.py": TarEntry(tarfile.AREGTYPE)}),
         ("foo", "foo", "1.0", "sdist", None)),
    ],
    ids=["wheel", "wheel-local-platform", "sdist", "zip-sdist", "normalized-version",
         "wheel-unix-modes", "sdist-directories-and-old-regular-type"],
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
        (lambda d: d.wheel("foo", "1.0", extra={f"foo/{i}.py": b"" for i in range(5)}),
         Limits(max_members=4), "9 archive members, the limit is 4"),
        (lambda d: write_zip(d.fresh_dir() / "foo-1.0.zip",
                             {"foo-1.0/PKG-INFO": PKG_INFO, "foo-1.0/a": b"", "foo-1.0/b": b""}),
         Limits(max_members=2), "3 archive members, the limit is 2"),
    ],
    ids=["tar-expanded", "wheel-ratio", "zip-expanded", "file-size", "tar-members",
         "wheel-members", "zip-sdist-members"],
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


def assert_refused(path: Path, message: str) -> None:
    """``inspect_distribution`` refuses ``path`` with exactly ``message`` (no subclass)."""
    with pytest.raises(InvalidDistribution) as excinfo:
        inspect_distribution(path)
    assert type(excinfo.value) is InvalidDistribution
    assert str(excinfo.value) == f"{path.name}: {message}"


# -- members: regular files and directories only ---------------------------------------

ONLY_FILES = "an sdist holds only regular files and directories"
WHEEL_ONLY_FILES = "a wheel holds only regular files and directories"
SYMLINK = stat.S_IFLNK | 0o777


def _tar(d: Dists, **members: bytes | TarEntry) -> Path:
    return write_tar_gz(d.fresh_dir() / "foo-1.0.tar.gz", {
        "foo-1.0/PKG-INFO": PKG_INFO, **{f"foo-1.0/{k}": v for k, v in members.items()}})


def _zip_sdist(d: Dists, modes: dict[str, int], **members: bytes) -> Path:
    return write_zip(d.fresh_dir() / "foo-1.0.zip", {
        "foo-1.0/PKG-INFO": PKG_INFO, **{f"foo-1.0/{k}": v for k, v in members.items()}},
        modes={f"foo-1.0/{k}": v for k, v in modes.items()})


def _wheel(d: Dists, name: str, data: bytes, mode: int) -> Path:
    members = {**wheel_members(WheelSpec("foo", "1.0")), name: data}
    return write_zip(d.fresh_dir() / "foo-1.0-py3-none-any.whl", members, modes={name: mode})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: _tar(d, evil=TarEntry(tarfile.SYMTYPE, "/etc/passwd")),
         f"sdist member 'foo-1.0/evil' is a symbolic link (to '/etc/passwd'): {ONLY_FILES}"),
        (lambda d: _tar(d, evil=TarEntry(tarfile.SYMTYPE, "../../../etc/shadow")),
         "sdist member 'foo-1.0/evil' is a symbolic link (to '../../../etc/shadow'): "
         f"{ONLY_FILES}"),
        (lambda d: _tar(d, link=TarEntry(tarfile.SYMTYPE, "PKG-INFO")),
         f"sdist member 'foo-1.0/link' is a symbolic link (to 'PKG-INFO'): {ONLY_FILES}"),
        (lambda d: _tar(d, hard=TarEntry(tarfile.LNKTYPE, "foo-1.0/PKG-INFO")),
         f"sdist member 'foo-1.0/hard' is a hard link (to 'foo-1.0/PKG-INFO'): {ONLY_FILES}"),
        (lambda d: _tar(d, hard=TarEntry(tarfile.LNKTYPE, "/etc/passwd")),
         f"sdist member 'foo-1.0/hard' is a hard link (to '/etc/passwd'): {ONLY_FILES}"),
        (lambda d: _tar(d, tty=TarEntry(tarfile.CHRTYPE)),
         f"sdist member 'foo-1.0/tty' is a character device: {ONLY_FILES}"),
        (lambda d: _tar(d, sda=TarEntry(tarfile.BLKTYPE)),
         f"sdist member 'foo-1.0/sda' is a block device: {ONLY_FILES}"),
        (lambda d: _tar(d, pipe=TarEntry(tarfile.FIFOTYPE)),
         f"sdist member 'foo-1.0/pipe' is a FIFO: {ONLY_FILES}"),
        (lambda d: _tar(d, odd=TarEntry(b"Z")),
         f"sdist member 'foo-1.0/odd' is a special file (tar type b'Z'): {ONLY_FILES}"),
        (lambda d: _tar(d, a=TarEntry(tarfile.SYMTYPE, "/etc/passwd"), ok=b"",
                        b=TarEntry(tarfile.FIFOTYPE), c=TarEntry(tarfile.LNKTYPE, "foo-1.0/ok")),
         "sdist member 'foo-1.0/a' is a symbolic link (to '/etc/passwd'); "
         "sdist member 'foo-1.0/b' is a FIFO; "
         f"sdist member 'foo-1.0/c' is a hard link (to 'foo-1.0/ok'): {ONLY_FILES}"),
        (lambda d: _tar(d, **{f"l{i}": TarEntry(tarfile.SYMTYPE, "x") for i in range(8)}),
         "; ".join(f"sdist member 'foo-1.0/l{i}' is a symbolic link (to 'x')" for i in range(5))
         + f"; and 3 more such members: {ONLY_FILES}"),
        (lambda d: _tar(d, **{"e" * 100: TarEntry(tarfile.SYMTYPE, "/" + "t" * 100)}),
         f"sdist member {'foo-1.0/' + 'e' * 72!r}... is a symbolic link "
         f"(to {'/' + 't' * 79!r}...): {ONLY_FILES}"),
        (lambda d: _zip_sdist(d, {"evil": SYMLINK}, evil=b"../../../etc/shadow"),
         "sdist member 'foo-1.0/evil' is a symbolic link (to '../../../etc/shadow'): "
         f"{ONLY_FILES}"),
        (lambda d: _zip_sdist(d, {"pipe": stat.S_IFIFO | 0o644, "dev": stat.S_IFCHR | 0o600,
                                  "blk": stat.S_IFBLK | 0o600, "sock": stat.S_IFSOCK | 0o600},
                              pipe=b"", dev=b"", blk=b"", sock=b""),
         "sdist member 'foo-1.0/pipe' is a FIFO; "
         "sdist member 'foo-1.0/dev' is a character device; "
         "sdist member 'foo-1.0/blk' is a block device; "
         f"sdist member 'foo-1.0/sock' is a socket: {ONLY_FILES}"),
        (lambda d: _zip_sdist(d, {"odd": 0o170000}, odd=b""),
         f"sdist member 'foo-1.0/odd' is a special file (mode 0o170000): {ONLY_FILES}"),
        (lambda d: _wheel(d, "foo/evil.py", b"/etc/passwd", SYMLINK),
         f"wheel member 'foo/evil.py' is a symbolic link (to '/etc/passwd'): {WHEEL_ONLY_FILES}"),
        (lambda d: _wheel(d, "foo/dev", b"", stat.S_IFCHR | 0o600),
         f"wheel member 'foo/dev' is a character device: {WHEEL_ONLY_FILES}"),
    ],
    ids=["tar-symlink-absolute", "tar-symlink-escaping", "tar-symlink-inside",
         "tar-hard-link", "tar-hard-link-outside", "tar-character-device", "tar-block-device",
         "tar-fifo", "tar-unknown-type", "tar-every-bad-member", "tar-many-bad-members",
         "tar-long-names-are-cut", "zip-sdist-symlink", "zip-sdist-special-files",
         "zip-sdist-unknown-type", "wheel-symlink", "wheel-character-device"],
)
def test_inspect_refuses_links_and_special_members(
    build: Callable[[Dists], Path], message: str, dists: Dists
) -> None:
    assert_refused(build(dists), message)


# -- PEP 440 versions -----------------------------------------------------------------

PEP440 = "use a PEP 440 version, e.g. 1.0, 2.0.1, 1.0rc1"
MARKUP = '3.0"><svg onload=alert(1)>'


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: d.sdist("x", MARKUP, filename=f"x-{MARKUP}.tar.gz"),
         f"invalid version {MARKUP!r}: {PEP440}"),
        (lambda d: d.sdist("x", MARKUP, fmt="zip", filename=f"x-{MARKUP}.zip"),
         f"invalid version {MARKUP!r}: {PEP440}"),
        (lambda d: d.sdist("foo", "1.0-custom-2", filename="foo-1.0-custom-2.tar.gz"),
         f"invalid version '1.0-custom-2': {PEP440}"),
        (lambda d: d.sdist("foo", "r1234"), f"invalid version 'r1234': {PEP440}"),
        (lambda d: d.sdist("foo", "1.0", filename="foo-abc.tar.gz"),
         f"invalid version 'abc': {PEP440}"),
        (lambda d: d.sdist("foo", "1" + "0" * 200, filename="foo-1.0.tar.gz",
                           pkg_info=metadata_text("foo", "1.0x" + "0" * 200)),
         f"invalid version {'1.0x' + '0' * 76!r}...: {PEP440}"),
        (lambda d: d.wheel("foo", "1.0", metadata=metadata_text("foo", "1.0 beta")),
         f"invalid version '1.0 beta': {PEP440}"),
    ],
    ids=["sdist-markup-version", "zip-sdist-markup-version", "sdist-legacy-version",
         "sdist-legacy-letters", "filename-version-only", "long-version-is-cut",
         "wheel-metadata-version"],
)
def test_inspect_refuses_versions_that_are_not_pep440(
    build: Callable[[Dists], Path], message: str, dists: Dists
) -> None:
    assert_refused(build(dists), message)


# -- PEP 425 tags ----------------------------------------------------------------------

TAGS = ("a tag is lowercase letters, digits and '_', with '.' between compressed tags, "
        "e.g. py3-none-any or py2.py3-none-manylinux_2_17_x86_64")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: d.wheel("handpkg", "2.0", tag='py3-none-any"onmouseover="alert(1)'),
         f"invalid platform tag 'any\"onmouseover=\"alert(1)': {TAGS}"),
        (lambda d: d.wheel("handpkg", "2.1", tag="py3-none-any?x=1#frag"),
         f"invalid platform tag 'any?x=1#frag': {TAGS}"),
        (lambda d: d.wheel("foo", "1.0", tag="PY3-none-any"),
         f"invalid python tag 'PY3': {TAGS}"),
        (lambda d: d.wheel("foo", "1.0", tag="cp311-CP311-Linux_X86_64"),
         f"invalid abi tag 'CP311', platform tag 'Linux_X86_64': {TAGS}"),
    ],
    ids=["quotes", "query-and-fragment", "uppercase-python", "uppercase-abi-and-platform"],
)
def test_inspect_refuses_bad_wheel_tags(
    build: Callable[[Dists], Path], message: str, dists: Dists
) -> None:
    assert_refused(build(dists), message)


def test_a_zip_is_counted_from_its_end_record_before_it_is_read(
    dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member limit is checked before ``zipfile`` builds an entry for each member."""
    path = dists.wheel("foo", "1.0", extra={f"foo/{i}.py": b"" for i in range(5)})

    def unread(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the central directory was read")

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", unread)
    with pytest.raises(DistributionTooLarge, match="9 archive members, the limit is 4"):
        inspect_distribution(path, limits=Limits(max_members=4))


def _tar_with(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as archive:
        for name in names:
            data = PKG_INFO if name.endswith("PKG-INFO") else b"x"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["foo-1.0/PKG-INFO", "foo-1.0/PKG-INFO"],
         "member 'foo-1.0/PKG-INFO' appears more than once in the archive"),
        (["foo-1.0/PKG-INFO", "foo-1.0/a.py", "foo-1.0/./a.py"],
         "member 'foo-1.0/./a.py' appears more than once in the archive"),
        (["foo-1.0/PKG-INFO", "foo-1.0/" + "n" * 5000],
         "an archive member's name is 5008 characters long, the limit is 4096 (PATH_MAX)"),
    ],
    ids=["repeated-pkg-info", "repeated-spelled-otherwise", "name-longer-than-path-max"],
)
def test_tar_members_are_refused(names: list[str], message: str, dists: Dists) -> None:
    path = _tar_with(dists.fresh_dir() / "foo-1.0.tar.gz", names)
    with pytest.raises(InvalidDistribution) as excinfo:
        inspect_distribution(path)
    assert str(excinfo.value) == f"foo-1.0.tar.gz: {message}"
