"""OSV fixtures in the real OSV JSON schema, and a loopback server of their export zip.

``pysec``/``ghsa`` build advisories as the PyPI advisory database and GitHub publish them
(ids, ``aliases``, ``affected[].package`` of ecosystem ``PyPI``, ``ECOSYSTEM`` ranges,
``versions``, ``severity`` CVSS vectors, ``database_specific.severity``); ``export_zip``
packs them as the OSV project's per-ecosystem export (one ``<id>.json`` per advisory).
``serve_osv`` serves a zip at ``/PyPI/all.zip`` on 127.0.0.1 with an ``ETag`` and
``Last-Modified``, answering ``If-None-Match`` with 304, and logs every request.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.servers import serving_in_thread

CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"


def pysec(
    number: int, package: str, *, introduced: str = "0", fixed: str | None = None,
    last_affected: str | None = None, versions: Sequence[str] = (),
    aliases: Sequence[str] = (), modified: str = "2026-02-01T10:00:00Z",
    summary: str | None = None, withdrawn: str | None = None, **extra: Any,
) -> dict[str, Any]:
    """A PYSEC advisory of ``package`` (PyPI's own advisory database's shape)."""
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed is not None:
        events.append({"fixed": fixed})
    if last_affected is not None:
        events.append({"last_affected": last_affected})
    document: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": f"PYSEC-2026-{number}",
        "modified": modified,
        "published": "2026-01-15T00:00:00Z",
        "aliases": list(aliases),
        "details": summary or f"A flaw in {package}.\nMore details follow.",
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package,
                        "purl": f"pkg:pypi/{package.lower()}"},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
            "versions": list(versions),
        }],
        "references": [{"type": "FIX", "url": "https://git.example.invalid/fix"}],
        **extra,
    }
    if withdrawn is not None:
        document["withdrawn"] = withdrawn
    return document


def ghsa(
    suffix: str, package: str, *, introduced: str = "0", fixed: str | None = None,
    level: str = "HIGH", aliases: Sequence[str] = (), modified: str = "2026-02-02T10:00:00Z",
    summary: str = "Remote code execution",
) -> dict[str, Any]:
    """A GHSA advisory of ``package`` (GitHub's shape: summary, CVSS, a rating)."""
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed is not None:
        events.append({"fixed": fixed})
    return {
        "schema_version": "1.6.0",
        "id": f"GHSA-{suffix}",
        "modified": modified,
        "published": "2026-01-20T00:00:00Z",
        "aliases": list(aliases),
        "summary": summary,
        "details": f"{summary} in {package}.",
        "severity": [{"type": "CVSS_V3", "score": CVSS_HIGH}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
            "database_specific": {"source": "https://github.example.invalid/advisories"},
        }],
        "database_specific": {"cwe_ids": ["CWE-94"], "severity": level,
                              "github_reviewed": True},
    }


def export_zip(advisories: Sequence[dict[str, Any]], *, extra: dict[str, bytes] | None = None
               ) -> bytes:
    """The export zip of ``advisories`` (``<id>.json`` each) and ``extra`` raw members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for document in advisories:
            archive.writestr(f"{document['id']}.json", json.dumps(document, indent=2))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_export(path: Path, advisories: Sequence[dict[str, Any]],
                 extra: dict[str, bytes] | None = None) -> Path:
    path.write_bytes(export_zip(advisories, extra=extra))
    return path


@dataclass
class OsvFeed:
    """What the fixture server serves: the zip's bytes, and the requests it got."""

    body: bytes = b""
    last_modified: str = "Sun, 01 Feb 2026 10:00:00 GMT"
    log: list[tuple[str, int]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/PyPI/all.zip"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:24] + '"'


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        feed = self.server.feed
        if self.path != "/PyPI/all.zip":
            status, body, headers = 404, b"not found\n", {}
        elif self.headers.get("If-None-Match") == feed.etag:
            status, body, headers = 304, b"", {"ETag": feed.etag}
        else:
            status, body = 200, feed.body
            headers = {"ETag": feed.etag, "Last-Modified": feed.last_modified,
                       "Content-Type": "application/zip"}
        feed.log.append((self.path, status))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    feed: OsvFeed


@contextlib.contextmanager
def serve_osv(feed: OsvFeed) -> Iterator[OsvFeed]:
    """Serve ``feed`` on a free 127.0.0.1 port until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.feed = feed
    with serving_in_thread(server) as feed.port:
        yield feed
