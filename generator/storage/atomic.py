"""Atomic writes: every file appears whole or not at all.

A file is written to a hidden temporary name in its final directory and renamed into
place with ``os.replace``. Temporary names start with ``.`` and end in ``.tmp`` so the
web server configuration can refuse them (nothing half-written is ever served).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from generator.errors import StoreError


@contextlib.contextmanager
def _temporary(path: Path, fsync: bool, newer_than: float | None = None) -> Iterator[IO[bytes]]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise StoreError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        if newer_than is not None:
            _move_past(temp, newer_than)
        os.replace(temp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(e, OSError):
            raise StoreError(f"cannot write {path}: {e.strerror or e}") from e
        raise
    if fsync:
        sync_directory(path.parent)


def write_bytes(
    path: Path, data: bytes, *, fsync: bool = False, newer_than: float | None = None
) -> None:
    """Write ``data`` to ``path`` atomically; with ``fsync`` also durably.

    With ``newer_than`` (the modification time of the version being replaced) the new
    file's modification time is in a later whole second (see ``write_if_changed``).
    """
    with _temporary(path, fsync, newer_than) as handle:
        handle.write(data)


def _move_past(temp: str, previous: float) -> None:
    """Give ``temp`` a modification time in a later whole second than ``previous``.

    Static servers derive both validators from it with one-second resolution: nginx's
    ``Last-Modified`` is the second and its ``ETag`` is ``"<mtime>-<size>"`` (weak once it
    compresses the reply). A page rewritten twice in one second would otherwise answer a
    client's revalidation with 304 for its older copy: uv, which sends only
    ``If-Modified-Since`` to nginx, then kept the stale page until a later change. The
    time moves ahead of the clock by at most the number of rewrites within a second.
    """
    written = os.stat(temp).st_mtime
    if int(written) <= int(previous):
        later = int(previous) + 1
        os.utime(temp, (later, later))


def copy_file(
    source: Path, path: Path, *, fsync: bool = True, sha256: str | None = None
) -> None:
    """Copy ``source`` to ``path`` atomically (and durably by default).

    With ``sha256``, the copied bytes must have that digest, else ``StoreError`` and
    nothing is written (the source changed since it was checked).
    """
    with _temporary(path, fsync) as handle, source.open("rb") as src:
        digest = hashlib.sha256()
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            handle.write(chunk)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise StoreError(
                f"{source} changed while it was being stored (sha256 {digest.hexdigest()}, "
                f"checked as {sha256}): add it again once it is complete"
            )


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless ``path`` already holds exactly these bytes; True if written.

    A replaced file's successor is modified in a later whole second than it was, so
    every validator a static server derives from the time changes with the content.
    """
    previous: float | None = None
    try:
        with path.open("rb") as f:
            if f.read(len(data) + 1) == data:
                return False
            previous = os.fstat(f.fileno()).st_mtime
    except FileNotFoundError:
        pass
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror or e}") from e
    write_bytes(path, data, newer_than=previous)
    return True


def new_directory_temp(path: Path) -> Path:
    """The hidden temporary directory ``write_new_directory(path, …)`` fills, beside ``path``.

    The name's hash keeps two long names that share their first 80 characters apart (the
    parallel parts of a full generation write different projects at the same time).
    """
    tag = hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return path.parent / f".{path.name[:80]}.{tag}.tmp"


def write_new_directory(path: Path, files: Mapping[str, bytes]) -> None:
    """Create the directory ``path`` holding ``files`` (name → bytes; a name may have
    ``/``-separated subdirectories), whole or not at all.

    The files go into a hidden temporary directory beside ``path`` that is then renamed
    into place: one rename for all of them and no read of a previous version, the
    fastest atomic way to add a new project's pages (a full generation writes 100k of
    them). Raises ``StoreError`` when ``path`` already exists with content or cannot be
    written.

    Writers of one ``path`` take turns (the generation lock), so the temporary name
    depends on ``path`` alone: a directory a killed run left half-written is removed by
    the next write of the same ``path``, not left behind for ever.
    """
    temp = str(new_directory_temp(path))
    try:
        try:
            os.mkdir(temp)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(temp)
        except FileExistsError:  # half-written by a killed run: start it again
            shutil.rmtree(temp)
            os.mkdir(temp)
        for name, data in files.items():
            if "/" in name:  # a file in a subdirectory ("1.0/index.html")
                os.makedirs(os.path.join(temp, os.path.dirname(name)), exist_ok=True)
            fd = os.open(os.path.join(temp, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                if _umask_hides(0o644):
                    os.fchmod(fd, 0o644)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        os.rename(temp, path)
    except OSError as e:
        shutil.rmtree(temp, ignore_errors=True)
        raise StoreError(f"cannot write {path}: {e.strerror or e}") from e


@functools.cache
def _process_umask() -> int | None:
    # Read, not set: os.umask() would change it for every thread for a moment.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return None


def _umask_hides(mode: int) -> bool:
    """True unless the umask is known to keep every bit of ``mode`` (then no chmod is needed)."""
    umask = _process_umask()
    return umask is None or bool(umask & mode)


def sync_directory(directory: Path) -> None:
    """fsync a directory so a rename inside it survives a power loss."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
