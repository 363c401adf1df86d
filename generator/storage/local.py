"""A ``BlobStore`` in a local directory (by default the site's ``files/`` folder).

Files are written with ``generator.storage.atomic`` (a hidden temporary name, fsynced,
renamed into place). A store that is another directory than the site's ``files/`` is
hard-linked into it (copied across filesystems), so nginx serves every file from disk.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from generator.errors import StoreError
from generator.storage.atomic import copy_file, write_bytes
from generator.storage.store import Blob, BlobStore


class LocalStore(BlobStore):
    """A ``BlobStore`` in the directory ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Resolved on the first read_if_stored: ``path`` resolves the whole path on each
        # call, which a full UI run reading 100k descriptions would pay 100k times.
        self._read_root: Path | None = None

    @property
    def is_shared(self) -> bool:
        return False

    @property
    def local_root(self) -> Path:
        return self.root.resolve()

    def path(self, key: str) -> Path:
        """The file of ``key`` (resolved); ``StoreError`` when it would leave the store."""
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise StoreError(f"store key {key!r} leaves the store")
        return target

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def put_file(self, key: str, source: Path, sha256: str | None = None) -> None:
        target = self.path(key)
        if not target.exists():
            copy_file(source, target, fsync=True, sha256=sha256)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        if not target.exists():
            write_bytes(target, data, fsync=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except OSError as e:
            raise StoreError(f"cannot read {key} from the store: {e.strerror or e}") from e

    def read_if_stored(self, key: str) -> bytes | None:
        if self._read_root is None:
            self._read_root = self.root.resolve()
        if key.startswith("/") or ".." in key.split("/"):
            return None
        try:
            return (self._read_root / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"cannot read {key} from the store: {e.strerror or e}") from e

    def open(self, key: str) -> Blob:
        try:
            handle = self.path(key).open("rb")
        except OSError as e:
            raise StoreError(f"cannot read {key} from the store: {e.strerror or e}") from e
        return Blob(stream=handle, size=os.fstat(handle.fileno()).st_size)

    def delete(self, key: str) -> None:
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path(key).unlink()
        except OSError as e:
            raise StoreError(f"cannot delete {key} from the store: {e.strerror or e}") from e

    def link_into(self, key: str, site_files: Path) -> None:
        """Hard-link ``key`` below ``site_files`` (a copy across filesystems)."""
        target = site_files / key
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self.path(key), target)
        except FileExistsError:
            pass
        except OSError:
            copy_file(self.path(key), target, fsync=False)
