"""A fixture upstream index on 127.0.0.1: real files, PEP 691 JSON or PEP 503 HTML, faults.

``FakeUpstream`` holds projects made of real wheels and sdists (built with
``tests.factory``) and serves them like PyPI does:

- ``/simple/`` (the root) and ``/simple/<name>/``: PEP 691 JSON when the ``Accept`` header
  asks for it, with ``_last-serial`` per project and at the root, ``X-PyPI-Last-Serial``,
  PEP 700 ``size``/``upload-time``, PEP 592 yanks and PEP 658 ``core-metadata``; else
  PEP 503 HTML. Every page has an ``ETag`` and answers ``If-None-Match`` with 304.
  ``html_only=True`` makes an upstream that only speaks HTML and gives no serials.
  ``set_status`` gives a project a PEP 792 status: JSON ``project-status``, HTML
  ``pypi:project-status`` meta tags (API 1.4); a quarantined project lists no files.
- ``/packages/<h[:2]>/<h[2:4]>/<sha256>/<filename>`` and ``….metadata``: the bytes
  (PyPI's layout, which bandersnatch insists on; page links are relative).
- ``/pypi/<name>/json``: the legacy JSON API, enough for bandersnatch (benchmarks).

Every request is logged as ``(method, path, status)``. Faults: ``fail_next(n)`` answers
503 to the next ``n`` requests; ``fail_projects_after(k)`` answers 500 to every project
page after the first ``k`` (an upstream failing midway, until ``heal()``); ``poison()``
serves other bytes for a file than its listed sha256; ``file_delay`` slows downloads.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import sys
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from generator.naming import parse_filename
from tests.servers import serving_in_thread

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class FakeFile:
    """One file of a fake project."""

    filename: str
    data: bytes
    upload_time: datetime
    yanked: bool | str = False
    requires_python: str | None = None
    metadata: bytes | None = None
    poisoned: bytes | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def path(self) -> str:
        s = self.sha256
        return f"/packages/{s[:2]}/{s[2:4]}/{s}/{self.filename}"


@dataclass
class FakeProject:
    display_name: str
    serial: int
    files: dict[str, FakeFile] = field(default_factory=dict)
    # PEP 792: (status, reason) once ``set_status`` gave one; a quarantined project's
    # pages list no files, as PyPI's do.
    status: tuple[str, str] | None = None


def wheel_metadata(data: bytes) -> bytes | None:
    """The ``METADATA`` member of a wheel's bytes (what PEP 658 serves), or None."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            for name in archive.namelist():
                if name.endswith(".dist-info/METADATA") and name.count("/") == 1:
                    return archive.read(name)
    except zipfile.BadZipFile:
        return None
    return None


