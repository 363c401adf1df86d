"""Fetching a mirrored file from its upstream into the blob store: once, verified, atomic.

Used at sync (``file_mode = "prefetch"``) and by the sidecar on a file's first request
(``"lazy"``). The bytes are streamed to a temporary file while hashed; only a body whose
sha256 is the one the upstream listed is stored (atomically and durably, by the store),
so a poisoned or truncated download leaves nothing behind. Concurrent requests for one
file cause one download: a lock per key within the process (the sidecar's threads),
and a ``flock`` across processes (a prefetching sync beside the sidecar).

In a local store the download is renamed into place (written below the store's hidden
``.incoming/``, so on the same filesystem), without the fsync an upload gets: a mirrored
file lost in a power cut is fetched again on its next request, since its catalog row
keeps the upstream URL.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from generator.errors import NotFound, TimeshelfError
from generator.httpclient import HttpClient, UpstreamUnavailable
from generator.store import BlobStore, LocalStore

# Cross-process locks are striped over 256 files (by the first two hex digits of the
# sha256): a fixed set that never needs cleaning, contended only by equal prefixes.
_STRIPES = 256


class HashMismatch(TimeshelfError, ValueError):
    """The upstream's bytes do not have the sha256 its index listed: refused, not stored."""

    def __init__(self, url: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{url}: the upstream sent bytes with sha256 {actual}, but its index lists "
            f"{expected}; the file was refused and nothing was stored"
        )
        self.url, self.expected, self.actual = url, expected, actual


class _HashingSink:
    """A writable, truncatable file that hashes what is written (reset on truncate)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def seek(self, offset: int) -> int:
        return self.handle.seek(offset)

    def truncate(self) -> int:
        self.digest, self.size = hashlib.sha256(), 0
        return self.handle.truncate()


class Fetcher:
    """Brings files into ``store`` from upstream URLs (see the module docstring)."""

    def __init__(self, store: BlobStore, client: HttpClient, work_dir: Path) -> None:
        self.store, self.client, self.work_dir = store, client, work_dir
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def _locked(self, key: str, sha256: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                self.work_dir.mkdir(parents=True, exist_ok=True)
                stripe = int(sha256[:2], 16) % _STRIPES
                fd = os.open(self.work_dir / f"fetch-{stripe:02x}.lock", os.O_RDWR | os.O_CREAT,
                             0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    yield
                finally:
                    os.close(fd)
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def _store(self, key: str, temp: Path) -> None:
        if isinstance(self.store, LocalStore):
            target = self.store.path(key)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(temp, 0o644)
                os.replace(temp, target)
                return
            except OSError:
                pass  # another filesystem (a symlinked store): copy instead
        self.store.put_file(key, temp)

    def adopt_metadata(self, key: str, sha256: str) -> bool:
        """Store ``key + ".metadata"`` from the stored wheel ``key`` itself when its
        ``METADATA`` has the sha256 the upstream advertised (PEP 658 serves exactly those
        bytes): one request saved per wheel. False when it cannot (then fetch it)."""
        if not isinstance(self.store, LocalStore) or not key.endswith(".whl"):
            return False
        try:
            with zipfile.ZipFile(self.store.path(key)) as archive:
                members = [n for n in archive.namelist()
                           if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
                if len(members) != 1:
                    return False
                data = archive.read(members[0])
        except (OSError, zipfile.BadZipFile, KeyError):
            return False
        if hashlib.sha256(data).hexdigest() != sha256:
            return False
        incoming = self.store.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".fetch-", suffix=".tmp", dir=incoming)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self._store(key + ".metadata", Path(temp))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        return True

    def ensure(self, key: str, url: str, sha256: str) -> int:
        """Make ``key`` present in the store; return the bytes downloaded (0 if present).

        Raises ``HashMismatch`` for wrong bytes, ``NotFound`` when the upstream answers
        404 or 410, ``UpstreamUnavailable`` for other failures.
        """
        if self.store.exists(key):
            return 0
        with self._locked(key, sha256):
            if self.store.exists(key):  # another request fetched it while we waited
                return 0
            incoming = self.store.root / ".incoming" if isinstance(self.store, LocalStore) \
                else self.work_dir
            incoming.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".fetch-", suffix=".tmp", dir=incoming)
            try:
                with os.fdopen(fd, "w+b") as handle:
                    sink = _HashingSink(handle)
                    response = self.client.get(url, sink=sink)
                if response.status in (404, 410):
                    raise NotFound(f"{url}: the upstream no longer has this file "
                                   f"(HTTP {response.status})")
                if response.status != 200:
                    raise UpstreamUnavailable(f"{url}: the upstream answered HTTP {response.status}")
                actual = sink.digest.hexdigest()
                if actual != sha256:
                    raise HashMismatch(url, sha256, actual)
                self._store(key, Path(temp))
                return sink.size
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
