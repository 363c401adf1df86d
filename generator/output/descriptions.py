"""Descriptions rendered in helper processes with a deadline, cached by content hash.

``markup.render_description`` bounds what it can see in the text (size, nesting), but a
renderer's time cannot be bounded from inside: cmark-gfm is C code, and both it and
docutils have inputs that take seconds. So every description is rendered by a helper
process (``python -c …`` running ``worker_main``) that is killed when it misses the
``deadline``; the page then shows the text as plain text under a note. A helper that
dies (a crash, the memory limit) is replaced; whatever happens, ``render`` returns HTML.

Results are kept by the sha256 of the content type and text (at most ``max_cached``
entries and ``max_cached_bytes``), so rendering a description before the generation lock
(the upload API does) makes the render inside it a lookup. Helpers are started on demand
(one per concurrent render, at most ``max_workers``) and reused; the pool is thread-safe.

Frames on the pipes: a 4-byte big-endian length, then UTF-8 JSON (requests:
``{"text", "type"}``) or HTML (answers). A helper writes one byte when it is ready.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from functools import cache

from generator.render.markup import plain_description, render_description
from generator.workers import worker_env

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 2.0
# A helper imports docutils, cmark-gfm, nh3 and Pygments before it says it is ready.
STARTUP_TIMEOUT = 60.0
# Address space of a helper: a description (512 KiB at most) never needs more.
WORKER_MEMORY = 1024 * 1024 * 1024
_READY = b"R"
_LENGTH = struct.Struct(">I")
_WORKER = "import sys; from generator.output.descriptions import worker_main; sys.exit(worker_main())"


class _Worker:
    """One helper process and its pipes; used by one thread at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=worker_env(), start_new_session=True,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        # Why the last render returned None: "deadline" or "stopped".
        self.failure = ""
        if self._read_exactly(1, time.monotonic() + STARTUP_TIMEOUT) != _READY:
            self.kill()
            raise OSError("the description helper did not start")

    def render(self, text: str, content_type: str, deadline: float) -> str | None:
        """The helper's HTML, or None when it missed ``deadline`` (a monotonic time) or
        died (``failure`` says which); then the helper is gone and ``alive`` is False."""
        request = json.dumps({"text": text, "type": content_type}).encode()
        try:
            self.stdin.write(_LENGTH.pack(len(request)) + request)
            self.stdin.flush()
        except OSError:
            self.failure = "stopped"
            self.kill()
            return None
        header = self._read_exactly(_LENGTH.size, deadline)
        if header is None:
            return None
        body = self._read_exactly(_LENGTH.unpack(header)[0], deadline)
        return None if body is None else body.decode()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _read_exactly(self, size: int, deadline: float) -> bytes | None:
        chunks, wanted = [], size
        fd = self.stdout.fileno()
        while wanted:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.failure = "deadline"
                self.kill()
                return None
            chunk = os.read(fd, min(wanted, 1 << 20))
            if not chunk:
                self.failure = "stopped"
                self.kill()
                return None
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        for pipe in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


class DescriptionPool:
    """Renders descriptions within ``deadline`` seconds each; see the module docstring."""

    def __init__(
        self, *, deadline: float = DEFAULT_DEADLINE, max_workers: int = 4,
        max_cached: int = 256, max_cached_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.deadline = deadline
        self.max_workers = max_workers
        self.max_cached, self.max_cached_bytes = max_cached, max_cached_bytes
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._running = 0
        self._cache: OrderedDict[bytes, str] = OrderedDict()
        self._cached_bytes = 0

    def render(self, text: str, content_type: str = "") -> str:
        """Sanitized HTML for a description, as ``markup.render_description`` makes it,
        or the plain text with a note when that takes longer than the deadline."""
        if not text.strip():
            return ""
        key = hashlib.sha256(f"{content_type}\0{text}".encode()).digest()
        with self._lock:
            if (found := self._cache.get(key)) is not None:
                self._cache.move_to_end(key)
                return found
        rendered = self._render(text, content_type)
        self._remember(key, rendered)
        return rendered

    def _render(self, text: str, content_type: str) -> str:
        try:
            worker = self._acquire()
        except OSError as e:
            log.warning("descriptions are shown as plain text: %s", e)
            return plain_description(text, "the formatter is not available")
        deadline = time.monotonic() + self.deadline
        try:
            rendered = worker.render(text, content_type, deadline)
        finally:
            self._release(worker)
        if rendered is not None:
            return rendered
        if worker.failure == "deadline":
            return plain_description(
                text, f"formatting it took longer than {self.deadline:g} seconds"
            )
        return plain_description(text, "the formatter stopped while formatting it")

    def _acquire(self) -> _Worker:
        with self._lock:
            while not self._idle and self._running >= self.max_workers:
                self._lock.wait()
            self._running += 1
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                worker.kill()
        try:
            return _Worker()
        except BaseException:
            with self._lock:
                self._running -= 1
                self._lock.notify()
            raise

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._running -= 1
            if worker.alive:
                self._idle.append(worker)
            self._lock.notify()

    def _remember(self, key: bytes, rendered: str) -> None:
        size = len(rendered)
        if size > self.max_cached_bytes:
            return
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = rendered
            self._cached_bytes += size
            while len(self._cache) > self.max_cached or self._cached_bytes > self.max_cached_bytes:
                _, dropped = self._cache.popitem(last=False)
                self._cached_bytes -= len(dropped)

    def close(self) -> None:
        """Stop the idle helpers (a busy one stops when its render returns)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


@cache
def default_pool(deadline: float = DEFAULT_DEADLINE) -> DescriptionPool:
    """The process's pool for ``deadline``, closed when the process exits."""
    pool = DescriptionPool(deadline=deadline)
    atexit.register(pool.close)
    return pool


def worker_main() -> int:
    """A helper: render each request until standard input closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    except (ImportError, ValueError, OSError):
        pass
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sink.write(_READY)
    sink.flush()
    while header := source.read(_LENGTH.size):
        if len(header) < _LENGTH.size:
            return 1
        request = json.loads(source.read(_LENGTH.unpack(header)[0]))
        try:
            answer = render_description(str(request["text"]), str(request["type"]))
        except MemoryError:
            answer = plain_description(str(request["text"]), "formatting it needs too much memory")
        data = answer.encode()
        sink.write(_LENGTH.pack(len(data)) + data)
        sink.flush()
    return 0