class FakeUpstream:
    """The model behind the server; safe to change while it serves (one lock)."""

    def __init__(self, *, html_only: bool = False) -> None:
        self.html_only = html_only
        self.projects: dict[str, FakeProject] = {}
        self.serial = 0
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, int]] = []
        self._fail_next = 0
        self._fail_projects_after: int | None = None
        self._project_requests = 0
        self.file_delay = 0.0
        self.port = 0
        self.by_sha256: dict[str, FakeFile] = {}

    # -- content ------------------------------------------------------------------------

    @property
    def index_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def _touch(self, name: str) -> FakeProject:
        self.serial += 1
        project = self.projects[name]
        project.serial = self.serial
        return project

    def add(
        self, path: Path, *, uploaded: datetime | None = None, yanked: bool | str = False,
        requires_python: str | None = None, metadata: bool = True,
        display_name: str | None = None,
    ) -> FakeFile:
        """Publish the file at ``path`` (its project is taken from the filename, split on
        ``display_name`` when given: how a legacy version's name is read)."""
        data = path.read_bytes()
        parsed = parse_filename(path.name, project_hint=display_name)
        meta = wheel_metadata(data) if metadata and path.name.endswith(".whl") else None
        entry = FakeFile(
            filename=path.name, data=data, upload_time=uploaded or datetime.now(UTC),
            yanked=yanked, requires_python=requires_python, metadata=meta,
        )
        with self.lock:
            name = parsed.project
            if name not in self.projects:
                self.projects[name] = FakeProject(display_name=display_name or name, serial=0)
            self.projects[name].files[path.name] = entry
            self.by_sha256[entry.sha256] = entry
            self._touch(name)
        return entry

    def yank(self, project: str, filename: str, reason: bool | str = True) -> None:
        with self.lock:
            self.projects[canonicalize_name(project)].files[filename].yanked = reason
            self._touch(canonicalize_name(project))

    def remove_file(self, project: str, filename: str) -> None:
        with self.lock:
            del self.projects[canonicalize_name(project)].files[filename]
            self._touch(canonicalize_name(project))

    def set_status(self, project: str, status: str, reason: str = "") -> None:
        """Give the project a PEP 792 status (its pages then carry it, API 1.4)."""
        with self.lock:
            self.projects[canonicalize_name(project)].status = (status, reason)
            self._touch(canonicalize_name(project))

    def remove_project(self, project: str) -> None:
        with self.lock:
            del self.projects[canonicalize_name(project)]
            self.serial += 1

    def poison(self, project: str, filename: str) -> None:
        """Serve other bytes for the file than the sha256 its pages list."""
        with self.lock:
            entry = self.projects[canonicalize_name(project)].files[filename]
            entry.poisoned = entry.data + b"tampered"

    def file(self, project: str, filename: str) -> FakeFile:
        return self.projects[canonicalize_name(project)].files[filename]

    # -- faults and the log -------------------------------------------------------------

    def fail_next(self, count: int) -> None:
        with self.lock:
            self._fail_next = count

    def fail_projects_after(self, count: int) -> None:
        with self.lock:
            self._fail_projects_after, self._project_requests = count, 0

    def heal(self) -> None:
        with self.lock:
            self._fail_next, self._fail_projects_after = 0, None

    def requests(self) -> list[tuple[str, str, int]]:
        with self.lock:
            return list(self.log)

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def paths(self, prefix: str = "") -> list[str]:
        return [p for _m, p, _s in self.requests() if p.startswith(prefix)]

    # -- pages --------------------------------------------------------------------------

    def root(self, as_json: bool) -> bytes:
        names = sorted(self.projects)
        if as_json:
            return _json({
                "meta": {"api-version": "1.1", "_last-serial": self.serial},
                "projects": [{"name": self.projects[n].display_name,
                              "_last-serial": self.projects[n].serial} for n in names],
            })
        links = "".join(f'<a href="{n}/">{html.escape(self.projects[n].display_name)}</a>\n'
                        for n in names)
        return f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()

    def project_page(self, name: str, as_json: bool) -> bytes:
        project = self.projects[name]
        files = sorted(project.files.values(), key=lambda f: f.filename)
        if project.status is not None and project.status[0] == "quarantined":
            files = []
        if as_json:
            entries = []
            for f in files:
                entry: dict[str, object] = {
                    "filename": f.filename, "url": f"../..{f.path}",
                    "hashes": {"sha256": f.sha256}, "size": len(f.data),
                    "upload-time": f.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "yanked": f.yanked,
                }
                if f.requires_python:
                    entry["requires-python"] = f.requires_python
                if f.metadata is not None:
                    entry["core-metadata"] = {"sha256": hashlib.sha256(f.metadata).hexdigest()}
                entries.append(entry)
            versions = sorted({parse_filename(f.filename, name).version for f in files})
            document: dict[str, object] = {
                "meta": {"api-version": "1.1", "_last-serial": project.serial},
                "name": name, "files": entries, "versions": versions,
            }
            if project.status is not None:
                status, reason = project.status
                document["meta"] = {"api-version": "1.4", "_last-serial": project.serial}
                document["project-status"] = {"status": status, **({"reason": reason} if reason else {})}
            return _json(document)
        anchors = []
        for f in files:
            attrs = ""
            if f.requires_python:
                attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
            if f.yanked is not False:
                reason = f.yanked if isinstance(f.yanked, str) else ""
                attrs += f' data-yanked="{html.escape(reason)}"'
            if f.metadata is not None:
                attrs += f' data-core-metadata="sha256={hashlib.sha256(f.metadata).hexdigest()}"'
            anchors.append(f'<a href="../..{f.path}#sha256={f.sha256}"{attrs}>{f.filename}</a>')
        body = "<br/>\n".join(anchors)
        head = ""
        if project.status is not None:
            head = (f'<head><meta name="pypi:repository-version" content="1.4">'
                    f'<meta name="pypi:project-status" content="{html.escape(project.status[0])}">'
                    f'<meta name="pypi:project-status-reason" '
                    f'content="{html.escape(project.status[1])}"></head>')
        return f"<!DOCTYPE html><html>{head}<body>\n{body}\n</body></html>\n".encode()

    def legacy_json(self, name: str) -> bytes:
        """``/pypi/<name>/json`` as PyPI shapes it (the parts bandersnatch reads)."""
        project = self.projects[name]
        releases: dict[str, list[dict[str, object]]] = {}
        for f in sorted(project.files.values(), key=lambda f: f.filename):
            parsed = parse_filename(f.filename, name)
            stamp = f.upload_time.strftime("%Y-%m-%dT%H:%M:%S")
            releases.setdefault(parsed.version, []).append({
                "filename": f.filename, "url": f"http://127.0.0.1:{self.port}{f.path}",
                "digests": {"sha256": f.sha256, "md5": hashlib.md5(f.data).hexdigest()},  # noqa: S324
                "size": len(f.data), "upload_time": stamp,
                "upload_time_iso_8601": stamp + ".000000Z",
                "packagetype": parsed.packagetype, "python_version": "py3",
                "requires_python": f.requires_python, "yanked": f.yanked is not False,
                "yanked_reason": f.yanked if isinstance(f.yanked, str) else None,
                "has_sig": False, "comment_text": "", "md5_digest": hashlib.md5(f.data).hexdigest(),  # noqa: S324
            })
        latest = sorted(releases)[-1] if releases else ""
        return _json({
            "info": {"name": project.display_name, "version": latest, "summary": "",
                     "requires_python": None},
            "last_serial": project.serial, "releases": releases,
            "urls": releases.get(latest, []), "vulnerabilities": [],
        })


