"""The blob store: distribution files, their ``.metadata`` and ``.asc``, by content.

Keys are ``<h[0:2]>/<h[2:4]>/<sha256>/<filename>`` (DESIGN.md), with ``.metadata``
(PEP 658/714) and ``.asc`` beside the file. Every write is atomic and durable (fsynced)
before it returns, so a catalog row committed afterwards never points at a missing or
partial file.

``BlobStore`` declares everything a caller needs, so none asks which backend it holds:
``generator.storage.local.LocalStore`` (a directory, the default) and
``generator.storage.s3store.S3Store`` (an S3 prefix) implement it, and the installation
chooses one from its configuration. What differs between them is said by the interface:
``local_root``/``local_path`` (the files on this host's disk, or None),
``needs_links``/``link_into`` (how the files reach the site's ``files/`` folder) and
``is_shared`` (whether other hosts write the same keys).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


def file_key(sha256: str, filename: str) -> str:
    """The store key (and URL path below ``/files/``) of a distribution file."""
    return f"{sha256[0:2]}/{sha256[2:4]}/{sha256}/{filename}"


class Readable(Protocol):
    """A stream of bytes read once, in order (a file, botocore's ``StreamingBody``)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Blob:
    """A stored object opened for reading: a stream of its bytes, and how many there are."""

    stream: Readable
    size: int

    def iter_chunks(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes in chunks of at most ``chunk_size``; the stream is closed at the end."""
        try:
            while chunk := self.stream.read(chunk_size):
                yield chunk
        finally:
            self.stream.close()


class BlobStore(ABC):
    """Where distribution files live. Writes are atomic and durable; nothing is overwritten.

    Every method raises ``StoreError`` when the store cannot be read or written, and for
    a key that would leave the store.
    """

    @property
    @abstractmethod
    def is_shared(self) -> bool:
        """True when other hosts may write the same keys at the same time (a bucket):
        the per-process key locks of an ingest then do not make a fresh blob its own."""

    @property
    @abstractmethod
    def local_root(self) -> Path | None:
        """The directory (resolved) holding the files on this host, None when they are
        not on its disk. A store with a root can be given to another process."""

    @abstractmethod
    def local_path(self, key: str) -> Path | None:
        """Where ``key`` is (or would be) on this host's disk; None without a local root."""

    @abstractmethod
    def put_file(self, key: str, source: Path, sha256: str | None = None) -> None:
        """Store the file at ``source`` under ``key`` (no-op when ``key`` exists).

        With ``sha256``, refuse (``StoreError``) bytes that do not have that digest.
        """

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (no-op when ``key`` exists)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True when ``key`` is stored."""

    @abstractmethod
    def read(self, key: str) -> bytes:
        """The bytes under ``key``; ``StoreError`` when absent."""

    @abstractmethod
    def read_if_stored(self, key: str) -> bytes | None:
        """The bytes under ``key``, None when absent."""

    @abstractmethod
    def open(self, key: str) -> Blob:
        """``key`` opened for reading (its stream and size); ``StoreError`` when absent.
        The caller reads the stream to its end (``Blob.iter_chunks``) or closes it."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` (no-op when absent)."""

    def needs_links(self, site_files: Path) -> bool:
        """True when the site's ``files/`` folder at ``site_files`` gets this store's files
        through ``link_into``: the store is a directory of this host other than that folder.
        (An S3 store's files reach a published site by server-side copies.)"""
        root = self.local_root
        return root is not None and root != site_files.resolve()

    @abstractmethod
    def link_into(self, key: str, site_files: Path) -> None:
        """Make ``key`` available below the site's ``files/`` folder ``site_files`` when
        ``needs_links`` says so (no-op when it is there already)."""
