"""Fixtures for the upload tests: a real sidecar on 127.0.0.1, requests crafted byte by byte.

The sidecar is ``timeshelf serve`` (a subprocess with its own clock, ``TIMESHELF_NOW``)
over a fresh ``timeshelf init`` installation with a small ``[server] max_request_size``,
a second local source, a pypi mirror source and a set of tokens. Requests go over a raw
socket (``send``): the tests build every multipart byte themselves (``Part``,
``multipart``, ``upload_parts``), so nothing between them and the server fixes a broken
request up, and the raw response is kept to look for injected headers.

``Footprint`` is everything an upload can leave behind (blobs in the store, catalog file
rows, projects and events, staging files in ``<installation>/tmp``); a refused upload
must leave it unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import os
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from generator.cli.main import main
from generator.clock import ENV_NOW, format_timestamp
from tests.servers import (
    LOOPBACK,
    Server,
    free_port,
    stop,
    timeshelf_command,
    wait_until_answering,
)

# The server's clock for the whole module; tokens are issued at the same instant.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Small enough that an oversize body is cheap to send, big enough for a 2 MB README.
MAX_REQUEST_SIZE = 4 * 1024 * 1024
# uv's Accept header on uploads (astral-sh/uv crates/uv-publish/src/lib.rs).
UV_ACCEPT = "application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7"
REPO_ROOT = Path(__file__).resolve().parents[2]


# -- the CLI, in-process --------------------------------------------------------------------


def timeshelf(config: Path, *args: str, now: datetime = NOW) -> str:
    """Run ``timeshelf --config CONFIG ARGS`` in-process at ``now``; its stdout.

    Fails the test with stderr when it exits non-zero.
    """
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_NOW, format_timestamp(now))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--config", str(config), *args])
    if code != 0:
        pytest.fail(f"timeshelf {' '.join(args)} exited {code}: {err.getvalue()}")
    return out.getvalue()


def create_token(config: Path, *, sources: str = "local", now: datetime = NOW,
                 expires: str = "30d", scope: str = "upload", description: str = "tests") -> str:
    """A fresh token from ``timeshelf create token -q``."""
    return timeshelf(
        config, "create", "token", "--description", description, "--sources", sources,
        "--expires", expires, "--scope", scope, "-q", now=now,
    ).strip()


def token_id(token: str) -> str:
    """The ``jti`` of a token (read without checking the signature)."""
    payload = token.removeprefix("tsh_").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


def basic(username: str, password: str) -> str:
    """An ``Authorization`` value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# -- multipart bodies, by hand ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """One multipart part; ``disposition`` replaces the whole Content-Disposition value."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    disposition: bytes | None = None


BOUNDARY = "----timeshelfTestBoundary7MA4YWxkTrZu0gW"


def multipart(parts: Sequence[Part], boundary: str = BOUNDARY) -> bytes:
    """The ``multipart/form-data`` body of ``parts`` (CRLF line ends, as RFC 7578 says)."""
    out = bytearray()
    for part in parts:
        out += f"--{boundary}\r\n".encode()
        if part.disposition is not None:
            disposition = part.disposition
        else:
            disposition = f'form-data; name="{part.name}"'.encode()
            if part.filename is not None:
                # Quoted as urllib3 (twine, flit) quotes it: HTML5 style.
                quoted = part.filename.replace("\\", "\\\\").replace('"', "%22")
                disposition += b'; filename="' + quoted.encode("utf-8") + b'"'
        out += b"Content-Disposition: " + disposition + b"\r\n"
        if part.content_type is not None:
            out += f"Content-Type: {part.content_type}\r\n".encode()
        out += b"\r\n" + part.data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def fields(**values: str) -> list[Part]:
    """Plain text parts; a ``_`` leading a keyword stands for ``:`` (``_action``)."""
    return [Part(":" + k[1:] if k.startswith("_") else k, v.encode()) for k, v in values.items()]


def describe(filename: str) -> tuple[str, str, str, str]:
    """``(name, version, filetype, pyversion)`` as twine would send them for a filename."""
    if filename.endswith(".whl"):
        name, version, _build, tags = parse_wheel_filename(filename)
        pyversion = ".".join(sorted({t.interpreter for t in tags}))
        return name, str(version), "bdist_wheel", pyversion
    name, version = parse_sdist_filename(filename)
    return name, str(version), "sdist", "source"


