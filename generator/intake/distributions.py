"""Reading wheels and sdists: what they are, checked before anything is stored.

``inspect_distribution`` is the single gate for every file that enters a source (``add``,
uploads, the watch folder): it hashes the file, checks the archive (structure, members,
limits against archive bombs) and reads the core metadata with ``packaging``. It touches
only the file it is given.

It holds our own files to what PyPI accepts today: a PEP 440 version, PEP 425 tags, and
archives of regular files and directories only. Mirrored files never pass here: PyPI
still hosts old files that break these rules (``naming.parse_filename`` reads them).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from packaging.metadata import parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from generator.errors import DistributionTooLarge, InvalidDistribution
from generator.intake.members import (
    check_member_name,
    refuse_special_members,
    tar_member_problem,
    zip_link_target,
    zip_member_problem,
)
from generator.naming import (
    PackageType,
    check_version,
    check_wheel_tags,
    is_same_version,
    normalize_project,
    normalize_version,
    parse_filename,
    quoted,
)

_CHUNK = 1 << 20
# The store keeps "<filename>.metadata" beside the file: 255 bytes (the usual file name
# limit) less that suffix, rounded down.
MAX_FILENAME_LENGTH = 240
_KNOWN_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5")
_SINGLE_FIELDS = (
    ("metadata_version", "Metadata-Version"),
    ("name", "Name"),
    ("version", "Version"),
    ("requires_python", "Requires-Python"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what an archive may hold; defaults follow PyPI's (``MAX_FILESIZE`` etc.)."""

    max_file_size: int = 100 * 1024 * 1024
    max_expanded_size: int = 1024 * 1024 * 1024
    # A ratio is only suspicious once there is a lot of output (PyPI: 64 MiB, ratio 50).
    ratio_floor: int = 64 * 1024 * 1024
    max_ratio: int = 50
    max_members: int = 50_000
    max_metadata_size: int = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Digests:
    """Hex digests and size of a file's bytes."""

    sha256: str
    blake2_256: str
    md5: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """A checked distribution file and what its core metadata says."""

    filename: str
    project: NormalizedName
    display_name: str
    version: str
    packagetype: PackageType
    requires_python: str | None
    summary: str | None
    digests: Digests
    # The wheel's .dist-info/METADATA bytes, served as <file>.metadata (PEP 658/714).
    core_metadata: bytes | None
    # An sdist's PKG-INFO bytes: not served (PEP 658 is for wheels here), kept in the
    # store as <file>.pkg-info for the description on the web UI's package page.
    pkg_info: bytes | None = None


def hash_file(path: Path) -> Digests:
    """sha256, blake2b-256 and md5 of a file, read in chunks."""
    sha256, blake2, md5 = hashlib.sha256(), hashlib.blake2b(digest_size=32), hashlib.md5()  # noqa: S324
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            sha256.update(chunk)
            blake2.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return Digests(
        sha256=sha256.hexdigest(), blake2_256=blake2.hexdigest(), md5=md5.hexdigest(), size=size
    )


