"""Background tasks of the sidecar (environment builds) and their logs.

A task runs in a thread; its log is kept in memory for polling and appended to
``<directory>/<id>.log`` as it grows, and its final status goes to ``<id>.json``, so a
finished task can still be read after a restart. A task whose log exists without a
status was cut short by a restart: it reads as failed.

Polling follows the shape of the server users know (``GET /__api__/v1/tasks/{id}``):
a ``TaskView`` (``id``, ``finished``, ``code``, ``error``, ``output``, ``last``, …), where
``output`` holds the lines from ``first`` on and ``last`` is where the next poll starts;
the API answers its fields as a JSON object.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ID = re.compile(r"[0-9a-f]{32}")
_RESTARTED = "the server stopped before the task finished"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskView:
    """A task as one poll sees it: its status, the log lines from ``first`` on, ``last``
    (the number of lines so far: where the next poll starts) and ``elapsed`` seconds."""

    id: str
    bundle_id: str
    finished: bool
    code: int | None
    error: str
    environment: str | None
    started: float
    ended: float | None
    output: tuple[str, ...]
    last: int
    elapsed: float


class Task:
    """One task: its log lines and, once finished, its exit code and error."""

    def __init__(self, task_id: str, directory: Path, bundle_id: str = "") -> None:
        self.id = task_id
        self.bundle_id = bundle_id
        self.environment: str | None = None
        self.finished = False
        self.code: int | None = None
        self.error = ""
        self.started = time.time()
        self.ended: float | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._directory = directory
        self._done = threading.Event()

    def log(self, line: str) -> None:
        """Append a line (thread-safe), in memory and on disk."""
        with self._lock:
            self._lines.append(line)
            with open(self._directory / f"{self.id}.log", "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def finish(self, *, code: int, error: str = "", environment: str | None = None) -> None:
        """Record the outcome (0 is success) and write the status file."""
        with self._lock:
            self.code, self.error, self.finished = code, error, True
            if environment is not None:
                self.environment = environment
            self.ended = time.time()
            status = self._status()
            path = self._directory / f"{self.id}.json"
            temporary = path.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(status, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(temporary, path)
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the task finished; False on timeout."""
        return self._done.wait(timeout)

    def _status(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bundle_id": self.bundle_id,
            "finished": self.finished,
            "code": self.code,
            "error": self.error,
            "environment": self.environment,
            "started": self.started,
            "ended": self.ended,
        }

    def view(self, first: int = 0) -> TaskView:
        """The poll answer: status, the lines from ``first``, and ``last``."""
        with self._lock:
            lines = tuple(self._lines)
            return TaskView(
                id=self.id,
                bundle_id=self.bundle_id,
                finished=self.finished,
                code=self.code,
                error=self.error,
                environment=self.environment,
                started=self.started,
                ended=self.ended,
                output=lines[first:],
                last=len(lines),
                elapsed=round((self.ended or time.time()) - self.started, 4),
            )

    @classmethod
    def load(cls, task_id: str, directory: Path) -> Task | None:
        """A task of an earlier run of the server, from its files; None if unknown."""
        log = directory / f"{task_id}.log"
        status_file = directory / f"{task_id}.json"
        if not log.is_file() and not status_file.is_file():
            return None
        task = cls(task_id, directory)
        if log.is_file():
            task._lines = log.read_text(encoding="utf-8").splitlines()
        try:
            status = json.loads(status_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = {"code": 1, "error": _RESTARTED}
        task.bundle_id = status.get("bundle_id", "")
        task.environment = status.get("environment")
        task.code, task.error = status.get("code", 1), status.get("error", "")
        task.started = status.get("started") or task.started
        task.ended = status.get("ended") or task.started
        task.finished = True
        task._done.set()
        return task


class TaskRegistry:
    """The tasks of this server; the most recent ``keep`` stay in memory."""

    def __init__(self, directory: Path, keep: int = 500) -> None:
        self.directory = directory
        self.keep = keep
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._lock = threading.Lock()

    def create(
        self, bundle_id: str = "", started: float | None = None, environment: str | None = None
    ) -> Task:
        """A new task; ``started`` (a ``time.time()``) backdates it to when the request came,
        so ``elapsed`` is the server-side time of the whole deploy; ``environment`` is the
        key of the environment it is to build, when known."""
        self.directory.mkdir(parents=True, exist_ok=True)
        task = Task(uuid.uuid4().hex, self.directory, bundle_id)
        task.environment = environment
        if started is not None:
            task.started = started
        (self.directory / f"{task.id}.log").touch()
        with self._lock:
            self._tasks[task.id] = task
            while len(self._tasks) > self.keep:
                oldest = next(iter(self._tasks.values()))
                if not oldest.finished:
                    break
                self._tasks.popitem(last=False)
        return task

    def get(self, task_id: str) -> Task | None:
        """The task ``task_id`` (from memory, else from disk); None if unknown."""
        if not _ID.fullmatch(task_id):
            return None
        with self._lock:
            task = self._tasks.get(task_id)
        return task if task is not None else Task.load(task_id, self.directory)

    def start(self, task: Task, work: Callable[[Task], str | None]) -> threading.Thread:
        """Run ``work(task)`` in a thread; its return value is the task's environment.

        Any exception fails the task with its message as the error (the log keeps the
        lines written so far).
        """

        def run() -> None:
            try:
                environment = work(task)
            except Exception as e:  # every failure must end the task, with its message
                task.log(f"error: {e}")
                task.finish(code=1, error=str(e))
            else:
                task.finish(code=0, environment=environment)

        thread = threading.Thread(target=run, name=f"task-{task.id[:8]}", daemon=True)
        thread.start()
        return thread
