"""The S3 blob store (``generator.storage.s3store``) against moto's real server over HTTP:
streamed uploads checked against their sha256, multipart above the threshold."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generator.errors import StoreError
from generator.storage.s3 import S3Location
from generator.storage.s3store import S3Store
from generator.storage.store import file_key
from tests.s3server import RequestCounter, S3Server


def test_s3_store_streams_and_checks(s3_server: S3Server, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client = s3_server.client()
    requests = RequestCounter(client)
    name = s3_server.new_bucket()
    store = S3Store(S3Location(bucket=name, prefix="blobs"), client)
    small = tmp_path / "x-1.0.tar.gz"
    small.write_bytes(b"payload")
    digest = hashlib.sha256(b"payload").hexdigest()
    key = file_key(digest, small.name)
    assert not store.exists(key)
    store.put_file(key, small, sha256=digest)
    assert store.exists(key)
    assert store.read(key) == b"payload"
    head = client.head_object(Bucket=name, Key=f"blobs/{key}")
    assert head["ContentType"] == "application/octet-stream"
    with pytest.raises(StoreError, match="changed while it was being stored"):
        store.put_file(file_key("0" * 64, "y-1.0.tar.gz"), small, sha256="0" * 64)
    assert not store.exists(file_key("0" * 64, "y-1.0.tar.gz"))
    with pytest.raises(StoreError, match="leaves the store"):
        store.exists("../escape")
    with pytest.raises(StoreError, match="cannot read"):
        store.read(file_key("1" * 64, "absent.whl"))
    # Multipart above the threshold (S3's smallest part is 5 MiB).
    monkeypatch.setattr("generator.storage.s3store.MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr("generator.storage.s3store.MULTIPART_CHUNK", 5 * 1024 * 1024)
    big = tmp_path / "big-1.0.tar.gz"
    data = bytes(range(256)) * (45 * 1024)  # 11.25 MiB
    big.write_bytes(data)
    big_key = file_key(hashlib.sha256(data).hexdigest(), big.name)
    requests.reset()
    store.put_file(big_key, big, sha256=hashlib.sha256(data).hexdigest())
    assert requests["UploadPart"] == 3
    assert store.read(big_key) == data
