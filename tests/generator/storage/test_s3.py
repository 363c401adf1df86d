"""S3 locations and the headers of site objects (``generator.storage.s3``): pure parts."""

from __future__ import annotations

import re

import pytest

from generator.errors import ConfigError
from generator.storage.s3 import IMMUTABLE, SHORT, SIMPLE_JSON, S3Location, object_headers


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("files/ab/cd/abcd/x-1.0.tar.gz", "application/octet-stream", IMMUTABLE),
        ("files/ab/cd/abcd/x-1.0-py3-none-any.whl.metadata", "text/plain; charset=utf-8",
         IMMUTABLE),
        ("files/ab/cd/abcd/x-1.0.tar.gz.asc", "application/pgp-signature", IMMUTABLE),
        ("python/latest/simple/x/index.html", "text/html; charset=utf-8", SHORT),
        ("python/latest/simple/x/", "text/html; charset=utf-8", SHORT),
        ("python/latest/simple/x/index.json", SIMPLE_JSON, SHORT),
        ("python/2026-03-01/simple/x/index.json", SIMPLE_JSON, IMMUTABLE),
        ("python/2026-03-01/simple/", "text/html; charset=utf-8", IMMUTABLE),
        ("python/snapshots.json", "application/json", SHORT),
    ],
    ids=["sdist", "metadata", "asc", "page", "dir", "json", "frozen-json", "frozen-root",
         "snapshots"],
)
def test_object_headers(path: str, content_type: str, cache: str) -> None:
    headers = object_headers(path)
    assert (headers.content_type, headers.cache_control) == (content_type, cache)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "use s3://BUCKET/PREFIX"), ("http://b/x", "use s3://BUCKET/PREFIX"),
        ("s3://Bad_Bucket/x", "use s3://BUCKET/PREFIX"),
        ("s3://bucket/a//b", "may not have empty"), ("s3://bucket/../x", "may not have empty"),
    ],
    ids=["empty", "scheme", "bucket-name", "empty-part", "dotdot"],
)
def test_s3_urls_are_checked(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        S3Location.from_url(url, "--to")
