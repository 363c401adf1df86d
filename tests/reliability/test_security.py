"""Hostile paths, slow clients and fuzzer finds, each a regression test.

Path traversal through every GET route of the sidecar's static site, snapshot and mirror
routes (``%2e%2e``, encoded slashes, backslashes, NUL, a symlink in the store pointing
outside): never the secret key or a file outside the site. A slowloris client dribbling
headers to ``timeshelf serve`` does not stop other clients being served. Inputs found by
``bench/fuzz_upload.py`` that crashed archive inspection are refused as invalid.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from generator.config.settings import load_config
from generator.errors import InvalidDistribution
from generator.installation import Installation
from generator.intake.distributions import inspect_distribution
from tests.reliability.harness import make_installation, start_serve
from tests.servers import LOOPBACK, free_port, http_get
from uploader.app import create_app

HERE = Path(__file__).resolve().parent
SECRET_MARK = "secret-outside-the-site"  # noqa: S105 - a marker, not a password


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlaskClient, Path]]:
    config = make_installation(tmp_path_factory.mktemp("sec") / "inst", projects=1, versions=1)
    (config.parent / "outside.txt").write_text(SECRET_MARK)
    inst = Installation(load_config(config))
    store = inst.config.store_path
    # A symlink planted in the store (by a careless operator or a bad restore).
    (store / "ev").mkdir(parents=True, exist_ok=True)
    (store / "ev" / "il.whl").symlink_to(config.parent / "outside.txt")
    try:
        yield create_app(inst).test_client(), config
    finally:
        inst.close()


TRAVERSALS = [
    "/files/../secret.key", "/files/%2e%2e/%2e%2e/secret.key", "/files/..%2f..%2fsecret.key",
    "/files/%2e%2e%2f%2e%2e%2fsecret.key", "/files/..%5c..%5csecret.key",
    "/python/latest/simple/%2e%2e/%2e%2e/%2e%2e/secret.key",
    "/python/latest/simple/..%2f..%2f..%2fsecret.key",
    "/python/2026-03-01/simple/%2e%2e/%2e%2e/%2e%2e/outside.txt",
    "/python/2099-01-01/simple/..%2f..%2f..%2f..%2foutside.txt",
    "/python/latest/simple/proj-000/%00/../../../../../secret.key",
    "/%2e%2e/secret.key", "//etc/passwd", "/files/ev/il.whl", "/files/ev/../../outside.txt",
    "/python/latest/simple/%252e%252e/%252e%252e/outside.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_route_serves_a_file_outside_the_site(site: tuple[FlaskClient, Path],
                                                 path: str) -> None:
    client, config = site
    secret = (config.parent / "secret.key").read_bytes()
    reply = client.get(path)
    body = reply.get_data()
    assert secret not in body
    assert SECRET_MARK.encode() not in body
    assert b"root:" not in body
    assert reply.status_code < 500


def test_a_slowloris_client_does_not_stop_others(tmp_path: Path) -> None:
    config = make_installation(tmp_path / "inst", projects=1, versions=1)
    port = free_port()
    process = start_serve(config, port, tmp_path / "serve.log")
    slow: list[socket.socket] = []
    try:
        for _ in range(150):  # more than [server] threads (8) and waitress's default 100
            sock = socket.create_connection((LOOPBACK, port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        deadline = time.monotonic() + 3
        served = 0
        while time.monotonic() < deadline:
            for sock in slow:
                sock.sendall(b"X-Dribble: 1\r\n")
            reply = http_get(f"http://{LOOPBACK}:{port}/python/latest/simple/proj-000/")
            assert reply.status == 200
            served += 1
            time.sleep(0.2)
        assert served >= 3
    finally:
        for sock in slow:
            sock.close()
        process.terminate()
        process.wait(timeout=30)


def test_oversized_headers_are_refused_not_a_crash(tmp_path: Path) -> None:
    config = make_installation(tmp_path / "inst", projects=1, versions=1)
    port = free_port()
    process = start_serve(config, port, tmp_path / "serve.log")
    try:
        with socket.create_connection((LOOPBACK, port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n")
            answer = sock.recv(200)
        assert (answer.startswith(b"HTTP/1.") and b" 431 " in answer) or b" 400 " in answer
        assert http_get(f"http://{LOOPBACK}:{port}/python/latest/simple/").status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)


FUZZ_FINDS = [
    # zip64 end record naming "zip file version 23.5": zipfile raised NotImplementedError.
    ("crash-zip-version.bin", "proj_000-1.0-py3-none-any.whl", "corrupt zip archive"),
    # a member with an empty name: zipfile's is_dir() raised IndexError.
    ("crash-empty-member.bin", "proj_000-1.0-py3-none-any.whl", "empty name"),
    # an end record spanning disks: zipfile.is_zipfile itself raised BadZipFile.
    ("crash-multi-disk.bin", "proj_000-1.0-py3-none-any.whl", "corrupt zip archive"),
]


@pytest.mark.parametrize(("name", "filename", "message"), FUZZ_FINDS,
                         ids=[n for n, _, _ in FUZZ_FINDS])
def test_fuzzer_finds_are_invalid_distributions(name: str, filename: str, message: str,
                                                tmp_path: Path) -> None:
    path = tmp_path / filename
    path.write_bytes((HERE / name).read_bytes()[1:])  # first byte: the fuzzer's target
    with pytest.raises(InvalidDistribution, match=message):
        inspect_distribution(path)
    assert os.path.exists(path)
