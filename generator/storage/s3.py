"""S3 locations and clients: ``s3://BUCKET/PREFIX`` URLs and the ``[s3]`` settings.

Every S3 client of timeshelf is made here, with adaptive retries (botocore's client-side
rate limiting on ``SlowDown``/throttling answers, as bandersnatch does) and the endpoint,
region and profile of the configuration; credentials come from the profile or boto3's
usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, the shared credentials
file, an instance role), never from ``timeshelf.toml``. ``endpoint_url`` points at an
S3-compatible server (MinIO, Ceph, moto in the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from generator.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Bucket names: 3-63 lowercase letters, digits, '.', '-' (what S3 accepts today).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
ADDRESSING_STYLES = ("auto", "path", "virtual")
# Attempts in all (the first and the retries) before an S3 call fails.
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Location:
    """A bucket and a key prefix (no leading or trailing ``/``; may be empty)."""

    bucket: str
    prefix: str

    @classmethod
    def from_url(cls, url: str, what: str = "S3 URL") -> S3Location:
        """Parse ``s3://BUCKET[/PREFIX]``; ``ConfigError`` naming ``what`` otherwise."""
        match = re.fullmatch(r"s3://([^/]+)(?:/(.*))?", url)
        if match is None or not _BUCKET.match(match[1]):
            raise ConfigError(
                f"{what} {url!r} is invalid: use s3://BUCKET/PREFIX (a bucket name of "
                "3-63 lowercase letters, digits, '.' and '-')"
            )
        prefix = (match[2] or "").strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise ConfigError(
                f"{what} {url!r} is invalid: the prefix may not have empty, '.' or '..' parts"
            )
        return cls(bucket=match[1], prefix=prefix)

    def key(self, relative: str) -> str:
        """The object key of ``relative`` below the prefix."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Settings:
    """The ``[s3]`` table: how to reach the object store."""

    endpoint_url: str = ""
    region: str = ""
    profile: str = ""
    addressing_style: str = "auto"

    def __post_init__(self) -> None:
        if self.addressing_style not in ADDRESSING_STYLES:
            raise ConfigError(
                f"[s3] addressing_style = {self.addressing_style!r} is invalid: use one of "
                f"{', '.join(ADDRESSING_STYLES)}"
            )
        if self.endpoint_url and not re.match(r"https?://[^/]+", self.endpoint_url):
            raise ConfigError(
                f"[s3] endpoint_url = {self.endpoint_url!r} is invalid: use http(s)://HOST[:PORT]"
            )


def make_client(settings: S3Settings, *, max_pool: int = 32) -> S3Client:
    """A boto3 S3 client for ``settings`` with adaptive retries and ``max_pool`` connections."""
    import boto3
    from botocore.config import Config as BotoConfig

    session = boto3.session.Session(profile_name=settings.profile or None)
    # A TypedDict of literal styles in the stubs; the value was checked in S3Settings.
    addressing: Any = {"addressing_style": settings.addressing_style}
    config = BotoConfig(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        max_pool_connections=max_pool,
        s3=addressing,
        connect_timeout=10,
        read_timeout=120,
    )
    options: dict[str, Any] = {"config": config}
    if settings.endpoint_url:
        options["endpoint_url"] = settings.endpoint_url
    if settings.region:
        options["region_name"] = settings.region
    client: S3Client = session.client("s3", **options)
    return client


# Content types by name: only what a site holds. Distributions are opaque bytes (never a
# type a client or CDN would decompress: their hashes are of the archive bytes).
HTML = "text/html; charset=utf-8"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_TYPES = {
    ".html": HTML,
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".metadata": "text/plain; charset=utf-8",
    ".asc": "application/pgp-signature",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# latest pages and the rest: short, and revalidated (pip always revalidates).
SHORT = "max-age=60"
_FROZEN = re.compile(r"[^/]+/[0-9]{4}-[0-9]{2}-[0-9]{2}/simple/")


@dataclass(frozen=True, slots=True, kw_only=True)
class Headers:
    """What an object is served with."""

    content_type: str
    cache_control: str

    def as_args(self) -> dict[str, str]:
        """As boto3 ``ExtraArgs``/``CopyObject`` arguments."""
        return {"ContentType": self.content_type, "CacheControl": self.cache_control}


def object_headers(path: str) -> Headers:
    """``ContentType`` and ``CacheControl`` of the site object at ``path`` (relative to
    the site root; a directory object ends in ``/`` and is its ``index.html``).

    Files are content-addressed and materialized snapshot days have ended: both are
    immutable. Simple pages' JSON variant has the PEP 691 type. Never a
    ``ContentEncoding``.
    """
    if path.startswith("files/"):
        name = path.rsplit("/", 1)[-1]
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        kind = _TYPES[suffix] if suffix in (".metadata", ".asc") else "application/octet-stream"
        return Headers(content_type=kind, cache_control=IMMUTABLE)
    if path.endswith("/") or not path:
        kind = HTML
    elif "/simple/" in path and path.endswith("/index.json"):
        kind = SIMPLE_JSON
    else:
        name = path.rsplit("/", 1)[-1]
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        kind = _TYPES.get(suffix, "application/octet-stream")
    cache = IMMUTABLE if _FROZEN.match(path) else SHORT
    return Headers(content_type=kind, cache_control=cache)
