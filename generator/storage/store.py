"""The blob store: distribution files, their ``.metadata`` and ``.asc``, by content.

Keys are ``<h[0:2]>/<h[2:4]>/<sha256>/<filename>`` (DESIGN.md), with ``.metadata``
(PEP 658/714) and ``.asc`` beside the file. Every write is atomic and durable (fsynced)
before it returns, so a catalog row committed afterwards never points at a missing or
partial file. Backends implement ``BlobStore``; the local directory is the default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from generator.errors import StoreError
from generator.storage.atomic import copy_file, write_bytes


def file_key(sha256: str, filename: str) -> str:
    """The store key (and URL path below ``/files/``) of a distribution file."""
    return f"{sha256[0:2]}/{sha256[2:4]}/{sha256}/{filename}"


class BlobStore(Protocol):
    """Where distribution files live. Writes are atomic and durable; nothing is overwritten."""

    def put_file(self, key: str, source: Path, sha256: str | None = None) -> None:
        """Store the file at ``source`` under ``key`` (no-op when ``key`` exists).

        With ``sha256``, refuse (``StoreError``) bytes that do not have that digest.
        """

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (no-op when ``key`` exists)."""

    def exists(self, key: str) -> bool:
        """True when ``key`` is stored."""

    def read(self, key: str) -> bytes:
        """The bytes under ``key``; ``StoreError`` when absent."""


class LocalStore:
    """A ``BlobStore`` in a local directory (by default the site's ``files/`` folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise StoreError(f"store key {key!r} leaves the store")
        return target

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

    def link_into(self, key: str, site_files: Path) -> None:
        """Make ``key`` available below another ``files/`` directory (hard link, else copy)."""
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
