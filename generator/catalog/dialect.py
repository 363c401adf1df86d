"""SQL dialects of the catalog: SQLite (the default, one file) and PostgreSQL (shared).

The catalog's statements (``catalog.py``, ``schema.py``) are written once, in the SQL
both engines share, with ``?`` placeholders. A dialect supplies what differs:

- connecting (``sqlite3`` with WAL PRAGMAs; ``psycopg`` 3 in autocommit mode, so the
  catalog's own ``BEGIN``/``COMMIT`` delimit transactions as with SQLite);
- statement text: PostgreSQL gets ``%s`` placeholders, ``JOIN`` for SQLite's
  planner-pinning ``CROSS JOIN … ON``, and ``RETURNING id`` on inserts into tables
  with an ``id`` key so ``cursor.lastrowid`` works as in ``sqlite3``;
- migration DDL: ``id INTEGER PRIMARY KEY [AUTOINCREMENT]`` becomes an identity column,
  ``INTEGER`` becomes ``BIGINT`` (SQLite integers are 64-bit: file sizes over 2 GiB),
  ``TEXT`` columns get ``COLLATE "C"`` (SQLite compares bytes; a locale collation would
  reorder names and timestamps, and pages must be byte-identical on both engines);
- write transactions: SQLite's ``BEGIN IMMEDIATE`` queues writers; PostgreSQL takes a
  transaction-scoped advisory lock after ``BEGIN``. Writers are serialized on both, so
  a check-then-insert (a file name is forever) never races, and event ids (the
  generator's watermark) commit in increasing order: a generator that read serial N
  never later sees an event below N appear;
- the generation lock: a session advisory lock on a connection of its own (held across
  hosts), where SQLite installations use a file lock in the output directory.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from generator.errors import StoreError

if TYPE_CHECKING:
    import psycopg


class Cursor(Protocol):
    """What the catalog uses of a DB-API cursor (``sqlite3.Cursor`` is one)."""

    @property
    def lastrowid(self) -> int | None: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...


class Connection(Protocol):
    """What the catalog uses of a DB-API connection (``sqlite3.Connection`` is one)."""

    def cursor(self) -> Cursor: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def close(self) -> None: ...


class Dialect(Protocol):
    """One database engine (see the module docstring)."""

    name: str
    shared: bool
    errors: tuple[type[Exception], ...]

    @property
    def display(self) -> str:
        """Where the catalog is, for messages (never a password)."""

    def connect(self) -> Connection: ...

    def ddl(self, statement: str) -> str: ...

    def begin_write(self, cursor: Cursor) -> None: ...

    def has_table(self, db: Connection, table: str) -> bool: ...

    def integrity_problems(self, db: Connection) -> list[str]: ...

    def session_lock(self, name: str) -> AbstractContextManager[None]: ...


def is_database_url(location: str | Path) -> bool:
    """True when ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def dialect_for(location: str | Path) -> Dialect:
    """The dialect of a catalog location: a ``postgresql://`` URL, else a SQLite path."""
    if is_database_url(location):
        return PostgresDialect(str(location))
    return SQLiteDialect(Path(location))


