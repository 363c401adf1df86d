"""Builds real, small wheels and sdists for tests.

A wheel is a zip with ``METADATA``, ``WHEEL`` and ``RECORD``; an sdist a tarball (or zip)
with ``PKG-INFO``. ``write_zip`` and ``write_tar_gz`` build arbitrary (broken) archives,
with links and special files (``TarEntry``, ``modes``) too.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name


def metadata_text(
    name: str, version: str, requires_python: str | None = None, summary: str = "A test package",
    requires_dist: tuple[str, ...] = (), metadata_version: str = "2.1",
) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}",
             f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires_dist]
    return "\n".join(lines) + "\n\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


@dataclass
class WheelSpec:
    name: str
    version: str
    requires_python: str | None = None
    tag: str = "py3-none-any"
    requires_dist: tuple[str, ...] = ()
    module_body: str = ""
    # Overrides for building broken wheels.
    metadata: str | None = None
    dist_info: str | None = None
    omit: tuple[str, ...] = ()
    extra: dict[str, bytes] = field(default_factory=dict)
    filename: str | None = None


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    return f"{canonicalize_name(name).replace('-', '_')}-{version}-{tag}.whl"


def wheel_members(spec: WheelSpec) -> dict[str, bytes]:
    """The members of the wheel ``spec`` describes, in archive order."""
    dist_name = canonicalize_name(spec.name).replace("-", "_")
    dist_info = spec.dist_info or f"{dist_name}-{spec.version}.dist-info"
    files: dict[str, bytes] = {
        f"{dist_name}/__init__.py": (
            spec.module_body or f"__version__ = {spec.version!r}\n"
        ).encode(),
        f"{dist_info}/METADATA": (
            spec.metadata if spec.metadata is not None
            else metadata_text(spec.name, spec.version, spec.requires_python,
                               requires_dist=spec.requires_dist)
        ).encode(),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: timeshelf-tests\nRoot-Is-Purelib: true\n"
            f"Tag: {spec.tag}\n"
        ).encode(),
    }
    files.update(spec.extra)
    record_path = f"{dist_info}/RECORD"
    record = "\n".join(_record_line(p, d) for p, d in files.items()) + f"\n{record_path},,\n"
    files[record_path] = record.encode()
    for omitted in spec.omit:
        files.pop(f"{dist_info}/{omitted}", None)
    return files


def build_wheel(
    directory: Path, spec: WheelSpec, compression: int = zipfile.ZIP_DEFLATED
) -> Path:
    """Write a real installable wheel (one module named after the project)."""
    path = directory / (spec.filename or wheel_filename(spec.name, spec.version, spec.tag))
    return write_zip(path, wheel_members(spec), compression)


def write_zip(
    path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED,
    modes: Mapping[str, int] | None = None,
) -> Path:
    """Write a zip archive with fixed timestamps (the same members give the same bytes).

    ``modes`` gives members a Unix mode (``stat.S_IFLNK | 0o777``: a symbolic link to
    its content, as Info-ZIP stores one).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as archive:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            if modes and member in modes:
                info.create_system = 3  # Unix: the mode is in the high 16 bits
                info.external_attr = modes[member] << 16
            archive.writestr(info, data)
    return path


@dataclass(frozen=True, slots=True)
class TarEntry:
    """A tar member that is not a regular file: ``type`` (``tarfile.SYMTYPE``, ...)."""

    type: bytes
    linkname: str = ""


def write_tar_gz(path: Path, members: Mapping[str, bytes | TarEntry]) -> Path:
    """Write a gzip-compressed tarball with fixed timestamps: regular files of the bytes
    given, links and special files of each ``TarEntry``.

    The gzip header's time is fixed too, so the same members give the same bytes.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.mtime = 1704067200
            if isinstance(data, TarEntry):
                info.type, info.linkname = data.type, data.linkname
                archive.addfile(info)
                continue
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return path


def build_sdist(
    directory: Path, name: str, version: str, *, requires_python: str | None = None,
    pkg_info: str | None = None, top: str | None = None, filename: str | None = None,
    fmt: str = "tar.gz", extra: dict[str, bytes] | None = None,
) -> Path:
    """Write a real sdist (.tar.gz or .zip) with PKG-INFO and a minimal pyproject.toml."""
    dist_name = canonicalize_name(name).replace("-", "_")
    top = top if top is not None else f"{dist_name}-{version}"
    members: dict[str, bytes] = {
        f"{top}/PKG-INFO": (pkg_info if pkg_info is not None
                            else metadata_text(name, version, requires_python)).encode(),
        f"{top}/pyproject.toml": b"[build-system]\nrequires = []\nbuild-backend = 'backend'\n",
    }
    members.update(extra or {})
    path = directory / (filename or f"{dist_name}-{version}.{fmt}")
    if fmt == "zip":
        return write_zip(path, members)
    return write_tar_gz(path, members)


SIGNATURE = (
    b"-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEEtest\n=abcd\n-----END PGP SIGNATURE-----\n"
)