def _json(document: object) -> bytes:
    return json.dumps(document, sort_keys=True).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK (40 ms a request on Linux), which would dominate every timing.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        upstream = self.server.upstream
        with upstream.lock:
            upstream.log.append((self.command, self.path, status))
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        upstream = self.server.upstream
        path = unquote(urlsplit(self.path).path)
        with upstream.lock:
            if upstream._fail_next > 0:
                upstream._fail_next -= 1
                failing = True
            else:
                failing = False
        if failing:
            self._reply(503, b"503 Service Unavailable (injected)\n")
            return
        if path == "/__requests__":  # benchmarks: how many requests so far (not counted)
            with upstream.lock:
                stats = _json({"count": len(upstream.log)})
            self.send_response(200)
            self.send_header("Content-Length", str(len(stats)))
            self.end_headers()
            self.wfile.write(stats)
        elif path.startswith("/packages/"):
            self._file(path)
        elif path.startswith("/pypi/") and path.endswith("/json"):
            name = canonicalize_name(path.split("/")[2])
            with upstream.lock:
                body = upstream.legacy_json(name) if name in upstream.projects else None
                serial = str(upstream.projects[name].serial) if body else "0"
            if body is None:
                self._reply(404, b"404 Not Found\n")
            else:
                self._reply(200, body, {"Content-Type": "application/json",
                                        "X-PyPI-Last-Serial": serial})
        elif path == "/simple":  # bandersnatch asks for the root without its slash
            self._page("/simple/")
        elif path.startswith("/simple/"):
            self._page(path)
        else:
            self._reply(404, b"404 Not Found\n")

    def _page(self, path: str) -> None:
        upstream = self.server.upstream
        as_json = JSON_TYPE in (self.headers.get("Accept") or "") and not upstream.html_only
        name = path[len("/simple/"):].strip("/")
        if "/" in name:
            self._reply(404, b"404 Not Found\n")
            return
        if name and name != canonicalize_name(name):
            self._reply(301, b"", {"Location": f"/simple/{canonicalize_name(name)}/"})
            return
        with upstream.lock:
            if name and upstream._fail_projects_after is not None:
                upstream._project_requests += 1
                failing = upstream._project_requests > upstream._fail_projects_after
            else:
                failing = False
            found = not name or name in upstream.projects
            if found and not failing:
                body = upstream.project_page(name, as_json) if name else upstream.root(as_json)
                serial = upstream.projects[name].serial if name else upstream.serial
        if failing:
            self._reply(500, b"500 Internal Server Error (injected)\n")
            return
        if not found:
            self._reply(404, b"404 Not Found\n")
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Content-Type": JSON_TYPE if as_json else "text/html"}
        if as_json:
            headers["X-PyPI-Last-Serial"] = str(serial)
        if self.headers.get("If-None-Match") == etag:
            self._reply(304, b"", {"ETag": etag})
            return
        self._reply(200, body, headers)

    def _file(self, path: str) -> None:
        upstream = self.server.upstream
        parts = path.split("/", 5)  # "", "packages", h[:2], h[2:4], sha256, filename
        if len(parts) != 6:
            self._reply(404, b"404 Not Found\n")
            return
        sha256, filename = parts[4], parts[5]
        metadata = filename.endswith(".metadata")
        wanted = filename[: -len(".metadata")] if metadata else filename
        with upstream.lock:
            found = upstream.by_sha256.get(sha256)
            owner = upstream.projects.get(parse_filename(wanted).project) \
                if found is not None and found.filename == wanted else None
            if owner is None or owner.files.get(wanted) is not found:
                found = None
        if found is None or (metadata and found.metadata is None):
            self._reply(404, b"404 Not Found\n")
            return
        if upstream.file_delay:
            time.sleep(upstream.file_delay)
        if metadata:
            assert found.metadata is not None
            self._reply(200, found.metadata, {"Content-Type": "text/plain"})
        else:
            self._reply(200, found.poisoned or found.data,
                        {"Content-Type": "application/octet-stream"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream: FakeUpstream

    def handle_error(self, request: object, client_address: object) -> None:
        # A client gone mid-reply (a sync SIGKILLed by the fault trials) is expected;
        # anything else still prints its traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextlib.contextmanager
def serve_slow_upstream(
    wheels: Iterable[Path], *, uploaded: datetime, file_delay: float
) -> Iterator[FakeUpstream]:
    """Serve one project per wheel, each file taking ``file_delay`` seconds to download:
    a sync long enough to watch (progress) or to interrupt (SIGINT)."""
    upstream = FakeUpstream()
    for wheel in wheels:
        upstream.add(wheel, uploaded=uploaded)
    upstream.file_delay = file_delay
    with serve_upstream(upstream) as served:
        yield served


@contextlib.contextmanager
def serve_upstream(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    """Serve ``upstream`` on a free 127.0.0.1 port until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.upstream = upstream
    with serving_in_thread(server) as upstream.port:
        yield upstream
