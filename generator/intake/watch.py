"""The watch folder: files dropped into a directory are ingested, then the index regenerated.

A file is taken once its writer has finished: on Linux when inotify reports it closed
after writing (or moved in whole), elsewhere, and as a safety net, once its size and
modification time have not changed for ``settle`` seconds. Accepted files leave the
folder (they are in the store); refused ones move to ``rejected/`` beside a ``.error``
file saying why. Hidden files, ``*.part``/``*.tmp`` and subdirectories are ignored;
symbolic links are refused (a link could point anywhere on the machine). The folder must
exist (``check_inbox``): a mistyped name is refused, not silently created.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.catalog.catalog import Catalog
from generator.clock import Clock
from generator.errors import InvalidDistribution, NotFound, StoreError, TimeshelfError
from generator.intake.ingest import check_signature, ingest_file
from generator.records import Source
from generator.storage.atomic import write_bytes
from generator.storage.store import BlobStore, file_key

if TYPE_CHECKING:
    from watchdog.events import FileSystemEventHandler

log = logging.getLogger(__name__)
REJECTED = "rejected"
_IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".error")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What happened to one dropped file."""

    name: str
    accepted: bool
    message: str


def check_inbox(inbox: Path, *, create: bool = False) -> bool:
    """Whether ``inbox`` had to be created: it must be a directory, made (with its
    parents) only when ``create``. Raises ``NotFound`` for a missing one otherwise, and
    ``StoreError`` when it cannot be made or is not a directory."""
    if inbox.is_dir():
        return False
    if inbox.exists():
        raise StoreError(f"cannot watch {inbox}: it is not a directory")
    if not create:
        raise NotFound(
            f"no folder {str(inbox)!r} to watch: create it first, or pass --create to have "
            "watch create it"
        )
    try:
        inbox.mkdir(parents=True)
    except OSError as e:
        raise StoreError(f"cannot create {inbox}: {e}") from e
    return True


def is_candidate(path: Path, inbox: Path) -> bool:
    """A regular-looking file directly in the inbox that is not being written by convention."""
    return (
        path.parent == inbox
        and not path.name.startswith(".")
        and not path.name.endswith(_IGNORED_SUFFIXES)
    )


