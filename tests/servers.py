"""Real servers on 127.0.0.1 for tests: nginx with our configuration, and ``timeshelf serve``.

Everything here starts real processes and talks plain HTTP (``http.client``); nothing
is mocked. Typical use::

    config = make_installation(tmp_path / "inst")          # timeshelf init
    with run_timeshelf_serve(config) as sidecar:            # a free port is chosen
        conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                              sidecar=sidecar.address)
        with run_nginx(conf, tmp_path / "nginx") as nginx:
            reply = http_get(nginx.url("/python/latest/simple/"), accept="text/html")

A ``Server`` knows its ``base_url`` (``http://127.0.0.1:PORT``) and builds URLs with
``url(path)``. ``run_*`` context managers stop the process on exit (SIGTERM, then
SIGKILL) and raise ``ServerFailed`` with the process's output when it does not answer.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

NGINX = os.environ.get("TIMESHELF_TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 20.0


class ServerFailed(RuntimeError):
    """A server process exited or never answered; the message holds its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving_in_thread(server: socketserver.TCPServer) -> Iterator[int]:
    """Run an in-process fixture server (an upstream index, an OSV feed) in a thread
    until the block ends; yields its port."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def timeshelf_command(*args: str) -> list[str]:
    """argv running the ``timeshelf`` CLI of this checkout with the test interpreter."""
    return [sys.executable, "-m", "uploader.cli", *args]


def run_timeshelf(
    *args: str, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a subprocess; with ``check`` a non-zero exit fails with its stderr."""
    done = subprocess.run(
        timeshelf_command(*args), capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"timeshelf {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        )
    return done


def make_installation(
    directory: Path, *dists: Path, env: Mapping[str, str] | None = None
) -> Path:
    """``timeshelf init DIRECTORY`` (and ``add --source local DISTS``); the config path.

    ``env`` is added to the environment of both commands (e.g. ``TIMESHELF_NOW``).
    """
    run_timeshelf("init", str(directory), env=env)
    config = directory / "timeshelf.toml"
    if dists:
        run_timeshelf("--config", str(config), "add", "--source", "local",
                      *(str(d) for d in dists), env=env)
    return config


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One HTTP response, read whole. Header names are case-insensitive via ``header``."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or ``None``."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def vary(self) -> set[str]:
        """The header names in all ``Vary`` headers, lowercased."""
        return {
            part.strip().lower() for v in self.header_all("Vary") for part in v.split(",")
            if part.strip()
        }


def request(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30.0,
) -> Reply:
    """Send one request to an ``http://127.0.0.1:PORT/...`` URL; redirects are not followed.

    Without an ``Accept`` in ``headers`` none is sent (``http.client`` adds none).
    """
    match = re.fullmatch(r"http://([^/:]+):([0-9]+)(/.*)?", url)
    if match is None:
        raise ValueError(f"not an http://HOST:PORT/ URL: {url!r}")
    connection = http.client.HTTPConnection(match[1], int(match[2]), timeout=timeout)
    try:
        connection.request(method, match[3] or "/", body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
        return Reply(status=response.status, headers=tuple(response.getheaders()), body=data)
    finally:
        connection.close()


def http_get(url: str, *, accept: str | None = None, **headers: str) -> Reply:
    """GET ``url`` with an optional ``Accept`` and extra headers (``_`` in names → ``-``)."""
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if accept is not None:
        sent["Accept"] = accept
    return request(url, headers=sent)


@dataclass(slots=True, kw_only=True)
class Server:
    """A running server process listening on ``127.0.0.1:port``."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    extra: dict[str, Path] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def url(self, path: str) -> str:
        """``base_url`` + ``path`` (which starts with ``/``)."""
        return self.base_url + path

    def output(self) -> str:
        """What the process wrote to stdout and stderr so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def wait_until_answering(server: Server, timeout: float = STARTUP_TIMEOUT) -> None:
    """Block until ``server`` answers any HTTP request; ``ServerFailed`` if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise ServerFailed(
                f"{server.name} exited with {server.process.returncode}:\n{server.output()}"
            )
        try:
            request(server.url("/"), method="HEAD", timeout=2.0)
            return
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise ServerFailed(
                    f"{server.name} did not answer on {server.address} within {timeout}s:\n"
                    f"{server.output()}"
                ) from None
            time.sleep(0.05)


def stop(server: Server, timeout: float = 10.0) -> None:
    """Stop the process: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout)


@contextlib.contextmanager
def _running(name: str, argv: list[str], port: int, env: Mapping[str, str] | None,
             cwd: Path | None = None) -> Iterator[Server]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        server = Server(name=name, port=port, process=process, log=log)
        try:
            wait_until_answering(server)
            yield server
        finally:
            stop(server)


def nginx_conf_for(
    config: Path, *, listen: str, sidecar: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """``timeshelf --config CONFIG nginx-conf --standalone`` output (run as a subprocess)."""
    args = ["--config", str(config), "nginx-conf", "--standalone", "--listen", listen]
    if sidecar is not None:
        args += ["--sidecar", sidecar]
    return run_timeshelf(*args, env=env).stdout


def listen_port(conf: str) -> int:
    """The port of the first ``listen 127.0.0.1:PORT;`` in an nginx configuration."""
    match = re.search(r"^\s*listen\s+127\.0\.0\.1:([0-9]+)(?:\s+ssl)?\s*;", conf, re.MULTILINE)
    if match is None:
        raise ValueError("the configuration has no `listen 127.0.0.1:PORT;`")
    return int(match[1])


@contextlib.contextmanager
def run_nginx(
    conf: str, prefix: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Run the real nginx in the foreground with the standalone configuration ``conf``.

    ``prefix`` (created if missing) receives ``nginx.conf``, the pid file, ``access.log``
    and nginx's temporary directories; the port is read from ``conf``'s ``listen``.
    ``Server.extra["access_log"]`` is the access log's path. Stopped on exit.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(conf, encoding="utf-8")
    check = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(prefix), "-c", str(conf_path), "-e", "stderr"],
        capture_output=True, text=True, timeout=60,
    )
    if check.returncode != 0:
        raise ServerFailed(f"nginx -t refused the configuration:\n{check.stderr}")
    argv = [NGINX, "-p", str(prefix), "-c", str(conf_path), "-e", "stderr"]
    with _running("nginx", argv, listen_port(conf), env) as server:
        server.extra["access_log"] = prefix / "access.log"
        yield server


@contextlib.contextmanager
def run_timeshelf_serve(
    config: Path, *, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Run ``timeshelf --config CONFIG serve --listen 127.0.0.1:PORT`` as a subprocess.

    ``port`` defaults to a free one. ``env`` is added to the environment (for example
    ``TIMESHELF_NOW``). Stopped on exit.
    """
    chosen = port or free_port()
    argv = timeshelf_command("--config", str(config), "serve", "--listen",
                             f"{LOOPBACK}:{chosen}")
    with _running("timeshelf serve", argv, chosen, env) as server:
        yield server
