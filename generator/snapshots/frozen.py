"""The stored form of a frozen snapshot page: gzip-compressed, next to the name it serves.

A dated day's pages never change, and a day keeps the previous version of every page
that changed, so their bytes add up over the years. They are stored compressed
(``index.html.gz``, ``index.json.gz``): a project page then takes one 4 KiB block
instead of two or three. Every reader serves the bytes that were rendered: nginx with
``gzip_static always`` (as they are to clients that take gzip, through ``gunzip``
otherwise), ``timeshelf serve`` and the S3 publisher by decompressing (``read_page``).

Days written before pages were compressed hold ``index.html`` itself; readers take
either (``stored_page``), so such days keep being served as they are.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Final

SUFFIX: Final = ".gz"
# zlib's default: a project page shrinks 5-8x; level 9 saves a few bytes more for twice
# the time, and a page under 4 KiB takes one block either way.
LEVEL: Final = 6


def compress_page(data: bytes) -> bytes:
    """``data`` gzip-compressed, the same bytes for the same input (no name, no time)."""
    return gzip.compress(data, compresslevel=LEVEL, mtime=0)


def decompress_page(data: bytes) -> bytes:
    """The bytes a stored page serves; ``ValueError`` when they are not gzip data."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"not a gzip-compressed page: {e}") from e


def is_compressed_name(name: str) -> bool:
    return name.endswith(SUFFIX)


def served_name(name: str) -> str:
    """The name a stored file serves: ``index.html.gz`` → ``index.html``."""
    return name[: -len(SUFFIX)] if is_compressed_name(name) else name


def stored_page(path: Path) -> Path | None:
    """The file that holds the page served as ``path``: ``path.gz``, else ``path``
    itself (a day written before compression), else None."""
    compressed = path.with_name(path.name + SUFFIX)
    if compressed.is_file():
        return compressed
    return path if path.is_file() else None


def read_page(path: Path) -> bytes:
    """The served bytes of the stored file ``path`` (decompressed when it is ``.gz``).

    ``OSError`` when it cannot be read; ``ValueError`` when a ``.gz`` is corrupt.
    """
    data = path.read_bytes()
    return decompress_page(data) if is_compressed_name(path.name) else data


def read_served_page(path: Path) -> bytes:
    """The bytes served as ``path``, whichever way they are stored; ``FileNotFoundError``
    when the page is not there at all."""
    stored = stored_page(path)
    if stored is None:
        raise FileNotFoundError(f"no page {path}")
    return read_page(stored)
