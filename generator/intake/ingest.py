"""Taking distribution files into a source: check, store durably, then record.

The order is what makes an accepted file durable and a refused one traceless: the file
is inspected first; the blob, its ``.metadata`` and ``.asc`` are written and fsynced;
only then is the catalog row (with its event) committed. A blob written for a file the
catalog then refuses is deleted again.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from packaging.utils import canonicalize_name

from generator.catalog import Catalog, same_distribution_error
from generator.clock import format_timestamp
from generator.errors import (
    Conflict,
    FileAlreadyExists,
    FileRemoved,
    InvalidDistribution,
    ProjectClosed,
    TimeshelfError,
)
from generator.intake.distributions import Distribution, Limits, inspect_distribution
from generator.naming import check_version, is_same_version
from generator.records import FileRecord, Source
from generator.storage.store import BlobStore, file_key

SIGNATURE_BEGIN = b"-----BEGIN PGP SIGNATURE-----"
SIGNATURE_END = b"-----END PGP SIGNATURE-----"
MAX_SIGNATURE_SIZE = 64 * 1024
_BLOB_LOCKS = tuple(threading.Lock() for _ in range(64))


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """A file now in the source; ``new`` is False when the identical file was already there."""

    filename: str
    project: str
    version: str
    sha256: str
    new: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """A file that was not taken, and the one-line reason."""

    path: str
    message: str


def check_signature(filename: str, data: bytes) -> None:
    """Accept only an ASCII-armored detached PGP signature block."""
    text = data.strip()
    if len(data) > MAX_SIGNATURE_SIZE:
        raise InvalidDistribution(
            filename, f"the signature is larger than {MAX_SIGNATURE_SIZE} bytes"
        )
    if not (text.startswith(SIGNATURE_BEGIN) and text.endswith(SIGNATURE_END)) or not text.isascii():
        raise InvalidDistribution(
            filename,
            "the signature is not an ASCII-armored PGP signature "
            "(-----BEGIN PGP SIGNATURE----- ... -----END PGP SIGNATURE-----)",
        )


def ingest_file(
    catalog: Catalog,
    store: BlobStore,
    source: Source,
    path: Path,
    at: datetime,
    *,
    filename: str | None = None,
    signature: bytes | None = None,
    limits: Limits | None = None,
    expect_name: str | None = None,
    expect_version: str | None = None,
) -> Accepted:
    """Take one file into ``source``; raises a ``TimeshelfError`` and stores nothing if refused.

    ``expect_name``/``expect_version`` (an upload form's claims) must agree with the
    archive's own metadata. Another spelling of a file in the source (``keep3-1.0.0-...``
    beside ``keep3-1.0-...``) is refused like a reused name: ``SameDistributionExists``,
    ``SameDistributionRemoved``. A project whose PEP 792 status is archived or
    quarantined takes nothing: ``ProjectClosed`` (an identical re-upload included).
    """
    if source.type != "local-python":
        raise Conflict(
            f"source {source.name!r} is of type {source.type!r}: files can be added only to "
            "local-python sources"
        )
    dist = inspect_distribution(path, filename, limits)
    if expect_name and canonicalize_name(expect_name) != dist.project:
        raise InvalidDistribution(
            dist.filename,
            f"the form names project {expect_name!r} but the file's metadata says "
            f"{dist.display_name!r}",
        )
    if expect_version:
        try:
            check_version(expect_version)
        except ValueError as e:
            raise InvalidDistribution(dist.filename, f"the form gives an {e}") from e
    if expect_version and not is_same_version(expect_version, dist.version):
        raise InvalidDistribution(
            dist.filename,
            f"the form gives version {expect_version!r} but the file's metadata says "
            f"{dist.version!r}",
        )
    if signature is not None:
        check_signature(f"{dist.filename}.asc", signature)
    status = catalog.project_status(source, dist.project)
    if status.refuses_uploads:
        raise ProjectClosed(
            dist.filename, dist.display_name, source.name, status.status, status.reason
        )
    found = catalog.find_file(source, dist.filename)
    if found is not None:
        if found.removed:
            raise FileRemoved(dist.filename)
        if found.record.sha256 != dist.digests.sha256:
            raise FileAlreadyExists(dist.filename, found.record.sha256)
    else:
        # Checked again when the row is added; here it saves storing a blob to refuse.
        same = catalog.find_same_distribution(
            source, dist.project, dist.filename, dist.packagetype
        )
        if same is not None:
            raise same_distribution_error(source, dist.filename, same)
    key = file_key(dist.digests.sha256, dist.filename)
    # Another ingest of the same bytes under the same name (to another source) must not
    # see the blob as its own to delete when it is refused: one at a time per key.
    with _blob_lock(key):
        fresh = [
            k for k in (key, f"{key}.metadata", f"{key}.pkg-info", f"{key}.asc")
            if not store.exists(k)
        ]
        try:
            store.put_file(key, path, sha256=dist.digests.sha256)
            metadata_sha256 = None
            if dist.core_metadata is not None:
                store.put_bytes(f"{key}.metadata", dist.core_metadata)
                metadata_sha256 = hashlib.sha256(dist.core_metadata).hexdigest()
            if dist.pkg_info is not None:
                store.put_bytes(f"{key}.pkg-info", dist.pkg_info)
            if signature is not None:
                store.put_bytes(f"{key}.asc", signature)
            new = catalog.add_file(
                source, dist.project, dist.display_name, dist.summary or "",
                _record(dist, at, metadata_sha256, signature is not None), at,
            )
            if not new and signature is not None:
                # Also when a concurrent unsigned upload of the file committed first (then
                # ``found`` was None); a no-op for a file already signed.
                catalog.set_signature(source, dist.filename, at)
        except (FileAlreadyExists, FileRemoved):
            _forget(store, fresh)
            raise
    return Accepted(
        filename=dist.filename, project=dist.project, version=dist.version,
        sha256=dist.digests.sha256, new=new,
    )


def _blob_lock(key: str) -> threading.Lock:
    """The lock of a store key: the same key always gets the same one of a fixed few."""
    digest = hashlib.sha256(key.encode()).digest()
    return _BLOB_LOCKS[digest[0] % len(_BLOB_LOCKS)]


def _record(dist: Distribution, at: datetime, metadata_sha256: str | None, signed: bool) -> FileRecord:
    return FileRecord(
        filename=dist.filename,
        version=dist.version,
        packagetype=dist.packagetype,
        sha256=dist.digests.sha256,
        blake2_256=dist.digests.blake2_256,
        size=dist.digests.size,
        requires_python=dist.requires_python,
        upload_time=format_timestamp(at),
        metadata_sha256=metadata_sha256,
        has_signature=signed,
        yanked=False,
        yanked_reason="",
    )


def _forget(store: BlobStore, keys: Sequence[str]) -> None:
    # Not in a shared store (a bucket): another host may have stored the same bytes
    # meanwhile and committed its row for them (the key locks are this process's only).
    if store.is_shared:
        return
    for key in keys:
        with contextlib.suppress(OSError):
            store.delete(key)


def ingest_paths(
    catalog: Catalog,
    store: BlobStore,
    source: Source,
    paths: Sequence[Path],
    at: datetime,
    *,
    limits: Limits | None = None,
) -> tuple[list[Accepted], list[Refused]]:
    """Take every good file of a batch and report every bad one (never only the first).

    A ``FILE.asc`` lying beside ``FILE`` is taken as its signature; ``.asc`` files given
    on their own are skipped when their distribution is in the batch.
    """
    accepted: list[Accepted] = []
    refused: list[Refused] = []
    given = {p.resolve() for p in paths}
    for path in paths:
        if path.name.endswith(".asc") and path.with_name(path.name[:-4]).resolve() in given:
            continue
        try:
            if not path.is_file():
                raise InvalidDistribution(path.name, "no such file")
            signature_path = path.with_name(path.name + ".asc")
            signature = signature_path.read_bytes() if signature_path.is_file() else None
            accepted.append(
                ingest_file(catalog, store, source, path, at, signature=signature, limits=limits)
            )
        except TimeshelfError as e:
            refused.append(Refused(path=str(path), message=str(e)))
        except OSError as e:
            refused.append(Refused(path=str(path), message=f"{path.name}: {e.strerror or e}"))
    return accepted, refused