def check_filename(filename: str) -> None:
    """Refuse names no file in a store may have (PyPI's rules, plus no leading dot)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in filename):
        raise InvalidDistribution(
            repr(filename),
            "a file name may not contain control characters (ordinals 0-31) or DEL (127)",
        )
    if "/" in filename or "\\" in filename:
        raise InvalidDistribution(filename, "a file name may not contain '/' or '\\'")
    if filename.startswith(".") or not filename.isascii():
        raise InvalidDistribution(
            filename, "a file name must be ASCII and may not start with '.'"
        )
    if len(filename) > MAX_FILENAME_LENGTH:
        raise InvalidDistribution(
            filename[:40] + "...",
            f"the file name is too long: {len(filename)} characters, the limit is "
            f"{MAX_FILENAME_LENGTH}",
        )


def inspect_distribution(
    path: Path, filename: str | None = None, limits: Limits | None = None
) -> Distribution:
    """Check the file at ``path`` (named ``filename``, default its own name) and read it.

    Raises ``InvalidDistribution`` (``DistributionTooLarge`` for limits) with one line
    that says what is wrong and what a valid file looks like.
    """
    limits = limits or Limits()
    name = filename if filename is not None else path.name
    check_filename(name)
    lower = name.lower()
    if not (lower.endswith(".whl") or lower.endswith(".tar.gz") or lower.endswith(".zip")):
        raise InvalidDistribution(
            name, "not a distribution: use a wheel (.whl) or an sdist (.tar.gz or .zip)"
        )
    size = path.stat().st_size
    if size > limits.max_file_size:
        raise DistributionTooLarge(
            name, f"file too large: {size} bytes, the limit is {limits.max_file_size} bytes"
        )
    if size == 0:
        raise InvalidDistribution(name, "the file is empty")
    if name.endswith(".whl"):
        raw_metadata, core = _read_wheel(path, name, limits)
    elif name.endswith(".tar.gz"):
        raw_metadata, core = _read_sdist_tar(path, name, limits), None
    elif name.endswith(".zip"):
        raw_metadata, core = _read_sdist_zip(path, name, limits), None
    else:
        raise InvalidDistribution(
            name, "unknown extension: use .whl, .tar.gz or .zip (in lowercase)"
        )
    display, version, requires_python, summary = _read_core_metadata(name, raw_metadata)
    try:
        check_version(version)
        parsed = parse_filename(name, project_hint=display)
        check_version(parsed.version)
    except ValueError as e:
        raise InvalidDistribution(name, str(e)) from e
    project = canonicalize_name(display)
    if parsed.project != project:
        raise InvalidDistribution(
            name,
            f"the file name says project {parsed.project!r} but its metadata says {display!r}",
        )
    if not is_same_version(parsed.version, version):
        raise InvalidDistribution(
            name,
            f"the file name says version {parsed.version!r} but its metadata says {version!r}",
        )
    return Distribution(
        filename=name,
        project=project,
        display_name=display,
        version=normalize_version(version),
        packagetype=parsed.packagetype,
        requires_python=requires_python,
        summary=summary,
        digests=hash_file(path),
        core_metadata=core,
        pkg_info=raw_metadata if core is None else None,
    )


def _read_core_metadata(
    filename: str, data: bytes
) -> tuple[str, str, str | None, str | None]:
    try:
        raw, unparsed = parse_email(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidDistribution(filename, f"the core metadata cannot be parsed: {e}") from e
    # packaging sets aside a single-use field that is repeated or not valid UTF-8; without
    # this check it would read as missing.
    for key, field in _SINGLE_FIELDS:
        values = unparsed.get(key)
        if values and len(values) > 1:
            raise InvalidDistribution(
                filename,
                f"the core metadata has {len(values)} {field} fields, a valid one has exactly one",
            )
        if values:
            raise InvalidDistribution(
                filename, f"the core metadata {field} field is not valid UTF-8: {values[0]!r}"
            )
    metadata_version = raw.get("metadata_version")
    if metadata_version is None:
        raise InvalidDistribution(filename, "the core metadata has no Metadata-Version field")
    if metadata_version not in _KNOWN_METADATA_VERSIONS:
        raise InvalidDistribution(
            filename,
            f"unknown Metadata-Version {metadata_version!r}: "
            f"use one of {', '.join(_KNOWN_METADATA_VERSIONS)}",
        )
    name, version = raw.get("name"), raw.get("version")
    if not name:
        raise InvalidDistribution(filename, "the core metadata has no Name field")
    if not version:
        raise InvalidDistribution(filename, "the core metadata has no Version field")
    try:
        normalize_project(name)
    except ValueError as e:
        raise InvalidDistribution(filename, f"the core metadata Name is invalid: {e}") from e
    requires_python = raw.get("requires_python") or None
    if requires_python is not None:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier as e:
            raise InvalidDistribution(
                filename,
                f"invalid Requires-Python {requires_python!r}: use PEP 440 specifiers, "
                "e.g. '>=3.9'",
            ) from e
    return name, version, requires_python, raw.get("summary") or None


class _Budget:
    """Counts expanded bytes across an archive and stops at the limits."""

    def __init__(self, filename: str, compressed: int, limits: Limits) -> None:
        self.filename, self.compressed, self.limits, self.total = filename, compressed, limits, 0

    def spend(self, amount: int) -> None:
        self.total += amount
        if self.total > self.limits.max_expanded_size:
            raise DistributionTooLarge(
                self.filename,
                f"expands to more than {self.limits.max_expanded_size} bytes "
                "(a decompression bomb?)",
            )
        if (
            self.total > self.limits.ratio_floor
            and self.total > self.limits.max_ratio * self.compressed
        ):
            raise DistributionTooLarge(
                self.filename,
                f"exceeds the compression ratio limit of {self.limits.max_ratio} "
                "(a decompression bomb?)",
            )


def _read_member(archive: IO[bytes], budget: _Budget, cap: int | None = None) -> bytes:
    out = io.BytesIO()
    while chunk := archive.read(_CHUNK):
        budget.spend(len(chunk))
        if cap is not None and out.tell() + len(chunk) > cap:
            raise DistributionTooLarge(budget.filename, f"a metadata file exceeds {cap} bytes")
        if cap is not None:
            out.write(chunk)
    return out.getvalue()


def _check_zip_directory(path: Path, filename: str, limits: Limits) -> None:
    """Refuse a zip whose end record counts more members than the limit, before
    ``zipfile`` builds a ``ZipInfo`` for each (about 500 bytes apiece: a 100 MiB central
    directory would be gigabytes of them). The end record is read with
    ``zipfile._EndRecData``, which every ``ZipFile`` uses (zip64 included)."""
    with path.open("rb") as f:
        try:
            end = zipfile._EndRecData(f)  # type: ignore[attr-defined]
        except OSError as e:
            raise InvalidDistribution(filename, f"corrupt zip archive: {e}") from e
    if end is None:
        raise InvalidDistribution(filename, "corrupt zip archive: no end of central directory")
    entries = end[zipfile._ECD_ENTRIES_TOTAL]  # type: ignore[attr-defined]
    if entries > limits.max_members:
        raise DistributionTooLarge(
            filename, f"{entries} archive members, the limit is {limits.max_members}"
        )


def _open_zip(path: Path, filename: str, limits: Limits, kind: str) -> zipfile.ZipFile:
    try:
        is_zip = zipfile.is_zipfile(path)
    except zipfile.BadZipFile as e:
        # is_zipfile itself raises for an end record that spans disks (found by atheris).
        raise InvalidDistribution(filename, f"corrupt zip archive: {e}") from e
    if not is_zip:
        raise InvalidDistribution(filename, "not a zip file (a wheel or .zip sdist is a zip archive)")
    _check_zip_directory(path, filename, limits)
    try:
        archive = zipfile.ZipFile(path)
    # NotImplementedError: a zip64 record naming a "zip file version" zipfile cannot read.
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as e:
        raise InvalidDistribution(filename, f"corrupt zip archive: {e}") from e
    try:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise DistributionTooLarge(
                filename, f"{len(infos)} archive members, the limit is {limits.max_members}"
            )
        seen: set[str] = set()
        special: list[tuple[zipfile.ZipInfo, str]] = []
        for info in infos:
            check_member_name(filename, info.filename)
            problem = zip_member_problem(info)
            if problem is not None:
                special.append((info, problem))
            # Readers disagree on which copy of a repeated name counts (zipfile takes the
            # last), so METADATA could say one thing to the index and another to installers.
            if info.filename in seen:
                raise InvalidDistribution(
                    filename, f"member {info.filename!r} appears more than once in the archive"
                )
            seen.add(info.filename)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise InvalidDistribution(
                    filename,
                    f"member {info.filename!r} uses an unsupported compression type: "
                    "use stored or deflated",
                )
        problems = []
        for info, problem in special:
            target = zip_link_target(archive, info) if "symbolic link" in problem else None
            problems.append(problem if target is None else f"{problem} (to {quoted(target)})")
        refuse_special_members(filename, kind, problems)
    except BaseException:
        archive.close()
        raise
    return archive


def _scan_zip(archive: zipfile.ZipFile, filename: str, wanted: set[str], limits: Limits,
              compressed: int) -> dict[str, bytes]:
    """Read every member (CRC checked, expanded size bounded); return the ``wanted`` ones."""
    budget = _Budget(filename, compressed, limits)
    found: dict[str, bytes] = {}
    try:
        for info in archive.infolist():
            if info.is_dir():
                continue
            with archive.open(info) as member:
                keep = info.filename in wanted
                data = _read_member(member, budget, limits.max_metadata_size if keep else None)
            if keep:
                found[info.filename] = data
    except InvalidDistribution:
        # A limit was hit (``DistributionTooLarge`` is a ``ValueError`` too): keep its type.
        raise
    # RuntimeError: an encrypted member; NotImplementedError: a flag zipfile cannot read.
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, RuntimeError,
            NotImplementedError) as e:
        raise InvalidDistribution(filename, f"corrupt zip archive: {e}") from e
    return found


def _read_wheel(path: Path, filename: str, limits: Limits) -> tuple[bytes, bytes]:
    try:
        parsed = parse_filename(filename)
        check_wheel_tags(filename)
    except ValueError as e:
        raise InvalidDistribution(filename, str(e)) from e
    with _open_zip(path, filename, limits, "wheel") as archive:
        names = archive.namelist()
        dist_infos = sorted(
            {n.split("/", 1)[0] for n in names if "/" in n and n.split("/", 1)[0].endswith(".dist-info")}
        )
        matching = [d for d in dist_infos if _dist_info_matches(d, parsed.project, parsed.version)]
        if not matching:
            expected = f"{parsed.project.replace('-', '_')}-{parsed.version}.dist-info"
            raise InvalidDistribution(
                filename,
                f"no {expected}/ directory in the wheel (found: {', '.join(dist_infos) or 'none'})",
            )
        if len(matching) > 1:
            raise InvalidDistribution(
                filename, f"several .dist-info directories match: {', '.join(matching)}"
            )
        dist_info = matching[0]
        required = {f"{dist_info}/{part}" for part in ("METADATA", "WHEEL", "RECORD")}
        for member in sorted(required):
            if member not in names:
                raise InvalidDistribution(
                    filename, f"the wheel does not contain the required file {member}"
                )
        found = _scan_zip(archive, filename, required, limits, path.stat().st_size)
    metadata = found[f"{dist_info}/METADATA"]
    return metadata, metadata


def _dist_info_matches(directory: str, project: NormalizedName, version: str) -> bool:
    stem = directory[: -len(".dist-info")]
    name, sep, dist_version = stem.rpartition("-")
    return bool(sep) and canonicalize_name(name) == project and is_same_version(
        dist_version, version
    )


def _single_top(filename: str, names: Iterator[str]) -> str:
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    if len(tops) != 1:
        raise InvalidDistribution(
            filename,
            f"an sdist has exactly one top-level directory, this one has {len(tops)}",
        )
    return tops.pop()


def _read_sdist_zip(path: Path, filename: str, limits: Limits) -> bytes:
    with _open_zip(path, filename, limits, "sdist") as archive:
        top = _single_top(filename, iter(archive.namelist()))
        pkg_info = f"{top}/PKG-INFO"
        if pkg_info not in archive.namelist():
            raise InvalidDistribution(filename, f"PKG-INFO not found at {pkg_info}")
        found = _scan_zip(archive, filename, {pkg_info}, limits, path.stat().st_size)
    return found[pkg_info]


class _CountingReader(io.RawIOBase):
    """Wraps the decompressed stream of a .tar.gz so every expanded byte is budgeted."""

    def __init__(self, inner: io.BufferedIOBase, budget: _Budget) -> None:
        self.inner, self.budget = inner, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        self.budget.spend(len(data))
        buffer[: len(data)] = data
        return len(data)


def _read_sdist_tar(path: Path, filename: str, limits: Limits) -> bytes:
    with path.open("rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            raise InvalidDistribution(filename, "not a gzip-compressed tar file (.tar.gz)")
    budget = _Budget(filename, path.stat().st_size, limits)
    tops: set[str] = set()
    pkg_infos: dict[str, bytes] = {}
    problems: list[str] = []
    seen: set[str] = set()
    count = 0
    try:
        with gzip.open(path, "rb") as unzipped:
            stream = io.BufferedReader(_CountingReader(unzipped, budget), _CHUNK)
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                for member in archive:
                    count += 1
                    if count > limits.max_members:
                        raise DistributionTooLarge(
                            filename, f"more than {limits.max_members} archive members"
                        )
                    parts = check_member_name(filename, member.name).parts
                    # As in zips: readers disagree on which copy of a repeated file counts.
                    if not member.isdir():
                        key = "/".join(p for p in parts if p != ".")
                        if key in seen:
                            raise InvalidDistribution(
                                filename,
                                f"member {quoted(member.name)} appears more than once in the "
                                "archive",
                            )
                        seen.add(key)
                    if member.issparse():
                        raise InvalidDistribution(filename, f"sparse member {member.name!r}")
                    problem = tar_member_problem(member)
                    if problem is not None:
                        problems.append(problem)
                    if not parts or parts == (".",):
                        continue
                    tops.add(parts[0])
                    if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                        if member.size > limits.max_metadata_size:
                            raise DistributionTooLarge(filename, "PKG-INFO is too large")
                        extracted = archive.extractfile(member)
                        if extracted is not None:
                            pkg_infos[parts[0]] = extracted.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise InvalidDistribution(filename, f"corrupt .tar.gz archive: {e}") from e
    refuse_special_members(filename, "sdist", problems)
    if len(tops) != 1:
        raise InvalidDistribution(
            filename, f"an sdist has exactly one top-level directory, this one has {len(tops)}"
        )
    top = tops.pop()
    if top not in pkg_infos:
        raise InvalidDistribution(filename, f"PKG-INFO not found at {top}/PKG-INFO")
    return pkg_infos[top]