class Watcher:
    """Ingests what appears in ``inbox`` into ``source``; ``run`` blocks, ``stop`` ends it.

    Files go to ``catalog`` and ``store``, dated by ``clock``; after a batch that added
    something, ``regenerate`` is called once (it may report what it generated; a
    ``TimeshelfError`` it raises is told to ``on_error``, and watching goes on).
    ``report`` hears of every file taken or refused, ``on_error`` (default: the log) of
    every failure that does not stop the watch.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: BlobStore,
        inbox: Path,
        source: Source,
        *,
        clock: Clock,
        regenerate: Callable[[], object],
        settle: float = 1.0,
        report: Callable[[Outcome], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.catalog, self.store, self.clock = catalog, store, clock
        self.inbox, self.source, self.settle = inbox.resolve(), source, settle
        self.regenerate = regenerate
        self.report = report or (lambda outcome: None)
        self.on_error = on_error or log.error
        self._pending: queue.Queue[Path] = queue.Queue()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        # watchdog (its inotify layer: ~45 ms) is imported only by a watcher that runs, not
        # by every command and the sidecar, which import this package for ingest.
        from watchdog.observers import Observer

        check_inbox(self.inbox)
        (self.inbox / REJECTED).mkdir(exist_ok=True)
        handler = _handler(self)
        observer = Observer()
        observer.schedule(handler, str(self.inbox), recursive=False)
        observer.start()
        try:
            self.process(self.scan(), wait_settled=True)
            last_scan = time.monotonic()
            while not self._stop.is_set():
                batch = self._drain(timeout=0.2)
                if time.monotonic() - last_scan > max(self.settle, 1.0) * 2:
                    batch |= self.scan()
                    last_scan = time.monotonic()
                if batch:
                    self.process(batch, wait_settled=False)
        finally:
            observer.stop()
            observer.join(timeout=5)

    def notify(self, path: Path) -> None:
        if is_candidate(path, self.inbox):
            self._pending.put(path)

    def _drain(self, timeout: float) -> set[Path]:
        found: set[Path] = set()
        with contextlib.suppress(queue.Empty):
            found.add(self._pending.get(timeout=timeout))
            while True:
                found.add(self._pending.get_nowait())
        return found

    def scan(self) -> set[Path]:
        """Files lying in the inbox now (startup, and the periodic safety net)."""
        try:
            return {p for p in self.inbox.iterdir() if is_candidate(p, self.inbox)}
        except OSError as e:
            self.on_error(f"cannot list {self.inbox}: {e}")
            return set()

    def _is_settled(self, path: Path) -> bool:
        try:
            first = path.lstat()
            if time.time() - first.st_mtime >= self.settle:
                return True
            time.sleep(self.settle)
            second = path.lstat()
        except FileNotFoundError:
            return False
        return (first.st_size, first.st_mtime_ns) == (second.st_size, second.st_mtime_ns)

    def process(self, paths: set[Path], *, wait_settled: bool) -> list[Outcome]:
        """Ingest a batch (signatures after their distributions), then regenerate once."""
        outcomes: list[Outcome] = []
        ordered = sorted(paths, key=lambda p: (p.name.endswith(".asc"), p.name))
        for path in ordered:
            if not path.exists() and not path.is_symlink():
                continue
            if wait_settled and not path.is_symlink() and not self._is_settled(path):
                self._pending.put(path)
                continue
            outcome = self._take(path)
            if outcome is not None:
                outcomes.append(outcome)
                self.report(outcome)
        if any(o.accepted for o in outcomes):
            try:
                self.regenerate()
            except TimeshelfError as e:
                self.on_error(f"regeneration failed: {e}")
        return outcomes

    def _take(self, path: Path) -> Outcome | None:
        name = path.name
        if path.is_symlink():
            return self._reject(path, "symbolic links are not accepted: copy the file in")
        if not path.is_file():
            return None
        if name.endswith(".asc"):
            return self._take_signature(path)
        signature_path = path.with_name(name + ".asc")
        try:
            signature = signature_path.read_bytes() if signature_path.is_file() else None
            accepted = ingest_file(
                self.catalog, self.store, self.source, path, self.clock(),
                signature=signature,
            )
        except TimeshelfError as e:
            if signature_path.is_file():
                self._reject(signature_path, f"its distribution was refused: {e}")
            return self._reject(path, str(e))
        for done in (path, signature_path):
            with contextlib.suppress(FileNotFoundError):
                done.unlink()
        state = "added" if accepted.new else "already present"
        return Outcome(name=name, accepted=True, message=f"{state}: {name}")

    def _take_signature(self, path: Path) -> Outcome | None:
        dist_name = path.name[: -len(".asc")]
        if (self.inbox / dist_name).exists():
            return None  # taken together with its distribution
        found = self.catalog.find_file(self.source, dist_name)
        if found is None or found.removed:
            return self._reject(
                path, f"no file {dist_name!r} in source {self.source.name!r} to attach this signature to"
            )
        try:
            data = path.read_bytes()
            check_signature(path.name, data)
            self.store.put_bytes(file_key(found.record.sha256, dist_name) + ".asc", data)
            self.catalog.set_signature(self.source, dist_name, self.clock())
        except (InvalidDistribution, StoreError) as e:
            return self._reject(path, str(e))
        path.unlink()
        return Outcome(name=path.name, accepted=True, message=f"signature added: {dist_name}")

    def _reject(self, path: Path, message: str) -> Outcome:
        rejected = self.inbox / REJECTED
        target = rejected / path.name
        try:
            os.replace(path, target)
            # Atomically: a watcher of rejected/ never reads an empty reason.
            write_bytes(rejected / f"{path.name}.error", (message + "\n").encode())
        except (OSError, StoreError) as e:
            self.on_error(f"cannot move {path} to {rejected}: {e}")
        return Outcome(name=path.name, accepted=False, message=message)


def _handler(watcher: Watcher) -> FileSystemEventHandler:
    """The watchdog handler passing closed and moved-in files to ``watcher``."""
    from watchdog.events import (
        FileClosedEvent,
        FileMovedEvent,
        FileSystemEvent,
        FileSystemEventHandler,
    )

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.is_directory:
                return
            if isinstance(event, FileClosedEvent):
                watcher.notify(Path(os.fsdecode(event.src_path)))
            elif isinstance(event, FileMovedEvent):
                watcher.notify(Path(os.fsdecode(event.dest_path)))

    return Handler()
