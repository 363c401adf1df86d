"""A real S3-compatible server for tests: moto's standalone server on 127.0.0.1.

Tests talk HTTP to it with boto3, unpatched. It answers path-style REST requests
(``GET /BUCKET/KEY``), which is also how pip reaches a published site in the tests. The
credentials are dummies set for the whole session (and the AWS configuration files are
pointed at nothing), so no test can reach a real account.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generator.storage.s3 import S3Settings, make_client
from tests.servers import LOOPBACK, Server, free_port, stop, wait_until_answering

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "timeshelf-test",
    "AWS_SECRET_ACCESS_KEY": "timeshelf-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(slots=True)
class S3Server:
    """A running moto server; ``new_bucket`` hands out empty buckets."""

    server: Server
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def endpoint(self) -> str:
        return self.server.base_url

    @property
    def settings(self) -> S3Settings:
        return S3Settings(endpoint_url=self.endpoint, region="us-east-1",
                          addressing_style="path")

    def client(self) -> S3Client:
        return make_client(self.settings)

    def new_bucket(self) -> str:
        name = f"bucket-{os.getpid()}-{next(self._names)}"
        self.client().create_bucket(Bucket=name)
        return name

    def make_public(self, bucket: str, prefix: str) -> None:
        """Let anyone read ``prefix`` (the bucket policy of a public site)."""
        statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*"}
        self.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [statement]}))


class RequestCounter:
    """Counts the requests a boto3 client sends, by operation (``PutObject``, …)."""

    def __init__(self, client: S3Client) -> None:
        self.counts: dict[str, int] = {}
        client.meta.events.register("before-send.s3", self._count)

    def _count(self, request: Any, **kwargs: Any) -> None:
        name = kwargs.get("event_name", "").split(".")[-1]
        self.counts[name] = self.counts.get(name, 0) + 1

    def __getitem__(self, operation: str) -> int:
        return self.counts.get(operation, 0)

    @property
    def writes(self) -> int:
        """Object writes: PUTs (whole or parts) and server-side copies."""
        return sum(self[op] for op in ("PutObject", "CopyObject", "UploadPart",
                                       "CompleteMultipartUpload", "UploadPartCopy"))

    def reset(self) -> None:
        self.counts.clear()


@contextlib.contextmanager
def run_moto() -> Iterator[S3Server]:
    """Start ``moto.server`` on a free loopback port; stop it on exit."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **CREDENTIALS})
        server = Server(name="moto", port=port, process=process, log=log)
        try:
            wait_until_answering(server, timeout=60)
            yield S3Server(server=server)
        finally:
            stop(server)