class SQLiteDialect:
    """One SQLite file in WAL mode (the default)."""

    name = "sqlite"
    shared = False
    errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def display(self) -> str:
        return str(self.path)

    def connect(self) -> Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the catalog {self.path}: {e}") from e
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreError(f"cannot open the catalog {self.path}: {e}") from e
        return db

    def ddl(self, statement: str) -> str:
        return statement

    def begin_write(self, cursor: Cursor) -> None:
        cursor.execute("BEGIN IMMEDIATE")

    def has_table(self, db: Connection, table: str) -> bool:
        return bool(
            db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).fetchone()
        )

    def integrity_problems(self, db: Connection) -> list[str]:
        problems = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
        problems += [
            f"foreign key: {tuple(r)}" for r in db.execute("PRAGMA foreign_key_check").fetchall()
        ]
        return problems

    @contextmanager
    def session_lock(self, name: str) -> Iterator[None]:
        """Hold the file lock ``<catalog>.<name>.lock`` (blocking until free)."""
        path = self.path.with_name(f"{self.path.name}.{name}.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"cannot create the lock {path}: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for a timeshelf lock name."""
    return int.from_bytes(hashlib.sha256(f"timeshelf:{name}".encode()).digest()[:8], "big",
                          signed=True)


WRITE_LOCK = lock_key("catalog-write")
_IDENTITY_TABLE = re.compile(r"CREATE TABLE (\w+) \(\s*id INTEGER PRIMARY KEY")
_INSERT_INTO = re.compile(r"\s*INSERT INTO (\w+)", re.IGNORECASE)
_CROSS_JOIN = re.compile(r"\bCROSS JOIN (\w+ \w+) ON\b")


def identity_tables(migrations: Sequence[Sequence[str]]) -> frozenset[str]:
    """Tables whose ``id`` the database assigns (``INTEGER PRIMARY KEY``)."""
    return frozenset(
        m[1] for statements in migrations for s in statements
        if (m := _IDENTITY_TABLE.search(s)) is not None
    )


@functools.lru_cache(maxsize=2048)
def translate(sql: str, identity: frozenset[str]) -> tuple[str, bool]:
    """``sql`` for psycopg, and whether it ends in an added ``RETURNING id``.

    ``?`` outside string literals becomes ``%s`` and every ``%`` is doubled (psycopg
    reads ``%`` everywhere once parameters are given, which the catalog always does).
    """
    parts = re.split(r"('(?:[^']|'')*')", sql)
    out = []
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        if i % 2 == 0:
            part = _CROSS_JOIN.sub(r"JOIN \1 ON", part.replace("?", "%s"))
        out.append(part)
    text = "".join(out)
    insert = _INSERT_INTO.match(text)
    returning = (
        insert is not None and insert[1] in identity and "RETURNING" not in text.upper()
    )
    if returning:
        text = text.rstrip().rstrip(";") + " RETURNING id"
    return text, returning


class PgCursor:
    """A psycopg cursor that speaks the catalog's ``?`` SQL and has ``lastrowid``."""

    def __init__(self, cursor: psycopg.Cursor[Any], identity: frozenset[str]) -> None:
        self._cursor = cursor
        self._identity = identity
        self.lastrowid: int | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        text, returning = translate(sql, self._identity)
        self._cursor.execute(text, tuple(parameters))
        if returning:
            row = self._cursor.fetchone()
            self.lastrowid = int(row[0]) if row is not None else None
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def fetchmany(self, size: int = 1) -> list[Any]:
        return self._cursor.fetchmany(size)


class PgConnection:
    """A psycopg connection in autocommit mode, handing out ``PgCursor``s."""

    def __init__(self, connection: psycopg.Connection[Any], identity: frozenset[str]) -> None:
        self._connection = connection
        self._identity = identity

    def cursor(self) -> PgCursor:
        return PgCursor(self._connection.cursor(), self._identity)

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        return self.cursor().execute(sql, parameters)

    def close(self) -> None:
        self._connection.close()


class PostgresDialect:
    """A PostgreSQL database shared by several sidecars and one generator (psycopg 3)."""

    name = "postgresql"
    shared = True

    def __init__(self, url: str) -> None:
        import psycopg

        from generator.catalog.schema import MIGRATIONS

        self.url = url
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        self.identity = identity_tables(MIGRATIONS)

    @property
    def display(self) -> str:
        """The URL without a password (for messages)."""
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", self.url)

    def _raw_connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=30)
        except psycopg.Error as e:
            raise StoreError(f"cannot open the catalog {self.display}: {e}".strip()) from e

    def connect(self) -> Connection:
        return PgConnection(self._raw_connect(), self.identity)

    def ddl(self, statement: str) -> str:
        text = re.sub(
            r"\bid INTEGER PRIMARY KEY(?: AUTOINCREMENT)?",
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement,
        )
        if re.match(r"\s*(CREATE TABLE|ALTER TABLE)", text):
            text = re.sub(r"\bINTEGER\b", "BIGINT", text)
            text = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', text)
        return text

    def begin_write(self, cursor: Cursor) -> None:
        cursor.execute("BEGIN")
        cursor.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    def has_table(self, db: Connection, table: str) -> bool:
        return bool(
            db.execute(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = ?",
                (table,),
            ).fetchone()
        )

    def integrity_problems(self, db: Connection) -> list[str]:
        return []  # PostgreSQL enforces keys and constraints on every write

    @contextmanager
    def session_lock(self, name: str) -> Iterator[None]:
        """Hold the advisory lock ``name`` (blocking until free) on a connection of its own.

        Released when the block ends, or by the server when the process dies.
        """
        connection = self._raw_connect()
        try:
            connection.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
            yield
        finally:
            connection.close()
