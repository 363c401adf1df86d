"""A small HTTP/1.1 client for talking to an upstream index: kept-alive, retrying, counted.

Standard library only (``http.client``): each thread keeps one persistent connection per
host, so a pool of workers fetching project pages pays one TCP (and TLS) handshake each,
not one per request. Requests are retried with exponential backoff on connection
errors, timeouts and the statuses an overloaded server answers (429, 500, 502, 503,
504); other statuses are returned to the caller. Proxies come from the environment
(``http_proxy``/``https_proxy``/``no_proxy``), as pip's would. Every attempt is counted:
the mirror reports how many requests a sync made.
"""

from __future__ import annotations

import gzip
import http.client
import random
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

from generator import __version__
from generator.errors import TimeshelfError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"timeshelf/{__version__}"
_CHUNK = 1 << 16


class Sink(Protocol):
    """Where a streamed body goes: written in chunks, rewound and emptied for a retry."""

    def write(self, data: bytes, /) -> int: ...

    def seek(self, offset: int, /) -> int: ...

    def truncate(self) -> int: ...


class UpstreamUnavailable(TimeshelfError, OSError, status=502):
    """The upstream did not answer usefully after every retry; the message says how."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """A response read whole (``headers`` with lowercase names; ``url`` after redirects)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class Counters:
    """Requests sent (every attempt) and body bytes received, across threads."""

    requests: int = 0
    bytes: int = 0


class HttpClient:
    """Thread-safe GETs with retries; one kept-alive connection per thread and host."""

    def __init__(
        self, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._sleep = sleep
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self.counters = Counters()
        self._ssl = ssl.create_default_context()
        self._opened: list[http.client.HTTPConnection] = []

    # -- connections --------------------------------------------------------------------

    def _connection(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """(connection, through_proxy) for ``scheme://netloc``, reused within this thread."""
        pool: dict[tuple[str, str], tuple[http.client.HTTPConnection, bool]] = getattr(
            self._local, "pool", None
        ) or {}
        self._local.pool = pool
        key = (scheme, netloc)
        if key not in pool:
            pool[key] = self._open(scheme, netloc)
            with self._count_lock:
                self._opened.append(pool[key][0])
        return pool[key]

    def _open(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        host = netloc.rpartition("@")[2]
        proxy = getproxies().get(scheme) if not proxy_bypass(host.split(":")[0]) else None
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            proxy_host, proxy_port = parts.hostname or "", parts.port or 80
            if scheme == "https":
                tunnel = http.client.HTTPSConnection(
                    proxy_host, proxy_port, timeout=self.timeout, context=self._ssl
                )
                tunnel.set_tunnel(host)
                return tunnel, False
            return http.client.HTTPConnection(proxy_host, proxy_port, timeout=self.timeout), True
        if scheme == "https":
            return http.client.HTTPSConnection(host, timeout=self.timeout, context=self._ssl), False
        if scheme != "http":
            raise UpstreamUnavailable(
                f"unsupported URL scheme {scheme!r}: the upstream must be http:// or https://"
            )
        return http.client.HTTPConnection(host, timeout=self.timeout), False

    def _drop(self, scheme: str, netloc: str) -> None:
        pool = getattr(self._local, "pool", {})
        entry = pool.pop((scheme, netloc), None)
        if entry is not None:
            entry[0].close()

    def close_thread(self) -> None:
        """Close the calling thread's connections (a sidecar thread after a rare fetch)."""
        pool = getattr(self._local, "pool", {})
        with self._count_lock:
            mine = {id(c) for c, _proxy in pool.values()}
            self._opened = [c for c in self._opened if id(c) not in mine]
        for connection, _proxy in pool.values():
            connection.close()
        self._local.pool = {}

    def close(self) -> None:
        """Close every connection this client opened, in any thread (call it when no
        request is in flight: a worker pool has ended)."""
        with self._count_lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        self._local.pool = {}

    # -- requests -----------------------------------------------------------------------

    def _count(self, requests: int = 0, size: int = 0) -> None:
        with self._count_lock:
            self.counters.requests += requests
            self.counters.bytes += size

    def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], sink: Sink | None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        connection, proxied = self._connection(parts.scheme, parts.netloc)
        target = url if proxied else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {"User-Agent": USER_AGENT, **headers}
        self._count(requests=1)
        try:
            connection.request(method, target, headers=sent)
            response = connection.getresponse()
            status = response.status
            received = {k.lower(): v for k, v in response.getheaders()}
            if sink is not None and status == 200:
                while chunk := response.read(_CHUNK):
                    sink.write(chunk)
                    self._count(size=len(chunk))
                body = b""
            else:
                body = response.read()
                self._count(size=len(body))
            if received.get("connection", "").lower() == "close":
                self._drop(parts.scheme, parts.netloc)
            return status, received, body
        except BaseException:
            self._drop(parts.scheme, parts.netloc)
            raise

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """One ``method`` request (``HEAD``: headers only), retried like ``get``."""
        return self.get(url, headers, method=method)

    def get(
        self, url: str, headers: Mapping[str, str] | None = None, *,
        sink: Sink | None = None, max_redirects: int = 5, method: str = "GET",
    ) -> Response:
        """GET ``url``, following redirects; retried as the module docstring says.

        With ``sink``, a 200 body is streamed into it (a retry truncates it first) and
        ``Response.body`` is empty. Raises ``UpstreamUnavailable`` when every attempt
        failed with a connection error or a timeout, or redirects loop.
        """
        wanted = dict(headers or {})
        if sink is None:
            wanted.setdefault("Accept-Encoding", "gzip")
        for _redirect in range(max_redirects + 1):
            status, received, body = self._with_retries(method, url, wanted, sink)
            if status in (301, 302, 303, 307, 308) and received.get("location"):
                url = urljoin(url, received["location"])
                continue
            encoding = received.get("content-encoding", "").lower()
            if encoding in ("gzip", "x-gzip", "deflate") and body:
                try:
                    body = gzip.decompress(body) if "gzip" in encoding else zlib.decompress(body)
                except (OSError, zlib.error, EOFError) as e:
                    raise UpstreamUnavailable(f"{url}: a corrupt {encoding} body ({e})") from e
            return Response(status=status, headers=received, body=body, url=url)
        raise UpstreamUnavailable(f"{url}: more than {max_redirects} redirects")

    def _with_retries(
        self, method: str, url: str, headers: Mapping[str, str], sink: Sink | None
    ) -> tuple[int, dict[str, str], bytes]:
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                # Exponential backoff with jitter, so a pool of workers does not return
                # to an overloaded upstream in lockstep.
                self._sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))  # noqa: S311
            if sink is not None:
                sink.seek(0)
                sink.truncate()
            try:
                status, received, body = self._attempt(method, url, headers, sink)
            except (OSError, http.client.HTTPException) as e:
                problem = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                continue
            if status in RETRY_STATUSES and attempt < self.retries:
                problem = f"HTTP {status}"
                continue
            return status, received, body
        raise UpstreamUnavailable(
            f"{url}: no answer after {self.retries + 1} attempts ({problem})"
        )


def validators(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Conditional-request headers for a response's ``ETag`` and ``Last-Modified``."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
