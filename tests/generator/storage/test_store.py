"""The ``BlobStore`` interface (``generator.storage.store``), on both backends: a local
directory and an S3 prefix of moto's real server over HTTP. What a caller may ask
(``local_root``, ``needs_links``, ``is_shared``) is answered by the store, not by its type."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.errors import StoreError
from generator.storage.local import LocalStore
from generator.storage.s3 import S3Location
from generator.storage.s3store import S3Store
from generator.storage.store import Blob, BlobStore, file_key

DATA = b"0123456789" * 7
KEY = file_key(hashlib.sha256(DATA).hexdigest(), "x-1.0.tar.gz")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """A fresh store and the site ``files/`` folder of its installation."""

    store: BlobStore
    site_files: Path
    local: bool


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    site_files = tmp_path / "site" / "files"
    if request.param == "local":
        return Backend(store=LocalStore(tmp_path / "store"), site_files=site_files, local=True)
    s3_server = request.getfixturevalue("s3_server")
    location = S3Location(bucket=s3_server.new_bucket(), prefix="blobs")
    return Backend(store=S3Store(location, s3_server.client()), site_files=site_files,
                   local=False)


@pytest.fixture
def store(backend: Backend) -> BlobStore:
    return backend.store


def test_bytes_in_and_out(store: BlobStore) -> None:
    assert not store.exists(KEY)
    assert store.read_if_stored(KEY) is None
    store.put_bytes(KEY, DATA)
    assert store.exists(KEY)
    assert store.read(KEY) == DATA
    assert store.read_if_stored(KEY) == DATA
    store.put_bytes(KEY, b"other bytes")  # nothing is overwritten
    assert store.read(KEY) == DATA


def test_a_file_in_checked_against_its_digest(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "x-1.0.tar.gz"
    source.write_bytes(DATA)
    with pytest.raises(StoreError, match="changed while it was being stored"):
        store.put_file(KEY, source, sha256="0" * 64)
    assert not store.exists(KEY)
    store.put_file(KEY, source, sha256=hashlib.sha256(DATA).hexdigest())
    assert store.read(KEY) == DATA


def test_open_streams_the_bytes_with_their_size(store: BlobStore) -> None:
    store.put_bytes(KEY, DATA)
    blob = store.open(KEY)
    assert blob.size == len(DATA)
    chunks = list(blob.iter_chunks(16))
    assert b"".join(chunks) == DATA
    assert max(len(c) for c in chunks) <= 16


def test_open_of_an_absent_key_says_so(store: BlobStore) -> None:
    with pytest.raises(StoreError, match=r"cannot read .*absent\.whl"):
        store.open(file_key("1" * 64, "absent.whl"))


def test_delete(store: BlobStore) -> None:
    store.put_bytes(KEY, DATA)
    store.delete(KEY)
    assert not store.exists(KEY)
    store.delete(KEY)  # absent: nothing to do


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.exists("../escape"),
        lambda s: s.read("../escape"),
        lambda s: s.put_bytes("../escape", b"x"),
        lambda s: s.open("../escape"),
        lambda s: s.delete("../escape"),
    ],
    ids=["exists", "read", "put_bytes", "open", "delete"],
)
def test_a_key_never_leaves_the_store(
    store: BlobStore, call: Callable[[BlobStore], object]
) -> None:
    with pytest.raises(StoreError, match="leaves the store"):
        call(store)


def test_what_a_caller_asks_the_interface(backend: Backend) -> None:
    store = backend.store
    store.put_bytes(KEY, DATA)
    assert store.is_shared is not backend.local
    assert store.needs_links(backend.site_files) is backend.local
    if backend.local:
        assert isinstance(store, LocalStore)
        assert store.local_root == store.root.resolve()
        assert store.local_path(KEY) == store.root.resolve() / KEY
    else:
        assert store.local_root is None
        assert store.local_path(KEY) is None


def test_link_into_the_site(backend: Backend) -> None:
    """A local store's file appears in the site's folder as the same inode (a hard link);
    a bucket's reaches the site when it is published, so nothing appears locally."""
    backend.store.put_bytes(KEY, DATA)
    backend.store.link_into(KEY, backend.site_files)
    backend.store.link_into(KEY, backend.site_files)  # already there: nothing to do
    linked = backend.site_files / KEY
    if backend.local:
        source = backend.store.local_path(KEY)
        assert source is not None
        assert os.path.samefile(linked, source)
    else:
        assert not linked.exists()


def test_a_local_store_that_is_the_site_folder_needs_no_links(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "site" / "files")
    assert not store.needs_links(tmp_path / "site" / "files")
    assert store.needs_links(tmp_path / "other" / "files")


@pytest.mark.parametrize(
    "key", ["/etc/passwd", "a/../../b", ".."], ids=["absolute", "dotdot", "parent"]
)
def test_read_if_stored_finds_nothing_outside_a_local_store(tmp_path: Path, key: str) -> None:
    assert LocalStore(tmp_path / "store").read_if_stored(key) is None


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.data, self.closed = data, False

    def read(self, size: int = -1, /) -> bytes:
        taken, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
        return taken

    def close(self) -> None:
        self.closed = True


def test_a_blob_is_closed_once_read() -> None:
    stream = _Stream(DATA)
    chunks: Iterator[bytes] = Blob(stream=stream, size=len(DATA)).iter_chunks(64)
    assert next(chunks) == DATA[:64]
    assert not stream.closed
    assert list(chunks) == [DATA[64:]]
    assert stream.closed