def upload_parts(
    path: Path,
    *,
    data: bytes | None = None,
    filename: str | None = None,
    overrides: Mapping[str, str | None] | None = None,
    extra: Sequence[Part] = (),
    content_type: str | None = "application/octet-stream",
    digests: Sequence[str] = ("sha256", "blake2_256"),
) -> list[Part]:
    """The form twine sends for the file at ``path``.

    ``data``/``filename`` replace the bytes/name sent; ``overrides`` replace fields (a
    value of ``None`` drops the field); ``digests`` are computed over the bytes sent.
    """
    body = path.read_bytes() if data is None else data
    sent_name = filename if filename is not None else path.name
    name, version, filetype, pyversion = describe(path.name)
    values: dict[str, str | None] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": filetype,
        "pyversion": pyversion,
        "summary": "A test package",
    }
    for algorithm in digests:
        hasher = (hashlib.blake2b(body, digest_size=32) if algorithm == "blake2_256"
                  else hashlib.new(algorithm, body))
        values[f"{algorithm}_digest"] = hasher.hexdigest()
    values.update(overrides or {})
    parts = [Part(k, v.encode()) for k, v in values.items() if v is not None]
    parts.append(Part("content", body, filename=sent_name, content_type=content_type))
    return [*parts, *extra]


# -- raw HTTP ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawReply:
    """A response read off the socket: status line, headers, body and every raw byte."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def json(self) -> dict[str, object]:
        document = json.loads(self.body)
        assert isinstance(document, dict), document
        return document


def parse_reply(raw: bytes) -> RawReply:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no complete response: {raw[:500]!r}")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    assert version.startswith("HTTP/1."), lines[0]
    code, _, reason = rest.partition(" ")
    headers = tuple(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])
    )
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), None)
    if length is not None:
        body = body[:length]
    return RawReply(status=int(code), reason=reason, headers=headers, body=body, raw=raw)


def send_raw(port: int, data: bytes, *, close_write: bool = False,
             timeout: float = 60.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def build_request(
    method: str, path: str, *, body: bytes = b"", headers: Mapping[str, str] | None = None,
    content_length: int | None = None,
) -> bytes:
    """A whole HTTP/1.1 request (``Connection: close``) as bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or content_length is not None or method == "POST":
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- what an upload leaves behind -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Footprint:
    """Blobs, catalog rows and events, and staging files: all an upload can leave."""

    blobs: frozenset[str]
    files: int
    projects: int
    events: int
    staging: frozenset[str]


# -- checks ---------------------------------------------------------------------------------


def reason_of(message: str) -> str:
    """The reason phrase the sidecar makes of a message (one line, printable ASCII)."""
    flat = " ".join(message.split())
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in flat)[:400]


def assert_refused(sidecar: Sidecar, reply: RawReply, status: int, message: str) -> None:
    """``status``, ``message`` in the reason phrase and in uv's JSON, no token echoed."""
    assert reply.status == status, reply.raw[:800]
    assert message.lower() in reply.reason.lower(), reply.reason
    assert reply.header("Content-Type") == "application/json", reply.headers
    document = reply.json()
    assert set(document) == {"message", "code", "title"}, document
    text = document["message"]
    assert isinstance(text, str)
    assert message.lower() in text.lower(), text
    assert document["code"] == f"{status} {text}"
    assert reply.reason == reason_of(text)
    assert_no_token(sidecar, reply)


def assert_no_token(sidecar: Sidecar, reply: RawReply) -> None:
    for name, token in sidecar.tokens.items():
        assert token.encode() not in reply.raw, f"the {name} token is echoed"
        assert token.removeprefix("tsh_").encode() not in reply.raw


def assert_nothing_stored(sidecar: Sidecar, before: Footprint) -> None:
    after = sidecar.footprint()
    assert after.blobs == before.blobs, after.blobs ^ before.blobs
    assert (after.files, after.projects, after.events) == (
        before.files, before.projects, before.events
    )
    assert after.staging == frozenset(), after.staging


def project_page(sidecar: Sidecar, project: str) -> str:
    page = sidecar.output / "python" / "latest" / "simple" / project / "index.html"
    return page.read_text(encoding="utf-8")


def assert_stored(sidecar: Sidecar, dist: Path, project: str, *, data: bytes | None = None,
                  filename: str | None = None) -> None:
    """The file is in the store with its bytes and linked from the regenerated page."""
    body = dist.read_bytes() if data is None else data
    name = filename or dist.name
    digest = hashlib.sha256(body).hexdigest()
    blob = sidecar.store / digest[:2] / digest[2:4] / digest / name
    assert blob.read_bytes() == body
    assert f"{name}#sha256={digest}" in html.unescape(project_page(sidecar, project))


# -- the sidecar ---------------------------------------------------------------------------


