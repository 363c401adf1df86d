"""Taking files into a source (``generator.intake.ingest``), through ``timeshelf add`` and the library.

The corpus of bad inputs runs the real CLI: each file must be refused with exit code 1 and
one line naming the problem, and leave no trace (no blob, no catalog row, no event).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.clock import format_timestamp
from generator.errors import (
    Conflict,
    DistributionTooLarge,
    FileAlreadyExists,
    FileRemoved,
    InvalidDistribution,
    SameDistributionExists,
    SameDistributionRemoved,
)
from generator.installation import Installation
from generator.intake.distributions import Limits
from generator.intake.ingest import check_signature, ingest_file, ingest_paths
from generator.output.index import simple_dir
from generator.storage.local import LocalStore
from generator.storage.store import file_key
from tests.conftest import CliRunner, Dists, FakeClock, footprint_of
from tests.factory import (
    SIGNATURE,
    TarEntry,
    WheelSpec,
    metadata_text,
    wheel_members,
    write_tar_gz,
    write_zip,
)


@dataclass(frozen=True, slots=True)
class Env:
    """What a corpus case may use to prepare its input (including earlier accepted adds)."""

    inst: Installation
    cli: CliRunner
    dists: Dists


def _wheel(env: Env, **spec: object) -> Path:
    return env.dists.wheel("foo", "1.0", **spec)  # type: ignore[arg-type]


def _file(env: Env, name: str, data: bytes) -> Path:
    path = env.dists.fresh_dir() / name
    path.write_bytes(data)
    return path


def _corrupt_zip_member(env: Env, offset: int = 200) -> Path:
    """A wheel whose first member's deflate data is overwritten at ``offset``.

    Inside the stream this fails the CRC check; at 0 it is an invalid block type, which
    ``zipfile`` reports as a bare ``zlib.error``.
    """
    body = "".join(f"value_{i} = {i * i} * 'abc{i % 7}'\n" for i in range(3000))
    path = env.dists.wheel("foo", "1.0", module_body=body)
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + offset : start + offset + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    return path


def _truncated_zip(env: Env) -> Path:
    path = env.dists.wheel("foo", "1.0")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _plain_tar(env: Env) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = metadata_text("foo", "1.0").encode()
        info = tarfile.TarInfo("foo-1.0/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return _file(env, "foo-1.0.tar.gz", buffer.getvalue())


def _bzip2_wheel(env: Env) -> Path:
    members = wheel_members(WheelSpec("foo", "1.0"))
    return write_zip(env.dists.fresh_dir() / "foo-1.0-py3-none-any.whl", members,
                     zipfile.ZIP_BZIP2)


def _tar_sdist(
    env: Env, members: dict[str, bytes | TarEntry], name: str = "foo-1.0.tar.gz"
) -> Path:
    return write_tar_gz(env.dists.fresh_dir() / name, members)


PKG_INFO = metadata_text("foo", "1.0").encode()
# Zeros deflate about 1000:1: past the 64 MiB floor this breaks the ratio limit of 50.
BOMB = bytes(65 * 1024 * 1024)


def _zip_bomb(env: Env) -> Path:
    return _wheel(env, extra={"foo/zeros.bin": BOMB})


def _tar_bomb(env: Env) -> Path:
    return _tar_sdist(env, {"foo-1.0/PKG-INFO": PKG_INFO, "foo-1.0/zeros.bin": BOMB})


def _already_exists(env: Env) -> Path:
    first = env.dists.sdist("foo", "1.0")
    assert env.cli("add", "--source", "local", first).code == 0
    return env.dists.sdist("foo", "1.0", directory=env.dists.fresh_dir(),
                           extra={"foo-1.0/README": b"other bytes"})


def _removed(env: Env) -> Path:
    path = env.dists.sdist("foo", "1.0")
    assert env.cli("add", "--source", "local", path).code == 0
    assert env.cli("remove", "foo", "1.0").code == 0
    return path


def _added_first(env: Env, first: Path, second: Path) -> Path:
    """``second`` after ``first`` was added (and is on the page)."""
    assert env.cli("add", "--source", "local", first).code == 0
    return second


def _removed_first(env: Env, first: Path, second: Path) -> Path:
    assert env.cli("add", "--source", "local", first).code == 0
    assert env.cli("remove", "foo", "1.0").code == 0
    return second


def _special_member(env: Env, **members: bytes | TarEntry) -> Path:
    return _tar_sdist(env, {"foo-1.0/PKG-INFO": PKG_INFO,
                            **{f"foo-1.0/{k}": v for k, v in members.items()}})


def _zip_with_link(env: Env, name: str, member: str, target: bytes,
                   members: dict[str, bytes]) -> Path:
    return write_zip(env.dists.fresh_dir() / name, {**members, member: target},
                     modes={member: stat.S_IFLNK | 0o777})


def _bad_signature(env: Env) -> Path:
    path = env.dists.sdist("foo", "1.0")
    path.with_name(path.name + ".asc").write_bytes(b"this is not a signature\n")
    return path


def _binary_signature(env: Env) -> Path:
    path = env.dists.sdist("foo", "1.0")
    path.with_name(path.name + ".asc").write_bytes(b"\x89PGP\x00\x01binary signature packet")
    return path


@dataclass(frozen=True, slots=True)
class Bad:
    id: str
    build: Callable[[Env], Path]
    message: str
    source: str = "local"


WHEEL = "foo-1.0-py3-none-any.whl"
NOT_A_DIST = "not a distribution: use a wheel (.whl) or an sdist (.tar.gz or .zip)"
ONLY_FILES = "an sdist holds only regular files and directories"
PEP440 = "use a PEP 440 version, e.g. 1.0, 2.0.1, 1.0rc1"
TAGS = ("a tag is lowercase letters, digits and '_', with '.' between compressed tags, "
        "e.g. py3-none-any or py2.py3-none-manylinux_2_17_x86_64")
MARKUP = '3.0"><svg onload=alert(1)>'
FOREVER = "a file name is forever; upload a new version"

BAD: list[Bad] = [
    Bad("txt", lambda e: _file(e, "notes.txt", b"hello\n"), f"refused: notes.txt: {NOT_A_DIST}"),
    Bad("egg", lambda e: _file(e, "foo-1.0-py3.11.egg", b"PK\x05\x06" + bytes(18)),
        f"refused: foo-1.0-py3.11.egg: {NOT_A_DIST}"),
    Bad("tar-bz2", lambda e: _file(e, "foo-1.0.tar.bz2", b"BZh91AY&SY"),
        f"refused: foo-1.0.tar.bz2: {NOT_A_DIST}"),
    Bad("uppercase-extension", lambda e: _file(e, "foo-1.0.TAR.GZ", b"\x1f\x8b"),
        "refused: foo-1.0.TAR.GZ: unknown extension: use .whl, .tar.gz or .zip (in lowercase)"),
    Bad("empty-wheel", lambda e: _file(e, WHEEL, b""), f"refused: {WHEEL}: the file is empty"),
    Bad("empty-sdist", lambda e: _file(e, "foo-1.0.tar.gz", b""),
        "refused: foo-1.0.tar.gz: the file is empty"),
    Bad("text-named-whl", lambda e: _file(e, WHEEL, b"just some text\n"),
        f"refused: {WHEEL}: not a zip file (a wheel or .zip sdist is a zip archive)"),
    Bad("truncated-zip", _truncated_zip, f"refused: {WHEEL}: not a zip file"),
    Bad("corrupt-zip-member", _corrupt_zip_member, f"refused: {WHEEL}: corrupt zip archive: "),
    Bad("corrupt-deflate-stream", lambda e: _corrupt_zip_member(e, 0),
        f"refused: {WHEEL}: corrupt zip archive: Error -3 while decompressing data"),
    Bad("corrupt-gzip", lambda e: _file(e, "foo-1.0.tar.gz", b"\x1f\x8b\x08\x00" + bytes(40)),
        "refused: foo-1.0.tar.gz: corrupt .tar.gz archive: "),
    Bad("gzip-not-tar",
        lambda e: _file(e, "foo-1.0.tar.gz", gzip.compress(b"not a tar\n" * 200, mtime=0)),
        "refused: foo-1.0.tar.gz: corrupt .tar.gz archive: "),
    Bad("tar-not-gzip", _plain_tar,
        "refused: foo-1.0.tar.gz: not a gzip-compressed tar file (.tar.gz)"),
    Bad("zip-named-tar-gz",
        lambda e: _file(e, "foo-1.0.tar.gz", e.dists.wheel("foo", "1.0").read_bytes()),
        "refused: foo-1.0.tar.gz: not a gzip-compressed tar file (.tar.gz)"),
    Bad("wheel-without-metadata", lambda e: _wheel(e, omit=("METADATA",)),
        f"refused: {WHEEL}: the wheel does not contain the required file "
        "foo-1.0.dist-info/METADATA"),
    Bad("wheel-without-wheel", lambda e: _wheel(e, omit=("WHEEL",)),
        "does not contain the required file foo-1.0.dist-info/WHEEL"),
    Bad("wheel-without-record", lambda e: _wheel(e, omit=("RECORD",)),
        "does not contain the required file foo-1.0.dist-info/RECORD"),
    Bad("wheel-without-dist-info", lambda e: _wheel(e, dist_info="bar-1.0.dist-info"),
        f"refused: {WHEEL}: no foo-1.0.dist-info/ directory in the wheel "
        "(found: bar-1.0.dist-info)"),
    Bad("wheel-other-version-dist-info", lambda e: _wheel(e, dist_info="foo-2.0.dist-info"),
        "no foo-1.0.dist-info/ directory in the wheel (found: foo-2.0.dist-info)"),
    Bad("two-matching-dist-infos",
        lambda e: _wheel(e, extra={"Foo-1.0.0.dist-info/METADATA": PKG_INFO}),
        f"refused: {WHEEL}: several .dist-info directories match: "
        "Foo-1.0.0.dist-info, foo-1.0.dist-info"),
    Bad("metadata-other-project", lambda e: _wheel(e, metadata=metadata_text("bar", "1.0")),
        f"refused: {WHEEL}: the file name says project 'foo' but its metadata says 'bar'"),
    Bad("metadata-other-version", lambda e: _wheel(e, metadata=metadata_text("foo", "2.0")),
        f"refused: {WHEEL}: the file name says version '1.0' but its metadata says '2.0'"),
    Bad("sdist-metadata-other-version",
        lambda e: e.dists.sdist("foo", "1.0", pkg_info=metadata_text("foo", "1.1")),
        "refused: foo-1.0.tar.gz: the file name says version '1.0' but its metadata says '1.1'"),
    Bad("missing-name", lambda e: _wheel(e, metadata="Metadata-Version: 2.1\nVersion: 1.0\n\n"),
        f"refused: {WHEEL}: the core metadata has no Name field"),
    Bad("missing-version", lambda e: _wheel(e, metadata="Metadata-Version: 2.1\nName: foo\n\n"),
        f"refused: {WHEEL}: the core metadata has no Version field"),
    Bad("repeated-name",
        lambda e: _wheel(e, metadata="Metadata-Version: 2.1\nName: foo\nName: bar\n"
                                     "Version: 1.0\n\n"),
        f"refused: {WHEEL}: the core metadata has 2 Name fields, a valid one has exactly one"),
    Bad("non-utf8-name",
        lambda e: _wheel(e, extra={"foo-1.0.dist-info/METADATA":
                                   b"Metadata-Version: 2.1\nName: foo\xff\nVersion: 1.0\n\n"}),
        f"refused: {WHEEL}: the core metadata Name field is not valid UTF-8"),
    Bad("missing-metadata-version", lambda e: _wheel(e, metadata="Name: foo\nVersion: 1.0\n\n"),
        f"refused: {WHEEL}: the core metadata has no Metadata-Version field"),
    Bad("empty-metadata", lambda e: _wheel(e, metadata=""),
        f"refused: {WHEEL}: the core metadata has no Metadata-Version field"),
    Bad("unknown-metadata-version",
        lambda e: _wheel(e, metadata=metadata_text("foo", "1.0", metadata_version="3.0")),
        f"refused: {WHEEL}: unknown Metadata-Version '3.0': use one of 1.0, 1.1, 1.2, 2.0, "
        "2.1, 2.2, 2.3, 2.4, 2.5"),
    Bad("invalid-requires-python", lambda e: _wheel(e, requires_python="=>3.8"),
        f"refused: {WHEEL}: invalid Requires-Python '=>3.8': use PEP 440 specifiers, "
        "e.g. '>=3.9'"),
    Bad("wheel-name-too-few-parts",
        lambda e: e.dists.wheel("foo", "1.0", filename="foo-1.0.whl"),
        "refused: foo-1.0.whl: Invalid wheel filename (wrong number of parts): 'foo-1.0'; "
        "a wheel is named <name>-<version>(-<build>)?-<python>-<abi>-<platform>.whl"),
    Bad("wheel-name-bad-build",
        lambda e: e.dists.wheel("foo", "1.0", filename="foo-1.0-x-py3-none-any.whl"),
        "refused: foo-1.0-x-py3-none-any.whl: Invalid build number: x in "
        "'foo-1.0-x-py3-none-any'"),
    Bad("sdist-name-without-version",
        lambda e: e.dists.sdist("foo", "1.0", filename="foo.tar.gz"),
        "refused: foo.tar.gz: Invalid sdist filename: 'foo.tar.gz'; an sdist is named "
        "<name>-<version>.tar.gz (or .zip)"),
    Bad("invalid-project-name",
        lambda e: e.dists.sdist("foo", "1.0", pkg_info=metadata_text("-foo-", "1.0")),
        "refused: foo-1.0.tar.gz: the core metadata Name is invalid: invalid project name "
        "'-foo-'"),
    Bad("sdist-two-top-dirs", lambda e: e.dists.sdist("foo", "1.0", extra={"other/x.py": b""}),
        "refused: foo-1.0.tar.gz: an sdist has exactly one top-level directory, this one has 2"),
    Bad("zip-sdist-two-top-dirs",
        lambda e: e.dists.sdist("foo", "1.0", fmt="zip", extra={"other/x.py": b""}),
        "refused: foo-1.0.zip: an sdist has exactly one top-level directory, this one has 2"),
    Bad("sdist-without-pkg-info",
        lambda e: _tar_sdist(e, {"foo-1.0/setup.py": b"", "foo-1.0/src/PKG-INFO": PKG_INFO}),
        "refused: foo-1.0.tar.gz: PKG-INFO not found at foo-1.0/PKG-INFO"),
    Bad("zip-sdist-without-pkg-info",
        lambda e: write_zip(e.dists.fresh_dir() / "foo-1.0.zip", {"foo-1.0/setup.py": b""}),
        "refused: foo-1.0.zip: PKG-INFO not found at foo-1.0/PKG-INFO"),
    Bad("wheel-traversal-member", lambda e: _wheel(e, extra={"../evil.py": b"x"}),
        f"refused: {WHEEL}: archive member '../evil.py' escapes the archive "
        "(absolute path or '..')"),
    Bad("wheel-absolute-member", lambda e: _wheel(e, extra={"/abs/evil.py": b"x"}),
        f"refused: {WHEEL}: archive member '/abs/evil.py' escapes the archive"),
    Bad("tar-traversal-member",
        lambda e: _tar_sdist(e, {"foo-1.0/PKG-INFO": PKG_INFO, "foo-1.0/../../evil": b"x"}),
        "refused: foo-1.0.tar.gz: archive member 'foo-1.0/../../evil' escapes the archive"),
    Bad("tar-absolute-member",
        lambda e: _tar_sdist(e, {"foo-1.0/PKG-INFO": PKG_INFO, "/etc/evil": b"x"}),
        "refused: foo-1.0.tar.gz: archive member '/etc/evil' escapes the archive"),
    Bad("zip-bomb", _zip_bomb,
        f"refused: {WHEEL}: exceeds the compression ratio limit of 50 (a decompression bomb?)"),
    Bad("tar-gz-bomb", _tar_bomb,
        "refused: foo-1.0.tar.gz: exceeds the compression ratio limit of 50"),
    Bad("bzip2-member", _bzip2_wheel,
        f"refused: {WHEEL}: member 'foo/__init__.py' uses an unsupported compression type: "
        "use stored or deflated"),
    Bad("control-char-in-name", lambda e: _file(e, "foo\x01-1.0.tar.gz", b"x"),
        r"refused: 'foo\x01-1.0.tar.gz': a file name may not contain control characters "
        "(ordinals 0-31) or DEL (127)"),
    Bad("newline-in-name", lambda e: _file(e, "foo\n-1.0.tar.gz", b"x"),
        r"refused: 'foo\n-1.0.tar.gz': a file name may not contain control characters"),
    Bad("non-ascii-name", lambda e: _file(e, "föo-1.0.tar.gz", b"x"),
        "refused: föo-1.0.tar.gz: a file name must be ASCII and may not start with '.'"),
    Bad("missing-file", lambda e: e.dists.directory / "absent-1.0.tar.gz",
        "refused: absent-1.0.tar.gz: no such file"),
    Bad("file-already-exists", _already_exists,
        "refused: File already exists ('foo-1.0.tar.gz', with sha256 hash '"),
    Bad("filename-removed", _removed,
        "refused: foo-1.0.tar.gz: this filename was used by a file that has since been "
        "removed; file names are never reused: upload a new version instead"),
    Bad("bad-signature-beside", _bad_signature,
        "refused: foo-1.0.tar.gz.asc: the signature is not an ASCII-armored PGP signature"),
    Bad("binary-signature-beside", _binary_signature,
        "refused: foo-1.0.tar.gz.asc: the signature is not an ASCII-armored PGP signature"),
    Bad("sdist-symlink-to-etc-passwd",
        lambda e: _special_member(e, evil=TarEntry(tarfile.SYMTYPE, "/etc/passwd")),
        "refused: foo-1.0.tar.gz: sdist member 'foo-1.0/evil' is a symbolic link "
        f"(to '/etc/passwd'): {ONLY_FILES}"),
    Bad("sdist-symlink-escaping",
        lambda e: _special_member(e, evil=TarEntry(tarfile.SYMTYPE, "../../../etc/shadow")),
        "refused: foo-1.0.tar.gz: sdist member 'foo-1.0/evil' is a symbolic link "
        f"(to '../../../etc/shadow'): {ONLY_FILES}"),
    Bad("sdist-symlink-inside",
        lambda e: _special_member(e, link=TarEntry(tarfile.SYMTYPE, "PKG-INFO")),
        f"sdist member 'foo-1.0/link' is a symbolic link (to 'PKG-INFO'): {ONLY_FILES}"),
    Bad("sdist-hard-link",
        lambda e: _special_member(e, hard=TarEntry(tarfile.LNKTYPE, "foo-1.0/PKG-INFO")),
        f"sdist member 'foo-1.0/hard' is a hard link (to 'foo-1.0/PKG-INFO'): {ONLY_FILES}"),
    Bad("sdist-devices-and-fifo",
        lambda e: _special_member(e, tty=TarEntry(tarfile.CHRTYPE),
                                  sda=TarEntry(tarfile.BLKTYPE), fifo=TarEntry(tarfile.FIFOTYPE)),
        "refused: foo-1.0.tar.gz: sdist member 'foo-1.0/tty' is a character device; "
        "sdist member 'foo-1.0/sda' is a block device; sdist member 'foo-1.0/fifo' is a FIFO: "
        f"{ONLY_FILES}"),
    Bad("zip-sdist-symlink",
        lambda e: _zip_with_link(e, "foo-1.0.zip", "foo-1.0/evil", b"/etc/passwd",
                                 {"foo-1.0/PKG-INFO": PKG_INFO}),
        "refused: foo-1.0.zip: sdist member 'foo-1.0/evil' is a symbolic link "
        f"(to '/etc/passwd'): {ONLY_FILES}"),
    Bad("wheel-symlink",
        lambda e: _zip_with_link(e, WHEEL, "foo/evil.py", b"../../../etc/shadow",
                                 wheel_members(WheelSpec("foo", "1.0"))),
        f"refused: {WHEEL}: wheel member 'foo/evil.py' is a symbolic link "
        "(to '../../../etc/shadow'): a wheel holds only regular files and directories"),
    Bad("sdist-markup-version",
        lambda e: e.dists.sdist("x", MARKUP, filename=f"x-{MARKUP}.tar.gz"),
        f"refused: x-{MARKUP}.tar.gz: invalid version {MARKUP!r}: {PEP440}"),
    Bad("sdist-legacy-version",
        lambda e: e.dists.sdist("foo", "1.0-custom-2", filename="foo-1.0-custom-2.tar.gz"),
        f"refused: foo-1.0-custom-2.tar.gz: invalid version '1.0-custom-2': {PEP440}"),
    Bad("sdist-legacy-no-dash", lambda e: e.dists.sdist("foo", "r1234"),
        f"refused: foo-r1234.tar.gz: invalid version 'r1234': {PEP440}"),
    Bad("wheel-tag-with-quotes",
        lambda e: e.dists.wheel("handpkg", "2.0", tag='py3-none-any"onmouseover="alert(1)'),
        """refused: handpkg-2.0-py3-none-any"onmouseover="alert(1).whl: invalid platform tag """
        f"""'any"onmouseover="alert(1)': {TAGS}"""),
    Bad("wheel-tag-with-query", lambda e: e.dists.wheel("handpkg", "2.1",
                                                        tag="py3-none-any?x=1#frag"),
        f"refused: handpkg-2.1-py3-none-any?x=1#frag.whl: invalid platform tag "
        f"'any?x=1#frag': {TAGS}"),
    Bad("wheel-tag-uppercase", lambda e: e.dists.wheel("foo", "1.0", tag="py3-none-ANY"),
        f"refused: foo-1.0-py3-none-ANY.whl: invalid platform tag 'ANY': {TAGS}"),
    Bad("second-spelling-zero-padded",
        lambda e: _added_first(e, e.dists.wheel("foo", "1.0"), e.dists.wheel("foo", "1.0.0")),
        "refused: 'foo-1.0.0-py3-none-any.whl' is the same distribution as "
        f"'{WHEEL}' already in source 'local' (same project, version and tags): {FOREVER}"),
    Bad("second-spelling-name-case",
        lambda e: _added_first(e, e.dists.wheel("foo", "1.0"), e.dists.wheel(
            "Foo", "1.0", filename="Foo-1.0-py3-none-any.whl", module_body="other = 1\n")),
        "refused: 'Foo-1.0-py3-none-any.whl' is the same distribution as "
        f"'{WHEEL}' already in source 'local' (same project, version and tags): {FOREVER}"),
    Bad("second-sdist-of-a-release",
        lambda e: _added_first(e, e.dists.sdist("foo", "1.0"),
                               e.dists.sdist("foo", "1.0.0", fmt="zip")),
        "refused: 'foo-1.0.0.zip' is the same distribution as 'foo-1.0.tar.gz' already in "
        "source 'local' (same project and version; a release has one sdist, .tar.gz or .zip): "
        f"{FOREVER}"),
    Bad("second-spelling-of-a-removed-file",
        lambda e: _removed_first(e, e.dists.wheel("foo", "1.0"), e.dists.wheel("foo", "1.0.0")),
        "refused: 'foo-1.0.0-py3-none-any.whl' is the same distribution as "
        f"'{WHEEL}', since removed from source 'local' (same project, version and tags): "
        "file names are never reused: upload a new version"),
    Bad("non-local-source", lambda e: e.dists.sdist("foo", "1.0"),
        "refused: source 'mirror' is of type 'pypi': files can be added only to "
        "local-python sources", source="mirror"),
    Bad("unknown-source", lambda e: e.dists.sdist("foo", "1.0"),
        "error: unknown source 'nope' (known sources: local, mirror)", source="nope"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_add_refuses_and_stores_nothing(
    case: Bad, installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    # A loopback upstream: `create source` reads an unfiltered mirror's root to count it.
    assert cli("create", "source", "--name", "mirror", "--type", "pypi", "--upstream",
               "http://127.0.0.1:9/simple/").code == 0
    path = case.build(Env(installation, cli, dists))
    before = footprint_of(installation)
    site_before = _site_files(installation)

    result = cli("add", "--source", case.source, path)

    assert result.code == 1
    assert len(result.err_lines) == 1, result.err
    assert case.message in result.err_lines[0]
    assert "Traceback" not in result.err
    assert result.out == ""
    assert footprint_of(installation) == before
    assert _site_files(installation) == site_before


def test_corpus_is_large_enough() -> None:
    assert len(BAD) >= 25


def _site_files(inst: Installation) -> dict[str, bytes]:
    root = inst.config.output_path
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".generate.lock"
    }


def test_add_batch_reports_every_bad_file_and_keeps_the_good(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    good = [dists.wheel("good-one", "1.0"), dists.sdist("good-two", "2.0")]
    bad = [
        _file(Env(installation, cli, dists), "notes.txt", b"x"),
        _wheel(Env(installation, cli, dists), omit=("WHEEL",)),
        _file(Env(installation, cli, dists), "bar-1.0.tar.gz", b""),
    ]
    result = cli("add", "--source", "local", bad[0], good[0], bad[1], good[1], bad[2])

    assert result.code == 1
    refused = [line for line in result.err_lines if line.startswith("refused: ")]
    assert refused == [
        f"refused: notes.txt: {NOT_A_DIST}",
        f"refused: {WHEEL}: the wheel does not contain the required file "
        "foo-1.0.dist-info/WHEEL",
        "refused: bar-1.0.tar.gz: the file is empty",
    ]
    assert "added: good_one-1.0-py3-none-any.whl" in result.err_lines
    assert "added: good_two-2.0.tar.gz" in result.err_lines
    assert "Traceback" not in result.err
    names = [p.name for p in installation.catalog.list_packages()]
    assert names == ["good-one", "good-two"]
    root = json.loads((simple_dir(installation.config.output_path, "python") / "index.json")
                      .read_text())
    assert [p["name"] for p in root["projects"]] == ["good-one", "good-two"]


# -- good inputs ------------------------------------------------------------------------


def _page(inst: Installation, project: str) -> tuple[str, dict[str, object]]:
    base = simple_dir(inst.config.output_path, "python") / project
    return (base / "index.html").read_text(), json.loads((base / "index.json").read_text())


GOOD: list[tuple[str, Callable[[Dists], Path], str, str]] = [
    ("wheel", lambda d: d.wheel("foo", "1.0"), "foo", "1.0"),
    ("wheel-local-version", lambda d: d.wheel("foo", "1.0+cpu"), "foo", "1.0+cpu"),
    ("wheel-build-tag",
     lambda d: d.wheel("foo", "1.0", filename="foo-1.0-1-py3-none-any.whl"), "foo", "1.0"),
    ("wheel-platform", lambda d: d.wheel("Foo.Bar", "2.0", tag="cp311-cp311-linux_x86_64"),
     "foo-bar", "2.0"),
    ("sdist-tar-gz", lambda d: d.sdist("foo", "1.0"), "foo", "1.0"),
    ("sdist-zip", lambda d: d.sdist("foo", "1.0", fmt="zip"), "foo", "1.0"),
    ("sdist-dashed-name", lambda d: d.sdist("foo-bar", "1.0", filename="foo-bar-1.0.tar.gz"),
     "foo-bar", "1.0"),
    ("wheel-compressed-tags",
     lambda d: d.wheel("foo", "1.0", tag="py2.py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64"),
     "foo", "1.0"),
    ("sdist-version-normalized",
     lambda d: d.sdist("foo", "1.0-beta-2", filename="foo-1.0-beta-2.tar.gz"), "foo", "1.0b2"),
    ("metadata-2.4", lambda d: d.wheel("foo", "1.0", metadata=metadata_text(
        "foo", "1.0", metadata_version="2.4")), "foo", "1.0"),
    ("metadata-1.0", lambda d: d.sdist("foo", "1.0", pkg_info=metadata_text(
        "foo", "1.0", metadata_version="1.0")), "foo", "1.0"),
    ("sdist-dot-top", lambda d: write_tar_gz(d.fresh_dir() / "foo-1.0.tar.gz", {
        "./foo-1.0/PKG-INFO": PKG_INFO, "./foo-1.0/setup.py": b""}), "foo", "1.0"),
]


@pytest.mark.parametrize(("build", "project", "version"), [g[1:] for g in GOOD],
                         ids=[g[0] for g in GOOD])
def test_add_accepts(
    build: Callable[[Dists], Path], project: str, version: str,
    installation: Installation, cli: CliRunner, dists: Dists,
) -> None:
    path = build(dists)
    result = cli("add", "--source", "local", path)

    assert result.code == 0, result.err
    assert result.err_lines[0] == f"added: {path.name}"
    html, data = _page(installation, project)
    assert data["name"] == project
    assert data["versions"] == [version]
    files = data["files"]
    assert isinstance(files, list)
    assert [f["filename"] for f in files] == [path.name]
    assert files[0]["hashes"] == {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert f">{path.name}</a>" in html
    assert isinstance(installation.store, LocalStore)
    stored = installation.store.path(file_key(files[0]["hashes"]["sha256"], path.name))
    assert stored.read_bytes() == path.read_bytes()


def test_other_spellings_of_distinct_files_are_taken(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    """Only the same project, version, kind, build tag and tag set is one distribution."""
    paths = [
        dists.wheel("foo", "1.0"),
        dists.wheel("foo", "1.0", tag="py2.py3-none-any"),
        dists.wheel("foo", "1.0", filename="foo-1.0-1-py3-none-any.whl"),
        dists.wheel("foo", "1.0.post0"),
        dists.wheel("foo", "1.0", tag="cp311-cp311-linux_x86_64"),
        dists.sdist("foo", "1.0"),
    ]
    result = cli("add", "--source", "local", *paths)

    assert result.code == 0, result.err
    _html, data = _page(installation, "foo")
    files = data["files"]
    assert isinstance(files, list)
    assert [f["filename"] for f in files] == sorted(p.name for p in paths)


def test_signature_beside_file_is_stored_and_advertised(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    path = dists.wheel("foo", "1.0")
    path.with_name(path.name + ".asc").write_bytes(SIGNATURE)
    unsigned = dists.sdist("foo", "1.0")

    result = cli("add", "--source", "local", path, path.with_name(path.name + ".asc"), unsigned)

    assert result.code == 0, result.err
    assert [line for line in result.err_lines if line.startswith("added")] == [
        f"added: {path.name}", f"added: {unsigned.name}"]
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    assert installation.store.read(file_key(sha256, path.name) + ".asc") == SIGNATURE
    html, data = _page(installation, "foo")
    assert re.search(rf'>{re.escape(path.name)}<', html)
    assert f'data-gpg-sig="true">{path.name}</a>' in html
    assert f'data-gpg-sig="false">{unsigned.name}</a>' in html
    files = data["files"]
    assert isinstance(files, list)
    # "foo-1.0-py3..." sorts before "foo-1.0.tar.gz" ('-' < '.').
    assert [f["gpg-sig"] for f in files] == [True, False]


def test_identical_re_add_is_idempotent(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    path = dists.wheel("foo", "1.0")
    assert cli("add", "--source", "local", path).code == 0
    before = footprint_of(installation)
    copy = dists.fresh_dir() / path.name
    copy.write_bytes(path.read_bytes())

    result = cli("add", "--source", "local", path, copy)

    assert result.code == 0
    assert result.err_lines[:2] == [f"already present: {path.name}"] * 2
    assert footprint_of(installation) == before


def test_re_add_with_signature_marks_the_file_signed(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    path = dists.wheel("foo", "1.0")
    assert cli("add", "--source", "local", path).code == 0
    assert 'data-gpg-sig="false"' in _page(installation, "foo")[0]
    path.with_name(path.name + ".asc").write_bytes(SIGNATURE)

    result = cli("add", "--source", "local", path)

    assert result.code == 0
    assert result.err_lines[0] == f"already present: {path.name}"
    assert 'data-gpg-sig="true"' in _page(installation, "foo")[0]


def test_metadata_file_is_the_wheels_metadata(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    text = metadata_text("foo", "1.0", requires_python=">=3.8", requires_dist=("bar>=1",))
    path = dists.wheel("foo", "1.0", metadata=text)
    assert cli("add", "--source", "local", path).code == 0

    with zipfile.ZipFile(path) as archive:
        original = archive.read("foo-1.0.dist-info/METADATA")
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    served = installation.config.output_path / "files" / (file_key(sha256, path.name) + ".metadata")
    assert served.read_bytes() == original
    digest = hashlib.sha256(original).hexdigest()
    html, data = _page(installation, "foo")
    assert f'data-core-metadata="sha256={digest}"' in html
    assert f'data-dist-info-metadata="sha256={digest}"' in html
    files = data["files"]
    assert isinstance(files, list)
    assert files[0]["core-metadata"] == {"sha256": digest}


def test_sdist_has_no_metadata_file(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    path = dists.sdist("foo", "1.0")
    assert cli("add", "--source", "local", path).code == 0
    html, data = _page(installation, "foo")
    assert "data-core-metadata" not in html
    files = data["files"]
    assert isinstance(files, list)
    assert files[0]["core-metadata"] is False
    assert not list(installation.config.store_path.rglob("*.metadata"))


# -- the library: limits, errors and what an accepted file leaves -----------------------

SMALL = Limits(max_file_size=64 * 1024, max_expanded_size=256 * 1024, ratio_floor=32 * 1024,
               max_ratio=10, max_members=20, max_metadata_size=2048)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: d.wheel("foo", "1.0", extra={"foo/zeros.bin": bytes(40 * 1024)}),
         "exceeds the compression ratio limit of 10 (a decompression bomb?)"),
        (lambda d: d.sdist("foo", "1.0", extra={"foo-1.0/zeros.bin": bytes(40 * 1024)}),
         "exceeds the compression ratio limit of 10 (a decompression bomb?)"),
        (lambda d: d.sdist("foo", "1.0", fmt="zip", extra={"foo-1.0/z": bytes(40 * 1024)}),
         "exceeds the compression ratio limit of 10"),
        (lambda d: d.wheel("foo", "1.0", extra={"foo/r.bin": _random(300 * 1024)[:60000]
                                                 + bytes(200 * 1024)}),
         "expands to more than 262144 bytes (a decompression bomb?)"),
        (lambda d: d.wheel("foo", "1.0", extra={"foo/big.bin": _random(70 * 1024)}),
         "file too large: "),
        (lambda d: d.wheel("foo", "1.0", extra={f"foo/m{i}.py": b"" for i in range(20)}),
         "24 archive members, the limit is 20"),
        (lambda d: d.sdist("foo", "1.0", extra={f"foo-1.0/m{i}.py": b"" for i in range(20)}),
         "more than 20 archive members"),
        (lambda d: d.wheel("foo", "1.0", metadata=metadata_text("foo", "1.0", summary="x" * 3000)),
         "a metadata file exceeds 2048 bytes"),
        (lambda d: d.sdist("foo", "1.0", pkg_info=metadata_text("foo", "1.0", summary="x" * 3000)),
         "PKG-INFO is too large"),
    ],
    ids=["wheel-ratio", "tar-ratio", "zip-sdist-ratio", "expanded-size", "file-size",
         "wheel-members", "tar-members", "wheel-metadata-size", "pkg-info-size"],
)
def test_ingest_file_enforces_limits(
    build: Callable[[Dists], Path], message: str, installation: Installation, dists: Dists
) -> None:
    path = build(dists)
    before = footprint_of(installation)
    source = installation.catalog.get_source("local")
    with pytest.raises(DistributionTooLarge) as excinfo:
        ingest_file(installation.catalog, installation.store, source, path, installation.now(),
                    limits=SMALL)
    assert str(excinfo.value).startswith(f"{path.name}: ")
    assert message in str(excinfo.value)
    assert footprint_of(installation) == before


def _random(size: int) -> bytes:
    return hashlib.shake_256(b"timeshelf").digest(size)


def test_ingest_file_refuses_reused_names_with_their_types(
    installation: Installation, clock: FakeClock, dists: Dists
) -> None:
    catalog, store = installation.catalog, installation.store
    source = catalog.get_source("local")
    first = dists.sdist("foo", "1.0")
    accepted = ingest_file(catalog, store, source, first, clock())
    assert accepted.new
    assert (accepted.project, accepted.version) == ("foo", "1.0")
    other = dists.sdist("foo", "1.0", directory=dists.fresh_dir(), extra={"foo-1.0/x": b"1"})

    before = footprint_of(installation)
    with pytest.raises(FileAlreadyExists) as exists:
        ingest_file(catalog, store, source, other, clock())
    assert exists.value.filename == "foo-1.0.tar.gz"
    assert exists.value.sha256 == accepted.sha256
    assert footprint_of(installation) == before

    catalog.remove(source, "foo", clock.advance(hours=1))
    before = footprint_of(installation)
    for path in (first, other):
        with pytest.raises(FileRemoved, match="since been removed"):
            ingest_file(catalog, store, source, path, clock())
    assert footprint_of(installation) == before


def test_ingest_file_refuses_other_spellings_with_their_types(
    installation: Installation, clock: FakeClock, dists: Dists
) -> None:
    catalog, store = installation.catalog, installation.store
    source = catalog.get_source("local")
    accepted = ingest_file(catalog, store, source, dists.wheel("keep3", "1.0"), clock())
    spellings = [
        dists.wheel("keep3", "1.0.0"),
        dists.wheel("Keep3", "1.0", filename="Keep3-1.0-py3-none-any.whl",
                    directory=dists.fresh_dir()),
    ]

    before = footprint_of(installation)
    for path in spellings:
        with pytest.raises(SameDistributionExists) as exists:
            ingest_file(catalog, store, source, path, clock())
        assert (exists.value.filename, exists.value.existing) == (path.name, accepted.filename)
        assert exists.value.sha256 == accepted.sha256
        assert exists.value.source == "local"
    assert footprint_of(installation) == before
    # The identical file under its own name stays the idempotent success it was.
    again = ingest_file(catalog, store, source, dists.wheel("keep3", "1.0",
                                                            directory=dists.fresh_dir()), clock())
    assert (again.filename, again.new) == (accepted.filename, False)

    catalog.remove(source, "keep3", clock.advance(hours=1))
    before = footprint_of(installation)
    with pytest.raises(SameDistributionRemoved) as removed:
        ingest_file(catalog, store, source, spellings[0], clock())
    assert removed.value.existing == accepted.filename
    assert footprint_of(installation) == before


def test_ingest_file_refuses_a_form_version_that_is_not_pep440(
    installation: Installation, clock: FakeClock, dists: Dists
) -> None:
    with pytest.raises(InvalidDistribution) as excinfo:
        ingest_file(installation.catalog, installation.store,
                    installation.catalog.get_source("local"), dists.wheel("foo", "1.0"),
                    clock(), expect_version=MARKUP)
    assert type(excinfo.value) is InvalidDistribution
    assert str(excinfo.value) == (
        f"{WHEEL}: the form gives an invalid version {MARKUP!r}: {PEP440}"
    )


def test_ingest_file_refuses_a_mirror_source(
    installation: Installation, clock: FakeClock, dists: Dists
) -> None:
    mirror = installation.catalog.create_source("mirror", "pypi", clock())
    with pytest.raises(Conflict) as excinfo:
        ingest_file(installation.catalog, installation.store, mirror, dists.sdist("foo", "1.0"),
                    clock())
    assert str(excinfo.value) == (
        "source 'mirror' is of type 'pypi': files can be added only to local-python sources"
    )


def test_ingest_file_under_another_name(
    installation: Installation, clock: FakeClock, dists: Dists
) -> None:
    # Uploads arrive in temporary files: the name given, not the path's, is the filename.
    path = dists.wheel("foo", "1.0")
    upload = path.with_name("upload-123.tmp")
    path.rename(upload)
    accepted = ingest_file(installation.catalog, installation.store,
                           installation.catalog.get_source("local"), upload, clock(),
                           filename="foo-1.0-py3-none-any.whl", signature=SIGNATURE)
    assert accepted.filename == "foo-1.0-py3-none-any.whl"
    key = file_key(accepted.sha256, accepted.filename)
    assert installation.store.exists(key)
    assert installation.store.exists(key + ".asc")


def test_ingest_paths_skips_a_given_signature_and_reports_lone_ones(
    installation: Installation, clock: FakeClock, dists: Dists
) -> None:
    path = dists.sdist("foo", "1.0")
    signature = path.with_name(path.name + ".asc")
    signature.write_bytes(SIGNATURE)
    lone = dists.directory / "bar-1.0.tar.gz.asc"
    lone.write_bytes(SIGNATURE)
    accepted, refused = ingest_paths(
        installation.catalog, installation.store, installation.catalog.get_source("local"),
        [signature, path, lone], clock(),
    )
    assert [a.filename for a in accepted] == ["foo-1.0.tar.gz"]
    assert [r.message for r in refused] == [f"bar-1.0.tar.gz.asc: {NOT_A_DIST}"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the signature is not an ASCII-armored PGP signature"),
        (b"-----BEGIN PGP SIGNATURE-----\nabc\n", "the signature is not an ASCII-armored"),
        (SIGNATURE.replace(b"abcd", "é".encode()), "the signature is not an ASCII-armored"),
        (SIGNATURE + b"x" * 70000, "the signature is larger than 65536 bytes"),
    ],
    ids=["empty", "no-end", "non-ascii", "too-large"],
)
def test_check_signature_refuses(data: bytes, message: str) -> None:
    with pytest.raises(InvalidDistribution) as excinfo:
        check_signature("foo-1.0.tar.gz.asc", data)
    assert str(excinfo.value).startswith("foo-1.0.tar.gz.asc: ")
    assert message in str(excinfo.value)


def test_check_signature_accepts_armored_block() -> None:
    check_signature("foo.asc", b"\n  " + SIGNATURE + b"\n")


def test_upload_time_and_events_follow_the_injected_clock(
    installation: Installation, clock: FakeClock, dists: Dists
) -> None:
    clock.advance(days=3, microseconds=250)
    add_time = clock.now
    accepted = ingest_file(installation.catalog, installation.store,
                           installation.catalog.get_source("local"),
                           dists.wheel("foo", "1.0"), installation.now())
    installation.generate()
    _html, data = _page(installation, "foo")
    files = data["files"]
    assert isinstance(files, list)
    assert files[0]["upload-time"] == format_timestamp(add_time)
    [event] = installation.catalog.events(after=installation.catalog.last_event_id() - 1)
    assert (event.kind, event.at, event.filename) == (
        "file_added", format_timestamp(add_time), accepted.filename)
