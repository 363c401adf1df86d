"""The catalog database: one connection, its transactions, migrations and the event log.

Every table concern of the catalog (``sources``, ``files``, ``live``, ``history``,
``mirrors``, ``tokens``, ``listings``) shares one ``Database``: writes go through
``write`` (one transaction, writers queued), reads through ``query`` or ``stream``, and a
change appends its events with ``append_event`` in the same transaction, so readers
never see a file row without its event, nor an event without its row.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from generator.catalog.dialect import Cursor, dialect_for
from generator.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from generator.clock import format_timestamp
from generator.errors import StoreError
from generator.records import EventKind

# Names per statement when filtering by a list (well under SQLite's bound-variable limit).
CHUNK = 500
# Rows fetched at a time when a read streams its result.
_BATCH = 4096


class Database:
    """A connection to the catalog database. Safe to share between threads (calls are
    serialized)."""

    def __init__(self, path: Path | str) -> None:
        """Open (and migrate) the catalog at ``path``: a SQLite file, or a
        ``postgresql://`` URL. ``StoreError`` when it cannot be opened."""
        self.dialect = dialect_for(path)
        self._db = self.dialect.connect()
        self._lock = threading.RLock()
        try:
            self.migrate()
        except BaseException as e:
            self._db.close()
            if isinstance(e, self.dialect.errors):
                raise StoreError(f"cannot open the catalog {self.dialect.display}: {e}") from e
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def is_shared(self) -> bool:
        """True for a database server several processes and hosts share (PostgreSQL)."""
        return self.dialect.shared

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold the catalog-wide lock ``name`` (blocks until free): an advisory lock on
        PostgreSQL (every host), a file lock beside a SQLite catalog."""
        return self.dialect.session_lock(name)

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        """One write transaction; writers queue (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
        advisory lock) instead of deadlocking or racing."""
        with self._lock:
            cursor = self._db.cursor()
            self.dialect.begin_write(cursor)
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of one read."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """The rows of one read, a batch at a time: a large result is never held whole.
        The connection stays held until the iterator is exhausted or closed."""
        with self._lock:
            cursor = self._db.execute(sql, params)
            while rows := cursor.fetchmany(_BATCH):
                yield from rows

    def schema_version(self) -> int:
        with self._lock:
            if not self.dialect.has_table(self._db, "schema_version"):
                return 0
            row = self._db.execute("SELECT version FROM schema_version").fetchone()
            return int(row[0]) if row else 0

    def migrate(self) -> int:
        """Apply the missing migrations; return the schema version. Refuses a newer catalog."""
        current = self.schema_version()
        while current < SCHEMA_VERSION:
            with self.write() as cur:
                # Read the version again under the write lock: another process (the sidecar
                # and a cron'd generate after an upgrade) may have migrated meanwhile.
                cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
                row = cur.execute("SELECT version FROM schema_version").fetchone()
                current = int(row[0]) if row else 0
                if current >= SCHEMA_VERSION:
                    break
                for statement in MIGRATIONS[current]:
                    cur.execute(self.dialect.ddl(statement))
                current += 1
                cur.execute("DELETE FROM schema_version")
                cur.execute("INSERT INTO schema_version (version) VALUES (?)", (current,))
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the catalog {self.dialect.display} has schema version {current}, newer than this "
                f"timeshelf understands ({SCHEMA_VERSION}): upgrade timeshelf"
            )
        return SCHEMA_VERSION

    def check_integrity(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks (empty when sound;
        PostgreSQL checks on every write)."""
        with self._lock:
            return self.dialect.integrity_problems(self._db)


def append_event(
    cur: Cursor,
    at: datetime,
    kind: EventKind,
    *,
    repo_id: int | None = None,
    source_id: int | None = None,
    project_id: int | None = None,
    file_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append an event in the transaction of ``cur``; return its id (the serial), which
    becomes the project's ``last_event_id`` when the event is about a project."""
    cur.execute(
        "INSERT INTO events (at, kind, repo_id, source_id, project_id, file_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            format_timestamp(at),
            kind,
            repo_id,
            source_id,
            project_id,
            file_id,
            json.dumps(detail or {}, sort_keys=True, separators=(",", ":")),
        ),
    )
    event_id = cur.lastrowid
    assert event_id is not None
    if project_id is not None:
        cur.execute("UPDATE projects SET last_event_id = ? WHERE id = ?", (event_id, project_id))
    return event_id


def chunks(names: Iterable[str]) -> Iterator[list[str]]:
    """``names``, deduplicated and sorted, in runs of at most ``CHUNK`` (one statement each)."""
    ordered = sorted(set(names))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def marks(values: Sized) -> str:
    """The placeholders of an ``IN (...)`` list of ``values``."""
    return ", ".join("?" for _ in range(len(values)))
