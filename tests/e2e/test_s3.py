"""Scale-out end to end: two sidecars (``timeshelf serve``) on one PostgreSQL catalog,
the blob store and the published site in one bucket of moto's S3 server, and pip
installing from that bucket over plain HTTP (moto serves ``GET /BUCKET/KEY``, which
resolves ``…/<project>/`` because publishing writes directory objects).

Twenty uploads go to the two sidecars at once; none may be lost: every file is in the
catalog, in the bucket and on the published index.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from generator.catalog.catalog import Catalog
from tests.e2e.conftest import PYTHON, client_env, installed, run
from tests.factory import WheelSpec, build_wheel
from tests.pgserver import PostgresCluster
from tests.s3server import S3Server
from tests.servers import Server, http_get, make_installation, run_timeshelf, run_timeshelf_serve

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e
UPLOADS = 20
PLUS = ("torchish", "2.0+cpu")


@dataclass
class ScaledOut:
    config: Path
    bucket: str
    s3: S3Server
    sidecars: tuple[Server, Server]
    wheels: list[Path]
    answers: list[tuple[int, str]]
    catalog_url: str

    def index_url(self) -> str:
        return f"{self.s3.endpoint}/{self.bucket}/site/python/latest/simple/"

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    @functools.cached_property
    def client(self) -> S3Client:
        return self.s3.client()


def _multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + content + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(server: Server, token: str, wheel: Path, name: str, version: str) -> tuple[int, str]:
    """One legacy-API upload, as twine sends it."""
    data = wheel.read_bytes()
    body, content_type = _multipart({
        ":action": "file_upload", "protocol_version": "1", "name": name, "version": version,
        "filetype": "bdist_wheel", "pyversion": "py3",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }, wheel.name, data)
    auth = base64.b64encode(f"__token__:{token}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        connection.request("POST", "/upload/pypi/local/", body=body, headers={
            "Content-Type": content_type, "Authorization": f"Basic {auth}"})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


@pytest.fixture(scope="module")
def scaled(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster, s3_server: S3Server
) -> Iterator[ScaledOut]:
    home = tmp_path_factory.mktemp("scaled")
    catalog_url = postgres.create_database("scaled")
    bucket = s3_server.new_bucket()
    s3_server.make_public(bucket, "site")
    config = make_installation(home / "inst")
    text = config.read_text()
    for section, key, value in (
        ("catalog", "url", catalog_url),
        ("store", "url", f"s3://{bucket}/site/files"),
        ("output", "target", f"s3://{bucket}/site"),
        ("s3", "endpoint_url", s3_server.endpoint),
        ("s3", "region", "us-east-1"),
        ("s3", "addressing_style", "path"),
    ):
        start = text.index(f"[{section}]\n")
        at = text.index(f"\n{key} = ", start) + 1
        end = text.index("\n", at)
        text = text[:at] + f'{key} = "{value}"' + text[end:]
    config.write_text(text)
    # The catalog in PostgreSQL starts empty: the same setup as `timeshelf init`.
    for args in (("create", "source", "--name", "local", "--type", "local-python"),
                 ("create", "repo", "--name", "python"),
                 ("subscribe", "--repo", "python", "--source", "local")):
        run_timeshelf("--config", str(config), *args)
    token = run_timeshelf("--config", str(config), "create", "token", "--description", "ci",
                          "--sources", "local", "-q").stdout.strip()
    wheels: list[tuple[Path, str, str]] = []
    for number in range(UPLOADS - 1):
        name = f"proj{number:02d}"
        wheels.append((build_wheel(home / "dists", WheelSpec(name, "1.0")), name, "1.0"))
    wheels.append((build_wheel(home / "dists", WheelSpec(*PLUS)), *PLUS))
    with run_timeshelf_serve(config) as first, run_timeshelf_serve(config) as second:
        sidecars = (first, second)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=UPLOADS) as pool:
            answers = list(pool.map(
                lambda item: upload(sidecars[item[0] % 2], token, *item[1]), enumerate(wheels)))
        print(f"{UPLOADS} uploads in {time.monotonic() - started:.1f} s")
        yield ScaledOut(config=config, bucket=bucket, s3=s3_server, sidecars=sidecars,
                        wheels=[w[0] for w in wheels], answers=answers, catalog_url=catalog_url)


def test_twenty_concurrent_uploads_to_two_sidecars_lose_nothing(scaled: ScaledOut) -> None:
    assert [status for status, _ in scaled.answers] == [200] * UPLOADS, scaled.answers
    with Catalog(scaled.catalog_url) as catalog:
        packages = catalog.list_packages()
        assert len(packages) == UPLOADS
        events = catalog.events(limit=1000)
        assert [e.id for e in events] == sorted(e.id for e in events)
    # Every upload is on the published index: the watermark never skipped an event.
    root = json.loads(scaled.get("site/python/latest/simple/index.json"))
    assert len(root["projects"]) == UPLOADS
    for wheel in scaled.wheels:
        name = wheel.name.split("-")[0]
        page = json.loads(scaled.get(f"site/python/latest/simple/{name}/index.json"))
        assert [f["filename"] for f in page["files"]] == [wheel.name]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        key = f"site/files/{digest[:2]}/{digest[2:4]}/{digest}/{wheel.name}"
        assert scaled.get(key) == wheel.read_bytes()


def test_a_plus_in_a_file_name_downloads_through_the_rest_endpoint(scaled: ScaledOut) -> None:
    wheel = scaled.wheels[-1]
    assert "+" in wheel.name
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    path = (f"/{scaled.bucket}/site/files/{digest[:2]}/{digest[2:4]}/{digest}/"
            + wheel.name.replace("+", "%2B"))
    reply = http_get(scaled.s3.endpoint + path)
    assert reply.status == 200
    assert reply.body == wheel.read_bytes()
    assert reply.header("Content-Type") == "application/octet-stream"
    assert reply.header("Cache-Control") == "public, max-age=31536000, immutable"
    assert reply.header("Content-Encoding") is None
    page = http_get(f"{scaled.index_url()}torchish/")
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    assert wheel.name.replace("+", "%2B") in page.body.decode()


def test_pip_installs_from_the_bucket(scaled: ScaledOut, tmp_path: Path) -> None:
    env = client_env(tmp_path / "home")
    target = tmp_path / "target"
    run([PYTHON, "-m", "pip", "install", "--target", target, "--index-url",
         scaled.index_url(), "--trusted-host", "127.0.0.1", "torchish==2.0+cpu", "proj07"],
        env=env)
    assert installed(target) == {"torchish": "2.0+cpu", "proj07": "1.0"}