@dataclass
class Sidecar:
    """A running sidecar over its own installation, with tokens for the tests."""

    home: Path
    config: Path
    server: Server
    tokens: dict[str, str] = field(default_factory=dict)
    dists: Path = field(default_factory=Path)
    _count: int = 0

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def store(self) -> Path:
        return self.home / "site" / "files"

    @property
    def output(self) -> Path:
        return self.home / "site"

    def fresh_dir(self) -> Path:
        """A new directory for distributions (files that must share a name with another)."""
        self._count += 1
        path = self.dists / f"d{self._count}"
        path.mkdir(parents=True)
        return path

    def log(self) -> str:
        return self.server.output()

    def footprint(self) -> Footprint:
        blobs = frozenset(
            str(p.relative_to(self.store)) for p in self.store.rglob("*") if p.is_file()
        )
        staging_dir = self.home / "tmp"
        staging = frozenset(
            p.name for p in staging_dir.iterdir()
        ) if staging_dir.is_dir() else frozenset()
        db = sqlite3.connect(self.home / "catalog.sqlite3", timeout=30)
        try:
            counts = [
                db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("files", "projects", "events")
            ]
        finally:
            db.close()
        return Footprint(blobs=blobs, files=counts[0], projects=counts[1], events=counts[2],
                         staging=staging)

    def post(
        self,
        parts: Sequence[Part] | None = None,
        *,
        source: str = "local",
        path: str | None = None,
        holder: str | None = "local",
        authorization: str | None = None,
        accept: str | None = UV_ACCEPT,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawReply:
        """POST a multipart form to the upload URL of ``source``.

        ``holder`` names a token of ``tokens`` (sent as ``__token__`` Basic auth) unless
        ``authorization`` gives the header itself; ``None`` for both sends none.
        """
        sent: dict[str, str] = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        if accept is not None:
            sent["Accept"] = accept
        if authorization is not None:
            sent["Authorization"] = authorization
        elif holder is not None:
            sent["Authorization"] = basic("__token__", self.tokens.get(holder, holder))
        sent.update(headers or {})
        data = body if body is not None else multipart(parts or [])
        request = build_request("POST", path or f"/upload/pypi/{source}/", body=data,
                                headers=sent)
        return parse_reply(send_raw(self.port, request))

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> RawReply:
        return parse_reply(send_raw(self.port, build_request("GET", path, headers=headers)))


def start_installation(home: Path) -> Path:
    """``timeshelf init HOME`` at ``NOW``, with the small request limit; the config path."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_NOW, format_timestamp(NOW))
        with contextlib.redirect_stderr(io.StringIO()):
            assert main(["init", str(home)]) == 0
    config = home / "timeshelf.toml"
    text = config.read_text(encoding="utf-8")
    assert "max_request_size = 209715200" in text
    config.write_text(
        text.replace("max_request_size = 209715200", f"max_request_size = {MAX_REQUEST_SIZE}"),
        encoding="utf-8",
    )
    return config


@contextlib.contextmanager
def _serve(config: Path) -> Iterator[Server]:
    """``timeshelf serve`` at ``NOW`` on a free port; its output is kept for the tests."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMESHELF_")}
    env[ENV_NOW] = format_timestamp(NOW)
    argv = timeshelf_command("--config", str(config), "serve", "--listen", f"{LOOPBACK}:{port}")
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=REPO_ROOT)
        server = Server(name="timeshelf serve", port=port, process=process, log=log)
        try:
            wait_until_answering(server)
            yield server
        finally:
            stop(server)


def start_sidecar(
    home: Path, dists: Path, settings: Mapping[str, str] | None = None
) -> contextlib.AbstractContextManager[Sidecar]:
    """An installation in ``home`` (sources local, other, mirror; tokens) and its sidecar.

    Tokens: ``local``, ``other`` (sources of that name), ``all`` (``*``), ``deploy``
    (scope deploy only), ``expired`` (expired a day before ``NOW``). ``settings`` replace
    lines of the configuration ``timeshelf init`` wrote (old line → new line).
    """

    @contextlib.contextmanager
    def started() -> Iterator[Sidecar]:
        config = start_installation(home)
        text = config.read_text(encoding="utf-8")
        for old, new in (settings or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        config.write_text(text, encoding="utf-8")
        timeshelf(config, "create", "source", "--name", "other", "--type", "local-python")
        timeshelf(config, "create", "source", "--name", "mirror", "--type", "pypi",
                  "--upstream", "http://127.0.0.1:9/simple/")
        tokens = {
            "local": create_token(config, sources="local"),
            "other": create_token(config, sources="other"),
            "all": create_token(config, sources="*"),
            "deploy": create_token(config, sources="local", scope="deploy"),
            "expired": create_token(config, now=datetime(2026, 2, 1, tzinfo=UTC), expires="1d"),
        }
        dists.mkdir(parents=True, exist_ok=True)
        with _serve(config) as server:
            yield Sidecar(home=home, config=config, server=server, tokens=tokens, dists=dists)

    return started()


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """One installation and sidecar for the test module."""
    home = tmp_path_factory.mktemp("sidecar") / "inst"
    dists = tmp_path_factory.mktemp("uploads")
    with start_sidecar(home, dists) as running:
        yield running
        log = running.log()
    for name, token in running.tokens.items():
        assert token not in log, f"the {name} token appears in the server's output"
        assert token.removeprefix("tsh_") not in log
