"""Fetching a mirrored file from its upstream into the blob store: once, verified, atomic.

Used at sync (``file_mode = "prefetch"``) and by the sidecar on a file's first request
(``"lazy"``). The bytes are streamed to a temporary file while hashed; only a body whose
sha256 is the one the upstream listed is stored (atomically and durably, by the store),
so a poisoned or truncated download leaves nothing behind. Concurrent requests for one
file cause one download: a lock per key within the process (the sidecar's threads),
and none across processes, where a duplicate download is only wasted work.

In a local store the download is renamed into place (written below the store's hidden
``.incoming/``, so on the same filesystem), without the fsync an upload gets: a mirrored
file lost in a power cut is fetched again on its next request, since its catalog row
keeps the upstream URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from generator.errors import NotFound, TimeshelfError
from generator.mirror.http import HttpClient, UpstreamUnavailable
from generator.storage.store import BlobStore


class HashMismatch(TimeshelfError, ValueError, status=502):
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
        # Resolved once: LocalStore.path resolves on every call (a dozen lstat calls),
        # which for a prefetch of 10k files was a large share of the time.
        self._root = store.local_root
        self._incoming = (self._root / ".incoming") if self._root else work_dir

    def _path(self, key: str) -> Path | None:
        """Where ``key`` lives in a local store (keys come from ``file_key``: no '..')."""
        if self._root is None or key.startswith("/") or ".." in key.split("/"):
            return None
        return self._root / key

    def _exists(self, key: str) -> bool:
        path = self._path(key)
        return path.is_file() if path is not None else self.store.exists(key)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        # Within the process only: across processes (a prefetching sync beside the
        # sidecar) a duplicate download is wasted work but harmless, since only verified
        # bytes are renamed into place.
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def _temporary(self) -> tuple[int, str]:
        try:
            return tempfile.mkstemp(prefix=".fetch-", suffix=".tmp", dir=self._incoming)
        except FileNotFoundError:
            self._incoming.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(prefix=".fetch-", suffix=".tmp", dir=self._incoming)

    def _store(self, key: str, temp: Path) -> None:
        target = self._path(key)
        if target is not None:
            try:
                os.chmod(temp, 0o644)
                try:
                    os.replace(temp, target)
                except FileNotFoundError:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(temp, target)
                return
            except OSError:
                pass  # another filesystem (a symlinked store): copy instead
        self.store.put_file(key, temp)

    def adopt_metadata(self, key: str, sha256: str) -> bool:
        """Store ``key + ".metadata"`` from the stored wheel ``key`` itself when its
        ``METADATA`` has the sha256 the upstream advertised (PEP 658 serves exactly those
        bytes): one request saved per wheel. False when it cannot (then fetch it)."""
        path = self._path(key)
        if path is None or not key.endswith(".whl"):
            return False
        try:
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist()
                           if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
                if len(members) != 1:
                    return False
                data = archive.read(members[0])
        except (OSError, zipfile.BadZipFile, KeyError):
            return False
        if hashlib.sha256(data).hexdigest() != sha256:
            return False
        fd, temp = self._temporary()
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
        if self._exists(key):
            return 0
        with self._locked(key):
            if self._exists(key):  # another request fetched it while we waited
                return 0
            fd, temp = self._temporary()
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
