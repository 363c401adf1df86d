"""Deployment bundles: safe extraction, the manifest, and where the requirements are.

A bundle is a gzip tar in the layout the common publishing client (rsconnect-python)
writes: ``manifest.json`` first, paths relative, and a root holding a single directory
flattened (repeatedly) as the server it imitates does. Extraction never trusts the
archive: absolute paths, ``..``, links leaving the bundle, hard links, devices and FIFOs
are refused, and the compressed size, expanded size and member count are bounded; every
byte is counted as it is written, not as the headers claim.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "manifest.json"
DEFAULT_PACKAGE_FILE = "requirements.txt"
_CHUNK = 1 << 20


class BundleError(ValueError):
    """A bundle that cannot be used; the message says what is wrong and what would be valid."""


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


def _flatten_prefix(members: list[tarfile.TarInfo]) -> PurePosixPath:
    """The single top-level directory chain to strip (rsconnect/Connect's flattening rule)."""
    paths = [(_member_path(m.name), m) for m in members]
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
    """Extract the gzip tar ``archive`` into the empty directory ``target``; return ``target``.

    Raises ``BundleError``; on error ``target`` may hold a partial extraction, which the
    caller discards (it is a private temporary directory).
    """
    limits = limits or BundleLimits()
    size = archive.stat().st_size
    if size > limits.max_compressed:
        raise BundleError(f"the bundle is {size} bytes, the limit is {limits.max_compressed}")
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = []
            for member in tar:
                members.append(member)
                if len(members) > limits.max_members:
                    raise BundleError(f"the bundle has more than {limits.max_members} files")
            prefix = _flatten_prefix(members)
            written = 0
            for member in members:
                path = _member_path(member.name)
                if prefix != PurePosixPath("."):
                    if path == prefix or not path.is_relative_to(prefix):
                        continue
                    path = path.relative_to(prefix)
                if path == PurePosixPath("."):
                    continue
                destination = target.joinpath(*path.parts)
                if member.isdir():
                    destination.mkdir(parents=True, exist_ok=True)
                elif member.issym():
                    _symlink(target, path, member.linkname)
                elif member.islnk():
                    raise BundleError(f"bundle member {member.name!r} is a hard link: not allowed")
                elif member.isfile():
                    written = _write_member(tar, member, destination, written, limits)
                else:
                    raise BundleError(
                        f"bundle member {member.name!r} is a device, FIFO or other special file"
                    )
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BundleError(f"the bundle is not a valid gzip tar archive: {e}") from e
    return target


def _symlink(root: Path, path: PurePosixPath, link: str) -> None:
    resolved = os.path.normpath(os.path.join(str(root), *path.parent.parts, link))
    if os.path.isabs(link) or not (resolved + os.sep).startswith(str(root) + os.sep):
        raise BundleError(f"bundle member {str(path)!r} is a link leaving the bundle ({link!r})")
    destination = root.joinpath(*path.parts)
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(link, destination)


def _write_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    destination: Path,
    written: int,
    limits: BundleLimits,
) -> int:
    source = tar.extractfile(member)
    if source is None:
        raise BundleError(f"bundle member {member.name!r} cannot be read")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_symlink():
        raise BundleError(f"bundle member {member.name!r} would write through a link")
    with open(destination, "xb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limits.max_expanded:
                raise BundleError(f"the bundle expands to more than {limits.max_expanded} bytes")
            out.write(chunk)
    os.chmod(destination, 0o644 | (0o111 if member.mode & 0o100 else 0))
    return written


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
        raise BundleError("manifest.json checksums do not match: " + "; ".join(problems))


def inside(root: Path, name: str) -> Path:
    """``root/name`` if it stays inside ``root`` (links resolved); ``BundleError`` otherwise."""
    relative = _member_path(name)
    path = (root / relative).resolve()
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


def write_bundle(
    directory: Path, archive: Path, manifest: dict[str, Any], files: list[str]
) -> None:
    """Write a bundle the way the publishing client does: manifest first, relative paths."""
    with tarfile.open(archive, mode="w:gz") as tar:
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name in files:
            tar.add(directory / name, arcname=name, recursive=False)
