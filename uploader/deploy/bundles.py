"""Deployment bundles: safe extraction, the manifest, and where the requirements are.

A bundle is a gzip tar in the layout the common publishing client (rsconnect-python)
writes: ``manifest.json`` first, paths relative, and a root holding a single directory
flattened (repeatedly) as the server it imitates does. Extraction never trusts the
archive and never follows a link: absolute paths, ``..``, hard links, devices and FIFOs
are refused; a symbolic link is kept only when it points, on disk, to a regular file
already extracted inside the bundle; a member below a link or a file, or replacing an
earlier member, is refused; and the compressed size, expanded size and member count are
bounded; every byte is counted as it is written, not as the headers claim.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from uploader.deploy.errors import BundleError

MANIFEST = "manifest.json"
DEFAULT_PACKAGE_FILE = "requirements.txt"
_CHUNK = 1 << 20
_LINK_RULE = "a link in a bundle may only point to a regular file inside it"


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleLimits:
    """Bounds on an uploaded bundle."""

    max_compressed: int = 200 * 1024 * 1024
    max_expanded: int = 1024 * 1024 * 1024
    max_members: int = 20_000
    max_manifest: int = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """The parts of ``manifest.json`` that decide how the environment is built."""

    python_version: str | None
    python_requires: str | None
    package_manager: str
    package_file: str
    # None: the manifest leaves the installer to the server.
    allow_uv: bool | None
    checksums: tuple[tuple[str, str], ...]

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse and check a manifest; ``BundleError`` naming the bad field."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise BundleError(f"manifest.json is not valid JSON: {e}") from e
        except RecursionError as e:
            # json's decoder recurses per nesting level: '[' * 100000 must be a 400, not a 500.
            raise BundleError("manifest.json is nested too deeply: use a flat JSON object") from e
        if not isinstance(document, dict):
            raise BundleError("manifest.json must be a JSON object")
        python = _object(document, "python")
        manager = _object(python, "package_manager")
        environment = _object(document, "environment")
        requires = _object(environment, "python").get("requires")
        files = _object(document, "files")
        checksums = []
        for path, entry in files.items():
            checksum = entry.get("checksum") if isinstance(entry, dict) else None
            if not isinstance(path, str) or not isinstance(checksum, str):
                raise BundleError(f"manifest.json files[{path!r}] needs a string checksum")
            checksums.append((path, checksum.lower()))
        package_file = manager.get("package_file", DEFAULT_PACKAGE_FILE)
        version = python.get("version")
        for name, value in (
            ("python.version", version),
            ("environment.python.requires", requires),
            ("python.package_manager.package_file", package_file),
        ):
            if value is not None and not isinstance(value, str):
                raise BundleError(f"manifest.json {name} must be a string")
        return cls(
            python_version=version,
            python_requires=requires,
            package_manager=str(manager.get("name", "pip")),
            package_file=str(package_file),
            allow_uv=None if manager.get("allow_uv") is None else bool(manager["allow_uv"]),
            checksums=tuple(sorted(checksums)),
        )


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BundleError(f"manifest.json {key!r} must be a JSON object")
    return value


def _member_path(name: str) -> PurePosixPath:
    if "\0" in name or "\\" in name:
        raise BundleError(f"bundle member {name!r} has a NUL or backslash in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/"):
        raise BundleError(
            f"bundle member {name!r} is an absolute path: use paths relative to the app"
        )
    parts = [p for p in path.parts if p != "."]
    if ".." in parts:
        raise BundleError(f"bundle member {name!r} leaves the bundle ('..')")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _flatten_prefix(paths: list[tuple[PurePosixPath, tarfile.TarInfo]]) -> PurePosixPath:
    """The single top-level directory chain to strip (rsconnect/Connect's flattening rule)."""
    prefix = PurePosixPath(".")
    while True:
        below = [
            (p, m)
            for p, m in paths
            if p != prefix and (prefix == PurePosixPath(".") or p.is_relative_to(prefix))
        ]
        tops = {
            p.relative_to(prefix).parts[0] if prefix != PurePosixPath(".") else p.parts[0]
            for p, _ in below
            if p.parts
        }
        if len(tops) != 1:
            return prefix
        top = prefix / tops.pop()
        entry = [m for p, m in paths if p == top]
        has_children = any(p != top and p.is_relative_to(top) for p, _ in below)
        if (entry and not entry[0].isdir()) or not has_children:
            return prefix
        prefix = top


def extract_bundle(archive: Path, target: Path, limits: BundleLimits | None = None) -> Path:
    """Extract the gzip tar ``archive`` into the empty directory ``target`` (made when
    missing); return ``target``.

    Nothing is written outside ``target`` and no link is ever followed: a member whose
    path passes through a link or a file, or that would replace an earlier member, is
    refused, and a symbolic link is created only when its target, resolved on disk at
    that moment (every earlier member exists), is a regular file inside ``target``. So no
    link can serve as a directory, whatever the order of the members. Every member also
    passes Python's ``tarfile.data_filter``.

    Every refused member is reported, not only the first: a refused member is skipped
    and the others are still checked (each check is against what is on disk, so a
    skipped member weakens none). A limit reached, or an archive that cannot be read,
    ends the extraction.

    Raises ``BundleError`` listing every problem; on error ``target`` may hold a partial
    extraction (files, directories and links to files, all inside it), which the caller
    discards.
    """
    limits = limits or BundleLimits()
    size = archive.stat().st_size
    if size > limits.max_compressed:
        raise BundleError(f"the bundle is {size} bytes, the limit is {limits.max_compressed}")
    target.mkdir(parents=True, exist_ok=True)
    # (member index, problem): reported in the order of the archive.
    problems: list[tuple[int, str]] = []
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = []
            for member in tar:
                members.append(member)
                if len(members) > limits.max_members:
                    raise BundleError(f"the bundle has more than {limits.max_members} files")
            named = []
            for index, member in enumerate(members):
                try:
                    named.append((index, _member_path(member.name), member))
                except BundleError as e:
                    problems.append((index, str(e)))
            prefix = _flatten_prefix([(path, member) for _, path, member in named])
            extraction = _Extraction(tar, Path(os.path.realpath(target)), limits)
            for index, path, member in named:
                if prefix != PurePosixPath("."):
                    if path == prefix or not path.is_relative_to(prefix):
                        continue
                    path = path.relative_to(prefix)
                if path == PurePosixPath("."):
                    continue
                try:
                    extraction.extract(member, path)
                except BundleError as e:
                    problems.append((index, str(e)))
                    if extraction.written > limits.max_expanded:
                        break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise _refused(problems, f"the bundle is not a valid gzip tar archive: {_reason(e)}") from e
    if problems:
        raise _refused(problems)
    return target


def _refused(problems: list[tuple[int, str]], last: str | None = None) -> BundleError:
    """The error listing ``problems`` in the archive's order, then ``last`` (what ended
    the extraction)."""
    listed = [problem for _, problem in sorted(problems, key=lambda p: p[0])]
    listed += [last] if last is not None else []
    summary = "the bundle cannot be extracted" if len(listed) > 1 else None
    return BundleError(*listed, summary=summary)


class _Extraction:
    """One extraction into ``root`` (a real path): the checks, and the bytes written."""

    def __init__(self, tar: tarfile.TarFile, root: Path, limits: BundleLimits) -> None:
        self.tar = tar
        self.root = root
        self.limits = limits
        self.written = 0
        # Directories this extraction made or found real: a directory is never replaced,
        # so its parts need not be checked again.
        self.directories: set[PurePosixPath] = {PurePosixPath(".")}

    def extract(self, member: tarfile.TarInfo, path: PurePosixPath) -> None:
        """Check ``member`` against what exists, then create it at ``root/path``."""
        name = member.name
        if member.islnk():
            raise BundleError(f"bundle member {name!r} is a hard link: not allowed")
        if not (member.isdir() or member.issym() or member.isfile()):
            raise BundleError(f"bundle member {name!r} is a device, FIFO or other special file")
        try:
            missing = self._missing_parents(name, path)
            destination = self.root.joinpath(*path.parts)
            existing = _lstat(destination) if not missing else None
            if existing is not None and stat.S_ISLNK(existing.st_mode):
                raise BundleError(
                    f"bundle member {name!r} would replace a link: each path may appear once"
                )
            if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
                raise BundleError(
                    f"bundle member {name!r} would replace an earlier member: each path may "
                    "appear once"
                )
            # Real directories inside the target: harmless even if the member is refused,
            # and a link's target is resolved from its real directory.
            for directory in missing:
                os.mkdir(self.root.joinpath(*directory.parts))
                self.directories.add(directory)
            if member.issym():
                self._check_link(member, path)
            _check_data_filter(member, self.root, path)
            if member.isdir():
                if existing is None:
                    os.mkdir(destination)
                self.directories.add(path)
            elif member.issym():
                os.symlink(member.linkname, destination)
            else:
                self._write(member, destination)
        except gzip.BadGzipFile:
            raise
        except OSError as e:
            raise BundleError(f"bundle member {name!r} cannot be extracted: {_reason(e)}") from e

    def _missing_parents(self, name: str, path: PurePosixPath) -> list[PurePosixPath]:
        """The parents of ``path`` still to create, outermost first; ``BundleError`` when
        one that exists is a link or a file (nothing is ever created through a link)."""
        missing: list[PurePosixPath] = []
        for parent in reversed(path.parents):
            if parent in self.directories:
                continue
            found = None if missing else _lstat(self.root.joinpath(*parent.parts))
            if found is None:
                missing.append(parent)
            elif stat.S_ISLNK(found.st_mode):
                raise BundleError(
                    f"bundle member {name!r} is below the link {str(parent)!r}: {_LINK_RULE}"
                )
            elif not stat.S_ISDIR(found.st_mode):
                raise BundleError(
                    f"bundle member {name!r} is below the file {str(parent)!r}: only a "
                    "directory can hold other members"
                )
            else:
                self.directories.add(parent)
        return missing

    def _check_link(self, member: tarfile.TarInfo, path: PurePosixPath) -> None:
        """``BundleError`` unless the link's target is an existing regular file inside."""
        name, link = member.name, member.linkname
        if not link or "\0" in link:
            raise BundleError(
                f"bundle member {name!r} is a link without a valid target: {_LINK_RULE}"
            )
        if os.path.isabs(link):
            raise _leaving(name, link)
        location = os.path.join(self.root, *path.parent.parts)
        candidate = os.path.join(location, link)
        if not _is_within(os.path.normpath(candidate), self.root):
            raise _leaving(name, link)
        try:
            # The kernel first (it gives up after 40 links), then realpath: both must
            # name the same existing regular file inside the bundle.
            followed = os.stat(candidate)
            resolved = os.path.realpath(candidate, strict=True)
            found = os.lstat(resolved)
        except (OSError, RuntimeError) as e:
            raise BundleError(
                f"bundle member {name!r} is a link to {link!r}, which is not a file in the "
                f"bundle (yet): {_LINK_RULE}, put before the link"
            ) from e
        if not _is_within(resolved, self.root):
            raise _leaving(name, link)
        if not stat.S_ISREG(found.st_mode) or not os.path.samestat(found, followed):
            raise BundleError(
                f"bundle member {name!r} is a link to {link!r}, which is not a regular file: "
                f"{_LINK_RULE}"
            )

    def _write(self, member: tarfile.TarInfo, destination: Path) -> None:
        source = self.tar.extractfile(member)
        if source is None:
            raise BundleError(f"bundle member {member.name!r} cannot be read")
        # O_EXCL refuses any existing path, a dangling link included; O_NOFOLLOW says it twice.
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with open(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                self.written += len(chunk)
                if self.written > self.limits.max_expanded:
                    raise BundleError(
                        f"the bundle expands to more than {self.limits.max_expanded} bytes"
                    )
                out.write(chunk)
            os.fchmod(out.fileno(), 0o644 | (0o111 if member.mode & 0o100 else 0))


def _leaving(name: str, link: str) -> BundleError:
    return BundleError(
        f"bundle member {name!r} is a link leaving the bundle ({link!r}): {_LINK_RULE}"
    )


def _check_data_filter(member: tarfile.TarInfo, root: Path, path: PurePosixPath) -> None:
    """Python's own data filter (PEP 706), after timeshelf's checks: a second opinion on
    the flattened path, with the members extracted so far on disk."""
    try:
        tarfile.data_filter(member.replace(name=str(path), deep=False), str(root))
    except tarfile.FilterError as e:
        reason = _FILTER_REASONS.get(type(e), "is refused by the tar data filter")
        raise BundleError(
            f"bundle member {member.name!r} {reason} (tarfile.data_filter): use regular files, "
            "directories and links to regular files inside the bundle"
        ) from e


_FILTER_REASONS: dict[type[tarfile.FilterError], str] = {
    tarfile.AbsolutePathError: "is an absolute path",
    tarfile.OutsideDestinationError: "leaves the bundle",
    tarfile.SpecialFileError: "is a special file",
    tarfile.AbsoluteLinkError: "is a link leaving the bundle (absolute)",
    tarfile.LinkOutsideDestinationError: "is a link leaving the bundle",
}


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _is_within(path: str, root: Path) -> bool:
    return os.path.commonpath([path, str(root)]) == str(root)


def _reason(error: BaseException) -> str:
    """The error in one line, without the server's paths (an ``OSError``'s strerror)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split())


def read_manifest(root: Path, limits: BundleLimits | None = None) -> Manifest | None:
    """The bundle's manifest, or None when it has none."""
    limits = limits or BundleLimits()
    path = root / MANIFEST
    if not path.is_file() or path.is_symlink():
        return None
    if path.stat().st_size > limits.max_manifest:
        raise BundleError(f"manifest.json is larger than {limits.max_manifest} bytes")
    return Manifest.from_json(path.read_bytes())


def verify_checksums(root: Path, manifest: Manifest) -> None:
    """Check every file the manifest lists (md5, as the publishing client writes them)."""
    problems = []
    for name, expected in manifest.checksums:
        try:
            path = inside(root, name)
        except BundleError as e:
            problems.append(str(e))
            continue
        if not path.is_file():
            problems.append(f"{name}: listed in manifest.json but missing from the bundle")
            continue
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            problems.append(
                f"{name}: checksum mismatch (manifest {expected}, file {digest.hexdigest()})"
            )
    if problems:
        raise BundleError(*problems, summary="manifest.json checksums do not match")


def inside(root: Path, name: str) -> Path:
    """``root/name`` if it stays inside ``root`` (links resolved); ``BundleError`` otherwise."""
    relative = _member_path(name)
    try:
        path = (root / relative).resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: a loop of links (before 3.13)
        raise BundleError(f"{name!r} cannot be resolved in the bundle: {_reason(e)}") from e
    if not path.is_relative_to(root.resolve()):
        raise BundleError(f"{name!r} is outside the bundle")
    return path


def requirements_file(root: Path, manifest: Manifest | None) -> tuple[str, str]:
    """(name, text) of the bundle's requirements: the manifest's package file, else
    ``requirements.txt``; ``BundleError`` when there is neither."""
    name = manifest.package_file if manifest is not None else DEFAULT_PACKAGE_FILE
    path = inside(root, name)
    if not path.is_file():
        raise BundleError(
            f"the bundle has no {name}: add a requirements.txt (or name the file in manifest.json "
            "python.package_manager.package_file)"
        )
    try:
        return name, path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"{name} is not UTF-8 text") from e


def reader(root: Path) -> Callable[[str], str]:
    """A ``read(path)`` for requirements includes, confined to the bundle."""

    def read(name: str) -> str:
        path = inside(root, name)
        if not path.is_file():
            raise ValueError(f"no file {name!r} in the bundle")
        return path.read_text(encoding="utf-8")

    return read

