"""The catalog: sources, repositories, projects, files and the event log.

All SQL of timeshelf lives here and in ``schema`` (and what differs between engines in
``dialect``). The default backend is one SQLite file in WAL mode; a ``postgresql://``
URL selects PostgreSQL. Statements stick to the SQL both share; the dialect translates
placeholders and DDL and serializes writers on either.

Every write is one transaction that also appends its events; readers never see a file
row without its event, nor an event without its row.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from packaging.utils import NormalizedName, canonicalize_name

from generator.catalog.dialect import Cursor, dialect_for
from generator.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from generator.clock import format_timestamp
from generator.errors import (
    Conflict,
    FileAlreadyExists,
    FileRemoved,
    NotFound,
    SameDistributionExists,
    SameDistributionRemoved,
    StoreError,
)
from generator.naming import (
    check_slug,
    distribution_identity,
    is_same_version,
    version_sort_key,
)
from generator.records import (
    SOURCE_TYPES,
    Activity,
    CuratedList,
    Event,
    EventKind,
    FileRecord,
    MirroredFile,
    MirrorState,
    PackageSummary,
    ProjectChange,
    ProjectState,
    ProjectSync,
    Reconstruction,
    Repo,
    Source,
    SourceType,
    TokenRecord,
    UpstreamFileRef,
)

_FILE_COLUMNS = (
    "f.filename, f.version, f.packagetype, f.sha256, f.blake2_256, f.size, f.requires_python, "
    "f.upload_time, f.metadata_sha256, f.has_signature, f.yanked, f.yanked_reason"
)
# The files of one kind of a project in a source, but one filename: those another
# spelling of that filename could collide with (``_same_distribution``).
_SIBLING_FILES = (
    f"SELECT {_FILE_COLUMNS}, f.removed_at FROM files f JOIN projects p ON p.id = f.project_id "
    "WHERE p.source_id = ? AND p.name = ? AND f.packagetype = ? AND f.filename <> ? "
    "ORDER BY f.removed_at IS NOT NULL, f.filename"
)
# Names per statement when filtering by a list (well under SQLite's bound-variable limit).
_CHUNK = 500


def _file_from_row(row: Sequence[Any]) -> FileRecord:
    # A 13th column, when a query selects it, is the upstream URL of a mirrored file.
    return FileRecord(
        filename=row[0],
        version=row[1],
        packagetype=row[2],
        sha256=row[3],
        blake2_256=row[4],
        size=row[5],
        requires_python=row[6],
        upload_time=row[7],
        metadata_sha256=row[8],
        has_signature=bool(row[9]),
        yanked=bool(row[10]),
        yanked_reason=row[11],
        url=row[12] if len(row) > 12 else None,
    )


class Catalog:
    """A connection to the catalog. Safe to share between threads (calls are serialized).

    Raises ``NotFound`` for unknown names, ``Conflict`` for contradictions,
    ``FileAlreadyExists``/``FileRemoved`` for reused filenames.
    """

    def __init__(self, path: Path | str) -> None:
        """Open (and migrate) the catalog at ``path``: a SQLite file, or a
        ``postgresql://`` URL. ``StoreError`` when it cannot be opened."""
        self.dialect = dialect_for(path)
        self.path = path
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

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------

    @property
    def is_shared(self) -> bool:
        """True for a database server several processes and hosts share (PostgreSQL)."""
        return self.dialect.shared

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold the catalog-wide lock ``name`` (blocks until free): an advisory lock on
        PostgreSQL (every host), a file lock beside a SQLite catalog."""
        return self.dialect.session_lock(name)

    @contextmanager
    def _write(self) -> Iterator[Cursor]:
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

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

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
            with self._write() as cur:
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

    @staticmethod
    def _event(
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

    # -- sources and repositories -------------------------------------------------------

    def create_source(
        self, name: str, type: str, at: datetime, upstream: str | None = None
    ) -> Source:
        check_slug("source", name)
        if type not in SOURCE_TYPES:
            raise Conflict(
                f"unknown source type {type!r}: use one of {', '.join(SOURCE_TYPES)}"
            )
        with self._write() as cur:
            if cur.execute("SELECT 1 FROM sources WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"source {name!r} already exists: choose another name")
            cur.execute(
                "INSERT INTO sources (name, type, upstream, created_at) VALUES (?, ?, ?, ?)",
                (name, type, upstream, format_timestamp(at)),
            )
        return self.get_source(name)

    def get_source(self, name: str) -> Source:
        rows = self._query("SELECT id, name, type, upstream FROM sources WHERE name = ?", (name,))
        if not rows:
            known = ", ".join(s.name for s in self.list_sources()) or "none"
            raise NotFound(f"unknown source {name!r} (known sources: {known})")
        r = rows[0]
        return Source(id=r[0], name=r[1], type=cast(SourceType, r[2]), upstream=r[3])

    def list_sources(self) -> tuple[Source, ...]:
        rows = self._query("SELECT id, name, type, upstream FROM sources ORDER BY name")
        return tuple(
            Source(id=r[0], name=r[1], type=cast(SourceType, r[2]), upstream=r[3]) for r in rows
        )

    def create_repo(
        self, name: str, at: datetime, type: str = "python", description: str = ""
    ) -> Repo:
        check_slug("repository", name)
        if type != "python":
            raise Conflict(f"unknown repository type {type!r}: use 'python'")
        with self._write() as cur:
            if cur.execute("SELECT 1 FROM repos WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"repository {name!r} already exists: choose another name")
            cur.execute(
                "INSERT INTO repos (name, type, description, created_at) VALUES (?, ?, ?, ?)",
                (name, type, description, format_timestamp(at)),
            )
        return self.get_repo(name)

    def get_repo(self, name: str) -> Repo:
        rows = self._query("SELECT id, name, type, description FROM repos WHERE name = ?", (name,))
        if not rows:
            known = ", ".join(r.name for r in self.list_repos()) or "none"
            raise NotFound(f"unknown repository {name!r} (known repositories: {known})")
        r = rows[0]
        return Repo(
            id=r[0], name=r[1], type=r[2], description=r[3], sources=self._subscribed(r[0])
        )

    def list_repos(self) -> tuple[Repo, ...]:
        rows = self._query("SELECT id, name, type, description FROM repos ORDER BY name")
        return tuple(
            Repo(id=r[0], name=r[1], type=r[2], description=r[3], sources=self._subscribed(r[0]))
            for r in rows
        )

    def _subscribed(self, repo_id: int) -> tuple[str, ...]:
        rows = self._query(
            "SELECT s.name FROM subscriptions x JOIN sources s ON s.id = x.source_id "
            "WHERE x.repo_id = ? ORDER BY x.position",
            (repo_id,),
        )
        return tuple(r[0] for r in rows)

    def subscribe(self, repo_name: str, source_name: str, at: datetime) -> Repo:
        """Append ``source_name`` to the repository's sources (lowest priority so far)."""
        repo, source = self.get_repo(repo_name), self.get_source(source_name)
        if source.name in repo.sources:
            raise Conflict(
                f"repository {repo.name!r} already subscribes to {source.name!r} "
                f"(sources in order: {', '.join(repo.sources)}); use reorder to change priority"
            )
        return self._set_subscriptions(repo, (*repo.sources, source.name), at)

    def unsubscribe(self, repo_name: str, source_name: str, at: datetime) -> Repo:
        repo = self.get_repo(repo_name)
        if source_name not in repo.sources:
            raise NotFound(f"repository {repo.name!r} does not subscribe to {source_name!r}")
        return self._set_subscriptions(
            repo, tuple(s for s in repo.sources if s != source_name), at
        )

    def reorder(self, repo_name: str, sources: Sequence[str], at: datetime) -> Repo:
        """Set the priority order; ``sources`` must name exactly the subscribed sources."""
        repo = self.get_repo(repo_name)
        if sorted(sources) != sorted(repo.sources) or len(set(sources)) != len(sources):
            raise Conflict(
                f"reorder must list each source of {repo.name!r} once: "
                f"{', '.join(repo.sources) or '(none)'}; got {', '.join(sources) or '(none)'}"
            )
        return self._set_subscriptions(repo, tuple(sources), at)

    def _set_subscriptions(self, repo: Repo, sources: tuple[str, ...], at: datetime) -> Repo:
        ids = [self.get_source(name).id for name in sources]
        with self._write() as cur:
            cur.execute("DELETE FROM subscriptions WHERE repo_id = ?", (repo.id,))
            for position, source_id in enumerate(ids):
                cur.execute(
                    "INSERT INTO subscriptions (repo_id, source_id, position) VALUES (?, ?, ?)",
                    (repo.id, source_id, position),
                )
            self._event(
                cur, at, "subscriptions_changed", repo_id=repo.id,
                detail={"sources": list(sources)},
            )
        return self.get_repo(repo.name)

    # -- files --------------------------------------------------------------------------

    def find_file(self, source: Source, filename: str) -> tuple[FileRecord, bool] | None:
        """The file of that name in the source and whether it was removed, or None."""
        rows = self._query(
            f"SELECT {_FILE_COLUMNS}, f.removed_at FROM files f "
            "JOIN projects p ON p.id = f.project_id WHERE p.source_id = ? AND f.filename = ?",
            (source.id, filename),
        )
        if not rows:
            return None
        return _file_from_row(rows[0][:12]), rows[0][12] is not None

    def find_same_distribution(
        self, source: Source, project: NormalizedName, filename: str, packagetype: str
    ) -> tuple[FileRecord, bool] | None:
        """Another file of the source that is the same distribution as ``filename``
        (``naming.distribution_identity``) and whether it was removed, or None.

        The exact ``filename`` is ``find_file``'s: it is never its own other spelling.
        """
        rows = self._query(_SIBLING_FILES, (source.id, project, packagetype, filename))
        return _same_distribution(rows, project, filename)

    def add_file(
        self, source: Source, project: NormalizedName, display_name: str, summary: str,
        record: FileRecord, at: datetime,
    ) -> bool:
        """Record a stored file; True if new, False if the identical file was already there.

        Raises ``FileAlreadyExists`` for the same filename with other bytes, and
        ``FileRemoved`` for a filename whose file was removed; their subclasses
        ``SameDistributionExists``/``SameDistributionRemoved`` for another spelling of
        a file in the source (checked in the same transaction, so two concurrent
        spellings cannot both get in).
        """
        with self._write() as cur:
            existing = cur.execute(
                "SELECT f.sha256, f.removed_at FROM files f JOIN projects p "
                "ON p.id = f.project_id WHERE p.source_id = ? AND f.filename = ?",
                (source.id, record.filename),
            ).fetchone()
            if existing is not None:
                if existing[1] is not None:
                    raise FileRemoved(record.filename)
                if existing[0] != record.sha256:
                    raise FileAlreadyExists(record.filename, existing[0])
                return False
            siblings = cur.execute(
                _SIBLING_FILES, (source.id, project, record.packagetype, record.filename)
            ).fetchall()
            same = _same_distribution(siblings, project, record.filename)
            if same is not None:
                raise same_distribution_error(source, record.filename, *same)
            row = cur.execute(
                "SELECT id FROM projects WHERE source_id = ? AND name = ?", (source.id, project)
            ).fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO projects (source_id, name, display_name, summary, last_event_id) "
                    "VALUES (?, ?, ?, ?, 0)",
                    (source.id, project, display_name, summary),
                )
                project_id = cur.lastrowid
            else:
                project_id = row[0]
                cur.execute(
                    "UPDATE projects SET display_name = ?, summary = ? WHERE id = ?",
                    (display_name, summary, project_id),
                )
            _insert_file(cur, project_id, display_name, record, at)
            self._event(
                cur, at, "file_added", source_id=source.id, project_id=project_id,
                file_id=cur.lastrowid, detail={"filename": record.filename},
            )
        return True

    def add_files(
        self, source: Source, entries: Iterable[tuple[NormalizedName, str, str, FileRecord]],
        at: datetime, *, effective: Mapping[str, datetime] | None = None,
    ) -> int:
        """Record many stored files in one transaction (mirror syncs, imports, benchmarks).

        ``entries`` are (project, display name, summary, record). A filename already in the
        source is skipped when identical and raises ``FileAlreadyExists`` otherwise (the
        whole batch is then rolled back). Returns how many files were new.

        ``effective`` maps a filename to the time it counts from in dated snapshots (its
        ``added_at``, e.g. an upstream upload time for history backfill); the others count
        from ``at``, which is also the time of every event.
        """
        added = 0
        with self._write() as cur:
            project_ids: dict[str, int] = {}
            for project, display_name, summary, record in entries:
                existing = cur.execute(
                    "SELECT f.sha256 FROM files f JOIN projects p ON p.id = f.project_id "
                    "WHERE p.source_id = ? AND f.filename = ?",
                    (source.id, record.filename),
                ).fetchone()
                if existing is not None:
                    if existing[0] != record.sha256:
                        raise FileAlreadyExists(record.filename, existing[0])
                    continue
                project_id = project_ids.get(project)
                if project_id is None:
                    row = cur.execute(
                        "SELECT id FROM projects WHERE source_id = ? AND name = ?",
                        (source.id, project),
                    ).fetchone()
                    if row is None:
                        cur.execute(
                            "INSERT INTO projects (source_id, name, display_name, summary, "
                            "last_event_id) VALUES (?, ?, ?, ?, 0)",
                            (source.id, project, display_name, summary),
                        )
                        project_id = cur.lastrowid
                        assert project_id is not None
                    else:
                        project_id = int(row[0])
                    project_ids[project] = project_id
                _insert_file(
                    cur, project_id, display_name, record, at,
                    effective=(effective or {}).get(record.filename),
                )
                file_id = cur.lastrowid
                self._event(
                    cur, at, "file_added", source_id=source.id, project_id=project_id,
                    file_id=file_id, detail={"filename": record.filename},
                )
                if record.yanked:
                    # Snapshots read yank state from events only.
                    self._event(
                        cur, at, "file_yanked", source_id=source.id, project_id=project_id,
                        file_id=file_id,
                        detail={"filename": record.filename, "reason": record.yanked_reason},
                    )
                added += 1
        return added

    def set_signature(self, source: Source, filename: str, at: datetime) -> None:
        """Mark a stored file as signed (its ``.asc`` was stored after the file).

        Recorded as a ``file_signed`` event, so pages (and snapshots) pick it up.
        """
        with self._write() as cur:
            row = cur.execute(
                "SELECT f.id, f.project_id, f.has_signature FROM files f JOIN projects p "
                "ON p.id = f.project_id WHERE p.source_id = ? AND f.filename = ?",
                (source.id, filename),
            ).fetchone()
            if row is None or row[2]:
                return
            cur.execute(
                "UPDATE files SET has_signature = 1, signed_at = ? WHERE id = ?",
                (format_timestamp(at), row[0]),
            )
            self._event(
                cur, at, "file_signed", source_id=source.id, project_id=row[1],
                file_id=row[0], detail={"filename": filename},
            )

    def sources_with_project(self, project: str) -> tuple[Source, ...]:
        """Sources holding ``project`` with at least one file not removed."""
        name = canonicalize_name(project)
        rows = self._query(
            "SELECT DISTINCT s.id, s.name, s.type, s.upstream FROM sources s "
            "JOIN projects p ON p.source_id = s.id JOIN files f ON f.project_id = p.id "
            "WHERE p.name = ? AND f.removed_at IS NULL ORDER BY s.name",
            (name,),
        )
        return tuple(
            Source(id=r[0], name=r[1], type=cast(SourceType, r[2]), upstream=r[3]) for r in rows
        )

    def _project_files(
        self, cur: Cursor, source: Source, project: str
    ) -> tuple[int, list[tuple[int, str, str, int, str]]]:
        name = canonicalize_name(project)
        row = cur.execute(
            "SELECT id FROM projects WHERE source_id = ? AND name = ?", (source.id, name)
        ).fetchone()
        if row is None:
            raise NotFound(f"project {project!r} is not in source {source.name!r}")
        files = cur.execute(
            "SELECT id, filename, version, yanked, yanked_reason FROM files "
            "WHERE project_id = ? AND removed_at IS NULL ORDER BY filename",
            (row[0],),
        ).fetchall()
        return row[0], files

    def set_yanked(
        self, source: Source, project: str, version: str, yanked: bool, reason: str,
        at: datetime,
    ) -> int:
        """Yank or un-yank every file of a version (PEP 592); return how many changed."""
        with self._write() as cur:
            project_id, files = self._project_files(cur, source, project)
            chosen = [f for f in files if is_same_version(f[2], version)]
            if not chosen:
                versions = sorted({f[2] for f in files}, key=version_sort_key)
                raise NotFound(
                    f"project {project!r} in source {source.name!r} has no version {version!r} "
                    f"(versions: {', '.join(versions) or 'none'})"
                )
            changed = 0
            for file_id, filename, _v, was_yanked, old_reason in chosen:
                if bool(was_yanked) == yanked and (not yanked or old_reason == reason):
                    continue
                cur.execute(
                    "UPDATE files SET yanked = ?, yanked_reason = ? WHERE id = ?",
                    (int(yanked), reason if yanked else "", file_id),
                )
                self._event(
                    cur, at, "file_yanked" if yanked else "file_unyanked",
                    source_id=source.id, project_id=project_id, file_id=file_id,
                    detail={"filename": filename, "reason": reason if yanked else ""},
                )
                changed += 1
            return changed

    def remove(
        self, source: Source, project: str, at: datetime, version: str | None = None,
        filename: str | None = None,
    ) -> tuple[str, ...]:
        """Remove a project's files (all, one version's, or one file); return their names.

        Rows stay (filenames are never reused; older snapshots still list them).
        """
        with self._write() as cur:
            project_id, files = self._project_files(cur, source, project)
            chosen = [
                f for f in files
                if (version is None or is_same_version(f[2], version))
                and (filename is None or f[1] == filename)
            ]
            if not chosen:
                what = " ".join(
                    x for x in (
                        f"version {version!r}" if version else "",
                        f"file {filename!r}" if filename else "",
                    ) if x
                ) or "files"
                names = ", ".join(f[1] for f in files) or "none"
                raise NotFound(
                    f"project {project!r} in source {source.name!r} has no {what} to remove "
                    f"(files: {names})"
                )
            stamp = format_timestamp(at)
            for file_id, name, *_ in chosen:
                cur.execute("UPDATE files SET removed_at = ? WHERE id = ?", (stamp, file_id))
                self._event(
                    cur, at, "file_removed", source_id=source.id, project_id=project_id,
                    file_id=file_id, detail={"filename": name},
                )
            return tuple(f[1] for f in chosen)

    # -- reading for generation ---------------------------------------------------------

    def last_event_id(self) -> int:
        rows = self._query("SELECT COALESCE(MAX(id), 0) FROM events")
        return int(rows[0][0])

    def changed_since(self, repo: Repo, after: int, upto: int) -> set[NormalizedName] | None:
        """Project names whose state in ``repo`` may differ between two event serials.

        None means "everything": the repository's subscriptions changed.
        """
        if self._query(
            "SELECT 1 FROM events WHERE repo_id = ? AND id > ? AND id <= ? LIMIT 1",
            (repo.id, after, upto),
        ):
            return None
        # CROSS JOIN makes SQLite walk the event range first (cost grows with the events
        # since the watermark), not every project of the sources (with 10k projects that
        # was 5-25 ms on each upload; bench/upload_bench.py).
        rows = self._query(
            "SELECT DISTINCT p.name FROM events e CROSS JOIN projects p ON p.id = e.project_id "
            "WHERE e.id > ? AND e.id <= ? AND p.source_id IN "
            "(SELECT source_id FROM subscriptions WHERE repo_id = ?)",
            (after, upto, repo.id),
        )
        return {NormalizedName(r[0]) for r in rows}

    def iter_projects(
        self, repo: Repo, names: Iterable[str] | None = None, *,
        start: str | None = None, stop: str | None = None,
    ) -> Iterator[ProjectState]:
        """Stream the repository's projects in name order, resolved by source priority.

        The first subscribed source holding a project (a file not removed) owns all of its
        files. With ``names``, only those projects (absent ones are simply not yielded);
        with ``start``/``stop``, only names in ``[start, stop)`` (see ``split_projects``).
        Holds one project in memory at a time.
        """
        if names is None:
            yield from self._iter_projects(repo, None, start, stop)
            return
        ordered = sorted(set(names))
        for first in range(0, len(ordered), _CHUNK):
            yield from self._iter_projects(repo, ordered[first : first + _CHUNK], start, stop)

    def split_projects(self, repo: Repo, parts: int, min_size: int = 1) -> list[str | None]:
        """``parts + 1`` name bounds cutting the repository's projects into runs of about
        equal size, for ``iter_projects(start=bounds[i], stop=bounds[i + 1])``; the first
        and last are None (open ends). Fewer runs when a run would hold fewer than
        ``min_size`` projects."""
        # By the (source_id, name) index, which holds the names: walking the name index
        # instead reads the table row of every project, 6 s for 100k projects on a cold
        # page cache before a full generation could start (0.1 s this way).
        rows = self._query(
            "SELECT name FROM projects WHERE source_id IN "
            "(SELECT source_id FROM subscriptions WHERE repo_id = ?)",
            (repo.id,),
        )
        names = sorted({r[0] for r in rows})
        parts = max(1, min(parts, len(names) // max(1, min_size)))
        inner = sorted({names[len(names) * i // parts] for i in range(1, parts)})
        return [None, *inner, None]

    def _iter_projects(
        self, repo: Repo, names: Sequence[str] | None, start: str | None = None,
        stop: str | None = None,
    ) -> Iterator[ProjectState]:
        name_filter = ""
        params: list[Any] = [repo.id]
        if names is not None:
            name_filter = f"AND p.name IN ({', '.join('?' for _ in names)})"
            params.extend(names)
        if start is not None:
            name_filter += " AND p.name >= ?"
            params.append(start)
        if stop is not None:
            name_filter += " AND p.name < ?"
            params.append(stop)
        # Rows come in (name, project, filename) order; source priority is resolved below,
        # per name: the subscribed source with the lowest position among those with a
        # live file owns the project. No window function: CROSS JOIN fixes the join order.
        if names is None:
            # A whole scan reads the files in stored order and sorts them: walking
            # projects by name is one random read per project, and on a cold page cache
            # that took 270 s for 1M files on the benchmark machine (31 s this way).
            sql = f"""
                SELECT p.name, p.display_name, p.last_event_id, s.name, x.position,
                       {_FILE_COLUMNS}, f.url
                FROM files f CROSS JOIN projects p CROSS JOIN subscriptions x
                     CROSS JOIN sources s
                WHERE p.id = f.project_id AND x.source_id = p.source_id AND x.repo_id = ?
                      AND s.id = p.source_id AND f.removed_at IS NULL {name_filter}
                ORDER BY p.name, p.id, f.filename
            """
        else:
            # A few projects: by the name index, then each one's files by (project_id,
            # filename), which is already the requested order (no sort).
            sql = f"""
                SELECT p.name, p.display_name, p.last_event_id, s.name, x.position,
                       {_FILE_COLUMNS}, f.url
                FROM projects p CROSS JOIN subscriptions x CROSS JOIN sources s
                     CROSS JOIN files f
                WHERE x.source_id = p.source_id AND x.repo_id = ? AND s.id = p.source_id
                      AND f.project_id = p.id AND f.removed_at IS NULL {name_filter}
                ORDER BY p.name, p.id, f.filename
            """
        with self._lock:
            cursor = self._db.execute(sql, params)
            best: tuple[Any, ...] | None = None  # (name, display, serial, source, position)
            files: list[FileRecord] = []
            head: tuple[Any, ...] | None = None
            rows = cursor.fetchmany(4096)
            while rows:
                for row in rows:
                    if head is None or row[0] != head[0] or row[4] != head[4]:
                        # A new project: another name, or the same name in another source.
                        if best is not None and row[0] != best[0]:
                            yield _project(best, files)
                            best = None
                        head = row[:5]
                        if best is None or head[4] < best[4]:
                            best, files = head, []
                    if head is best:
                        files.append(_file_from_row(row[5:]))
                rows = cursor.fetchmany(4096)
            if best is not None:
                yield _project(best, files)

    def project_names(self, repo: Repo) -> list[tuple[NormalizedName, str]]:
        """(name, display name) of every project the repository shows, sorted by name."""
        rows = self._query(
            """
            WITH live AS (
                SELECT p.name, p.display_name,
                       ROW_NUMBER() OVER (PARTITION BY p.name ORDER BY x.position) AS rank
                FROM projects p
                JOIN subscriptions x ON x.source_id = p.source_id AND x.repo_id = ?
                WHERE EXISTS (SELECT 1 FROM files f0
                              WHERE f0.project_id = p.id AND f0.removed_at IS NULL)
            )
            SELECT name, display_name FROM live WHERE rank = 1 ORDER BY name
            """,
            (repo.id,),
        )
        return [(NormalizedName(r[0]), r[1]) for r in rows]

    # -- generator bookkeeping ----------------------------------------------------------

    def generation_state(self, repo: Repo) -> tuple[int, str] | None:
        rows = self._query(
            "SELECT last_event_id, render_version FROM generation_state WHERE repo_id = ?",
            (repo.id,),
        )
        return (int(rows[0][0]), rows[0][1]) if rows else None

    def site_projects(
        self, repo: Repo, names: Iterable[str] | None = None
    ) -> dict[NormalizedName, str]:
        """{name: display name} of the projects on the repository's site (only ``names``)."""
        if names is None:
            rows = self._query(
                "SELECT name, display_name FROM site_projects WHERE repo_id = ?", (repo.id,)
            )
            return {NormalizedName(r[0]): r[1] for r in rows}
        ordered = sorted(set(names))
        found: dict[NormalizedName, str] = {}
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            rows = self._query(
                "SELECT name, display_name FROM site_projects WHERE repo_id = ? AND name IN "
                f"({', '.join('?' for _ in chunk)})",
                (repo.id, *chunk),
            )
            found.update({NormalizedName(r[0]): r[1] for r in rows})
        return found

    def record_generation(
        self, repo: Repo, last_event_id: int, render_version: str,
        shown: dict[NormalizedName, str | None],
    ) -> None:
        """Advance the watermark and the list of projects on the site (None = gone), last."""
        with self._write() as cur:
            for name, display in shown.items():
                if display is None:
                    cur.execute(
                        "DELETE FROM site_projects WHERE repo_id = ? AND name = ?",
                        (repo.id, name),
                    )
                else:
                    cur.execute(
                        "INSERT INTO site_projects (repo_id, name, display_name) VALUES (?, ?, ?) "
                        "ON CONFLICT (repo_id, name) DO UPDATE SET display_name = excluded.display_name",
                        (repo.id, name, display),
                    )
            cur.execute(
                "INSERT INTO generation_state (repo_id, last_event_id, render_version) "
                "VALUES (?, ?, ?) ON CONFLICT (repo_id) DO UPDATE SET "
                "last_event_id = excluded.last_event_id, render_version = excluded.render_version",
                (repo.id, last_event_id, render_version),
            )

    def reset_site_projects(self, repo: Repo) -> None:
        with self._write() as cur:
            cur.execute("DELETE FROM site_projects WHERE repo_id = ?", (repo.id,))

    # -- listings -----------------------------------------------------------------------

    def list_packages(self, source: Source | None = None) -> list[PackageSummary]:
        """Projects with files not removed (of ``source``, else all), by source and name."""
        params: list[Any] = []
        where = "f.removed_at IS NULL"
        if source is not None:
            where += " AND p.source_id = ?"
            params.append(source.id)
        rows = self._query(
            "SELECT s.name, p.name, p.display_name, f.version FROM projects p "
            "JOIN sources s ON s.id = p.source_id JOIN files f ON f.project_id = p.id "
            f"WHERE {where} ORDER BY s.name, p.name",
            params,
        )
        summaries: list[PackageSummary] = []
        for (source_name, name, display), group in itertools.groupby(
            rows, key=lambda r: (r[0], r[1], r[2])
        ):
            versions = [r[3] for r in group]
            ordered = sorted(set(versions), key=version_sort_key)
            summaries.append(PackageSummary(
                source=source_name, name=NormalizedName(name), display_name=display,
                versions=len(ordered), files=len(versions), latest=ordered[-1],
            ))
        return summaries

    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        rows = self._query(
            "SELECT e.id, e.at, e.kind, r.name, s.name, p.name, e.detail FROM events e "
            "LEFT JOIN repos r ON r.id = e.repo_id LEFT JOIN sources s ON s.id = e.source_id "
            "LEFT JOIN projects p ON p.id = e.project_id WHERE e.id > ? ORDER BY e.id LIMIT ?",
            (after, limit),
        )
        return [
            Event(
                id=r[0], at=r[1], kind=r[2], repo=r[3], source=r[4], project=r[5],
                filename=json.loads(r[6]).get("filename"), detail=r[6],
            )
            for r in rows
        ]


    def project_summaries(
        self, source: str, names: Iterable[str]
    ) -> dict[NormalizedName, str]:
        """{name: summary} of the given projects of ``source`` (the last file's summary)."""
        ordered = sorted(set(names))
        found: dict[NormalizedName, str] = {}
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            rows = self._query(
                "SELECT p.name, p.summary FROM projects p JOIN sources s ON s.id = p.source_id "
                f"WHERE s.name = ? AND p.name IN ({', '.join('?' for _ in chunk)})",
                (source, *chunk),
            )
            found.update({NormalizedName(r[0]): r[1] for r in rows})
        return found

    def recent_activity(self, repo: Repo, limit: int = 50) -> list[Activity]:
        """The newest file events (added, yanked, un-yanked, removed) of the repository's
        sources, newest first. Shadowed projects are included: callers filter by owner."""
        rows = self._query(
            "SELECT e.id, e.at, e.kind, s.name, p.name, p.display_name, f.filename, "
            "f.version, e.detail FROM events e "
            "JOIN sources s ON s.id = e.source_id JOIN projects p ON p.id = e.project_id "
            "JOIN files f ON f.id = e.file_id "
            "WHERE e.source_id IN (SELECT source_id FROM subscriptions WHERE repo_id = ?) "
            "AND e.kind IN ('file_added', 'file_yanked', 'file_unyanked', 'file_removed') "
            "ORDER BY e.id DESC LIMIT ?",
            (repo.id, limit),
        )
        return [
            Activity(
                id=r[0], at=r[1], kind=r[2], source=r[3], project=NormalizedName(r[4]),
                display_name=r[5], filename=r[6], version=r[7],
                reason=str(json.loads(r[8]).get("reason") or ""),
            )
            for r in rows
        ]

    # -- the past (dated snapshots) -----------------------------------------------------
    #
    # The state of a repository at an instant T (exclusive) is replayed from the event
    # log and the per-file times: its sources are the last ``subscriptions_changed`` event
    # before T; a file is visible when ``added_at < T`` and it was not removed before T;
    # its yank state is that of its last yank/un-yank event before T; it is signed when
    # ``signed_at < T``; the display name is that of the newest visible file.

    def repo_started(self, repo: Repo) -> str | None:
        """The time of the repository's first subscription (its history starts there)."""
        rows = self._query(
            "SELECT MIN(at) FROM events WHERE repo_id = ? AND kind = 'subscriptions_changed'",
            (repo.id,),
        )
        return rows[0][0] if rows and rows[0][0] else None

    def subscriptions_at(self, repo: Repo, at: str) -> tuple[str, ...]:
        """The repository's sources, in priority order, just before ``at``."""
        rows = self._query(
            "SELECT detail FROM events WHERE repo_id = ? AND kind = 'subscriptions_changed' "
            "AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
            (repo.id, at),
        )
        if not rows:
            return ()
        return tuple(json.loads(rows[0][0]).get("sources", ()))

    def changed_between(
        self, repo: Repo, start: str, end: str
    ) -> set[NormalizedName] | None:
        """Projects with an event in [start, end) in any source; None if subscriptions changed.

        Reads only the events of that interval (index ``events_by_at``): a new day costs
        what happened that day, not the size of the log.
        """
        if self._query(
            "SELECT 1 FROM events WHERE repo_id = ? AND at >= ? AND at < ? LIMIT 1",
            (repo.id, start, end),
        ):
            return None
        rows = self._query(
            "SELECT DISTINCT p.name FROM events e JOIN projects p ON p.id = e.project_id "
            "WHERE e.at >= ? AND e.at < ?",
            (start, end),
        )
        return {NormalizedName(r[0]) for r in rows}

    def iter_projects_at(
        self, repo: Repo, at: str, names: Iterable[str] | None = None
    ) -> Iterator[ProjectState]:
        """Like ``iter_projects``, for the repository's state just before ``at``.

        Before the repository's first subscription the state is *reconstructed* (see
        ``reconstruction``): the sources of its first subscription to a mirror, each file
        visible from its effective time ``added_at``. Afterwards a file is visible once it
        is both effective and recorded, so a later backfill never changes an observed day.
        """
        sources = self.subscriptions_at(repo, at)
        # Far above any timestamp: reconstructed days ignore when a file was recorded.
        recorded = at
        if not sources:
            past = self.reconstruction(repo)
            if past is None or at > past.until:
                return
            sources, recorded = past.sources, "9999"
        ids = [self.get_source(name).id for name in sources]
        if names is None:
            yield from self._iter_projects_at(ids, at, None, recorded)
            return
        ordered = sorted(set(names))
        for start in range(0, len(ordered), _CHUNK):
            yield from self._iter_projects_at(
                ids, at, ordered[start : start + _CHUNK], recorded
            )

    def _iter_projects_at(
        self, source_ids: Sequence[int], at: str, names: Sequence[str] | None,
        recorded: str,
    ) -> Iterator[ProjectState]:
        subs = " UNION ALL ".join("SELECT ? AS source_id, ? AS position" for _ in source_ids)
        params: list[Any] = []
        for position, source_id in enumerate(source_ids):
            params += [source_id, position]
        visible = (
            "{f}.added_at < ? AND COALESCE({f}.recorded_at, {f}.added_at) < ? "
            "AND ({f}.removed_at IS NULL OR {f}.removed_at >= ?)"
        )
        params += [at, recorded, at]
        name_filter = ""
        if names is not None:
            name_filter = f"AND p.name IN ({', '.join('?' for _ in names)})"
            params.extend(names)
        params += [at, at, at, recorded]
        # The serial is computed once per project (a materialized CTE), not once per file
        # row, and each file's last yank event is looked up once: a project with
        # thousands of files and events used to cost files times events.
        sql = f"""
            WITH subs AS ({subs}),
            live AS (
                SELECT p.id, p.name, s.name AS source,
                       ROW_NUMBER() OVER (PARTITION BY p.name ORDER BY x.position) AS rank
                FROM projects p
                JOIN subs x ON x.source_id = p.source_id
                JOIN sources s ON s.id = p.source_id
                WHERE EXISTS (SELECT 1 FROM files f0 WHERE f0.project_id = p.id
                              AND {visible.format(f="f0")})
                {name_filter}
            ),
            chosen AS MATERIALIZED (
                SELECT l.id, l.name, l.source,
                       COALESCE((SELECT MAX(e.id) FROM events e
                                 WHERE e.project_id = l.id AND e.at < ?), 0) AS serial
                FROM live l
                WHERE l.rank = 1
            )
            SELECT c.name, f.display_name, c.serial, c.source,
                   f.filename, f.version, f.packagetype, f.sha256, f.blake2_256, f.size,
                   f.requires_python, f.upload_time, f.metadata_sha256,
                   CASE WHEN f.signed_at IS NOT NULL AND f.signed_at < ? THEN 1 ELSE 0 END,
                   y.kind, y.detail, f.added_at
            FROM chosen c JOIN files f ON f.project_id = c.id
                 AND f.added_at < ? AND COALESCE(f.recorded_at, f.added_at) < ?
                 AND (f.removed_at IS NULL OR f.removed_at >= ?)
            LEFT JOIN events y ON y.id = (
                SELECT e.id FROM events e WHERE e.file_id = f.id AND e.at < ?
                   AND e.kind IN ('file_yanked', 'file_unyanked')
                ORDER BY e.at DESC, e.id DESC LIMIT 1)
            ORDER BY c.name, f.filename
        """
        # The last placeholders: the removal bound of the final join, the yank instant.
        params += [at, at]
        with self._lock:
            cursor = self._db.execute(sql, params)
            current: list[Any] | None = None
            files: list[FileRecord] = []
            newest = ""
            while rows := cursor.fetchmany(4096):
                for row in rows:
                    if current is None or row[0] != current[0]:
                        if current is not None:
                            yield _project(current, files)
                        current, files, newest = list(row[:4]), [], ""
                    if row[16] > newest:
                        current[1], newest = row[1], row[16]
                    yanked = row[14] == "file_yanked"
                    reason = json.loads(row[15]).get("reason", "") if yanked else ""
                    files.append(_file_from_row(
                        (*row[4:13], row[13], int(yanked), reason)
                    ))
            if current is not None:
                yield _project(current, files)

    def project_names_at(self, repo: Repo, at: str) -> list[tuple[NormalizedName, str]]:
        """``project_names`` for the state just before ``at``: what a snapshot's root lists.

        The display name is that of the newest visible file (by ``added_at``, then
        filename), as ``iter_projects_at`` gives it; no file rows are read beyond that.
        """
        sources = self.subscriptions_at(repo, at)
        recorded = at
        if not sources:
            past = self.reconstruction(repo)
            if past is None or at > past.until:
                return []
            sources, recorded = past.sources, "9999"
        ids = [self.get_source(name).id for name in sources]
        subs = " UNION ALL ".join("SELECT ? AS source_id, ? AS position" for _ in ids)
        params: list[Any] = []
        for position, source_id in enumerate(ids):
            params += [source_id, position]
        visible = (
            "{f}.added_at < ? AND COALESCE({f}.recorded_at, {f}.added_at) < ? "
            "AND ({f}.removed_at IS NULL OR {f}.removed_at >= ?)"
        )
        params += [at, recorded, at, at, recorded, at]
        rows = self._query(
            f"""
            WITH subs AS ({subs}),
            live AS (
                SELECT p.id, p.name,
                       ROW_NUMBER() OVER (PARTITION BY p.name ORDER BY x.position) AS rank
                FROM projects p
                JOIN subs x ON x.source_id = p.source_id
                WHERE EXISTS (SELECT 1 FROM files f0 WHERE f0.project_id = p.id
                              AND {visible.format(f="f0")})
            )
            SELECT l.name,
                   (SELECT f.display_name FROM files f WHERE f.project_id = l.id
                      AND {visible.format(f="f")}
                    ORDER BY f.added_at DESC, f.filename LIMIT 1)
            FROM live l
            WHERE l.rank = 1
            ORDER BY l.name
            """,
            params,
        )
        return [(NormalizedName(r[0]), r[1]) for r in rows]

    def snapshot_days(self, repo: Repo) -> dict[str, tuple[str, bool]]:
        """Days written to the output: day → (render version, reconstructed)."""
        rows = self._query(
            "SELECT day, render_version, reconstructed FROM snapshots WHERE repo_id = ?",
            (repo.id,),
        )
        return {r[0]: (r[1], bool(r[2])) for r in rows}

    def record_snapshot(
        self, repo: Repo, day: str, render_version: str, at: datetime, reconstructed: bool
    ) -> None:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO snapshots (repo_id, day, render_version, written_at, reconstructed) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo_id, day) DO NOTHING",
                (repo.id, day, render_version, format_timestamp(at), int(reconstructed)),
            )

    def forget_snapshot(self, repo: Repo, day: str) -> None:
        """Drop a day from the written list (retention removed it from the output)."""
        with self._write() as cur:
            cur.execute("DELETE FROM snapshots WHERE repo_id = ? AND day = ?", (repo.id, day))

    def reconstruction(self, repo: Repo) -> Reconstruction | None:
        """The reconstructed past of ``repo``, or None when it has none.

        A repository that subscribes to a mirror source can show the days before it
        existed: those are replayed with the sources of its first subscription list that
        named a mirror source, from the files' effective times (upstream upload times of
        backfilled projects). They start at the earliest effective time of those sources'
        files and end at the repository's first subscription.
        """
        rows = self._query(
            "SELECT at, detail FROM events WHERE repo_id = ? AND kind = 'subscriptions_changed' "
            "ORDER BY at, id",
            (repo.id,),
        )
        if not rows:
            return None
        mirrors = {s.name for s in self.list_sources() if s.type != "local-python"}
        for _at, detail in rows:
            sources = tuple(json.loads(detail).get("sources", ()))
            if mirrors & set(sources):
                break
        else:
            return None
        ids = [self.get_source(name).id for name in sources]
        earliest = self._query(
            "SELECT f.added_at FROM files f WHERE f.project_id IN "
            f"(SELECT id FROM projects WHERE source_id IN ({', '.join('?' for _ in ids)})) "
            "ORDER BY f.added_at LIMIT 1",
            ids,
        )
        until = rows[0][0]
        if not earliest or earliest[0][0] >= until:
            return None
        return Reconstruction(start=earliest[0][0], until=until, sources=sources)

    # -- mirrors ------------------------------------------------------------------------

    def mirror_state(self, source: Source) -> MirrorState:
        """The watermark of a mirror source (empty before its first pass)."""
        rows = self._query(
            "SELECT root_etag, root_last_modified, serial, filters, synced_at, last_run_at, "
            "last_run_errors FROM mirror_sources WHERE source_id = ?",
            (source.id,),
        )
        if not rows:
            return MirrorState()
        r = rows[0]
        return MirrorState(
            root_etag=r[0], root_last_modified=r[1], serial=r[2], filters=r[3],
            synced_at=r[4], last_run_at=r[5], last_run_errors=r[6],
        )

    def record_mirror_run(
        self, source: Source, at: datetime, *, errors: int, root_etag: str | None,
        root_last_modified: str | None, serial: int | None, filters: str,
    ) -> None:
        """Close a sync pass: advance the watermark if ``errors`` is 0, else forget the
        root's validators so the next pass reads the root and retries what failed."""
        stamp = format_timestamp(at)
        with self._write() as cur:
            previous = cur.execute(
                "SELECT serial, synced_at FROM mirror_sources WHERE source_id = ?", (source.id,)
            ).fetchone()
            values: tuple[str | None, str | None, int | None, str, str | None]
            if errors == 0:
                values = (root_etag, root_last_modified, serial, filters, stamp)
            else:
                values = (None, None, previous[0] if previous else None, filters,
                          previous[1] if previous else None)
            cur.execute(
                "INSERT INTO mirror_sources (source_id, root_etag, root_last_modified, serial, "
                "filters, synced_at, last_run_at, last_run_errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (source_id) DO UPDATE SET root_etag = excluded.root_etag, "
                "root_last_modified = excluded.root_last_modified, serial = excluded.serial, "
                "filters = excluded.filters, synced_at = excluded.synced_at, "
                "last_run_at = excluded.last_run_at, last_run_errors = excluded.last_run_errors",
                (source.id, *values, stamp, errors),
            )

    def change_mirror_filters(self, source: Source, filters: str) -> None:
        """Record new filters: every project's validators are forgotten (each is fetched
        again by the next pass, or the one after if that is interrupted)."""
        with self._write() as cur:
            cur.execute(
                "UPDATE mirror_projects SET serial = NULL, etag = NULL, last_modified = NULL "
                "WHERE source_id = ?", (source.id,),
            )
            cur.execute(
                "INSERT INTO mirror_sources (source_id, root_etag, root_last_modified, serial, "
                "filters, synced_at, last_run_at, last_run_errors) "
                "VALUES (?, NULL, NULL, NULL, ?, NULL, NULL, 0) ON CONFLICT (source_id) DO UPDATE "
                "SET root_etag = NULL, root_last_modified = NULL, filters = excluded.filters",
                (source.id, filters),
            )

    def mirror_projects(self, source: Source) -> dict[NormalizedName, ProjectSync]:
        """What the mirror last saw of each upstream project of ``source``, by name."""
        rows = self._query(
            "SELECT name, serial, etag, last_modified, gone FROM mirror_projects "
            "WHERE source_id = ?",
            (source.id,),
        )
        return {
            NormalizedName(r[0]): ProjectSync(
                name=NormalizedName(r[0]), serial=r[1], etag=r[2], last_modified=r[3],
                gone=bool(r[4]),
            )
            for r in rows
        }

    def mirrored_files(self, source: Source, project: str) -> list[MirroredFile]:
        """Every file of ``project`` in ``source`` (removed ones too), by filename."""
        rows = self._query(
            "SELECT f.filename, f.sha256, f.yanked, f.yanked_reason, f.removed_at FROM files f "
            "JOIN projects p ON p.id = f.project_id WHERE p.source_id = ? AND p.name = ? "
            "ORDER BY f.filename",
            (source.id, canonicalize_name(project)),
        )
        return [
            MirroredFile(filename=r[0], sha256=r[1], yanked=bool(r[2]), yanked_reason=r[3],
                         removed=r[4] is not None)
            for r in rows
        ]

    def apply_mirror_changes(
        self, source: Source, changes: Sequence[ProjectChange], at: datetime
    ) -> tuple[str, ...]:
        """Apply the changes of many synced projects in one transaction; every event is at
        ``at``. Returns the filenames not added because the source already holds that
        name with other bytes or removed (a file name is forever)."""
        stamp = format_timestamp(at)
        refused: list[str] = []
        with self._write() as cur:
            for change in changes:
                project_id = self._mirror_project_id(cur, source, change)
                if project_id is not None:
                    refused += self._apply_project(cur, source, project_id, change, at)
                s = change.sync
                cur.execute(
                    "INSERT INTO mirror_projects (source_id, name, serial, etag, last_modified, "
                    "gone, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, name) "
                    "DO UPDATE SET serial = excluded.serial, etag = excluded.etag, "
                    "last_modified = excluded.last_modified, gone = excluded.gone, "
                    "synced_at = excluded.synced_at",
                    (source.id, s.name, s.serial, s.etag, s.last_modified, int(s.gone), stamp),
                )
        return tuple(refused)

    @staticmethod
    def _mirror_project_id(
        cur: Cursor, source: Source, change: ProjectChange
    ) -> int | None:
        row = cur.execute(
            "SELECT id FROM projects WHERE source_id = ? AND name = ?",
            (source.id, change.project),
        ).fetchone()
        if row is not None:
            if change.add:
                cur.execute(
                    "UPDATE projects SET display_name = ? WHERE id = ?",
                    (change.display_name, row[0]),
                )
            return int(row[0])
        if not change.add:
            return None
        cur.execute(
            "INSERT INTO projects (source_id, name, display_name, summary, last_event_id) "
            "VALUES (?, ?, ?, '', 0)",
            (source.id, change.project, change.display_name),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _apply_project(
        self, cur: Cursor, source: Source, project_id: int, change: ProjectChange,
        at: datetime,
    ) -> list[str]:
        refused: list[str] = []
        for new in change.add:
            record = new.record
            # CROSS JOIN: files by name first (files_by_filename); the planner's own
            # choice walked every project of the source, per file (quadratic: a 5,000
            # project first sync spent 75% of its time here).
            if cur.execute(
                "SELECT 1 FROM files f CROSS JOIN projects p ON p.id = f.project_id "
                "WHERE f.filename = ? AND p.source_id = ?",
                (record.filename, source.id),
            ).fetchone():
                refused.append(record.filename)
                continue
            _insert_file(cur, project_id, change.display_name, record, at,
                         effective=new.effective_at)
            file_id = cur.lastrowid
            self._event(cur, at, "file_added", source_id=source.id, project_id=project_id,
                        file_id=file_id, detail={"filename": record.filename})
            if record.yanked:
                self._event(cur, at, "file_yanked", source_id=source.id,
                            project_id=project_id, file_id=file_id,
                            detail={"filename": record.filename,
                                    "reason": record.yanked_reason})
        updates: list[tuple[str, str, EventKind, str]] = [
            *((name, "UPDATE files SET yanked = 1, yanked_reason = ? WHERE id = ?",
               "file_yanked", reason) for name, reason in change.yank),
            *((name, "UPDATE files SET yanked = 0, yanked_reason = ? WHERE id = ?",
               "file_unyanked", "") for name in change.unyank),
        ]
        for name, sql, kind, reason in updates:
            row = cur.execute(
                "SELECT id FROM files WHERE project_id = ? AND filename = ? "
                "AND removed_at IS NULL", (project_id, name),
            ).fetchone()
            if row is not None:
                cur.execute(sql, (reason, row[0]))
                self._event(cur, at, kind, source_id=source.id, project_id=project_id,
                            file_id=row[0], detail={"filename": name, "reason": reason})
        for name in change.remove:
            row = cur.execute(
                "SELECT id FROM files WHERE project_id = ? AND filename = ? "
                "AND removed_at IS NULL", (project_id, name),
            ).fetchone()
            if row is not None:
                cur.execute("UPDATE files SET removed_at = ? WHERE id = ?",
                            (format_timestamp(at), row[0]))
                self._event(cur, at, "file_removed", source_id=source.id,
                            project_id=project_id, file_id=row[0], detail={"filename": name})
        return refused

    def upstream_file(self, sha256: str, filename: str) -> UpstreamFileRef | None:
        """The upstream of a mirrored file with this content and name (removed ones too:
        dated snapshots may still list them), or None."""
        rows = self._query(
            "SELECT filename, sha256, url, size, metadata_sha256 FROM files "
            "WHERE sha256 = ? AND filename = ? AND url IS NOT NULL ORDER BY id LIMIT 1",
            (sha256, filename),
        )
        if not rows:
            return None
        r = rows[0]
        return UpstreamFileRef(filename=r[0], sha256=r[1], url=r[2], size=r[3],
                               metadata_sha256=r[4])

    def set_curated_list(self, source: Source, curated: CuratedList) -> None:
        """Record a new list for a ``curated-pypi`` source (earlier lists stay, as history)."""
        with self._write() as cur:
            cur.execute(
                "INSERT INTO curated_lists (source_id, requirements, closure, python_versions, "
                "compiled, tool, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (source.id, "\n".join(curated.requirements), int(curated.closure),
                 ",".join(curated.python_versions), "\n".join(curated.compiled), curated.tool,
                 curated.updated_at),
            )

    def curated_list(self, source: Source) -> CuratedList | None:
        """The list `timeshelf update` set last for ``source``, or None."""
        rows = self._query(
            "SELECT requirements, closure, python_versions, compiled, tool, updated_at "
            "FROM curated_lists WHERE source_id = ? ORDER BY id DESC LIMIT 1",
            (source.id,),
        )
        if not rows:
            return None
        r = rows[0]
        return CuratedList(
            requirements=tuple(x for x in r[0].split("\n") if x), closure=bool(r[1]),
            python_versions=tuple(x for x in r[2].split(",") if x),
            compiled=tuple(x for x in r[3].split("\n") if x), tool=r[4], updated_at=r[5],
        )

    # -- API tokens ---------------------------------------------------------------------

    def add_token(self, record: TokenRecord) -> None:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO tokens (id, description, sources, scopes, created_at, expires_at, "
                "last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                (
                    record.id, record.description, ",".join(record.sources),
                    ",".join(record.scopes), record.created_at, record.expires_at,
                ),
            )

    def get_token(self, token_id: str) -> TokenRecord | None:
        rows = self._query(
            "SELECT id, description, sources, scopes, created_at, expires_at, last_used_at, "
            "revoked_at FROM tokens WHERE id = ?",
            (token_id,),
        )
        return _token(rows[0]) if rows else None

    def list_tokens(self) -> list[TokenRecord]:
        rows = self._query(
            "SELECT id, description, sources, scopes, created_at, expires_at, last_used_at, "
            "revoked_at FROM tokens ORDER BY created_at, id"
        )
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, at: datetime) -> TokenRecord:
        """Revoke a token (idempotent); ``NotFound`` for an unknown id."""
        with self._write() as cur:
            if not cur.execute("SELECT 1 FROM tokens WHERE id = ?", (token_id,)).fetchone():
                raise NotFound(
                    f"unknown token id {token_id!r}: `timeshelf list tokens` shows the ids"
                )
            cur.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (format_timestamp(at), token_id),
            )
        record = self.get_token(token_id)
        assert record is not None
        return record

    def touch_token(self, token_id: str, at: datetime) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE tokens SET last_used_at = ? WHERE id = ?", (format_timestamp(at), token_id)
            )


def _same_distribution(
    rows: Sequence[Sequence[Any]], project: NormalizedName, filename: str
) -> tuple[FileRecord, bool] | None:
    """The first of ``rows`` (``_SIBLING_FILES``: live files first) naming ``filename``'s
    distribution. Identities are compared here, not in SQL: ``1.0`` and ``1.0.0`` are one
    version, and tags are sets (``py2.py3`` holds ``py3``, but is not ``py3``)."""
    wanted = distribution_identity(filename, project)
    if wanted is None:
        return None
    for row in rows:
        if distribution_identity(row[0], project) == wanted:
            return _file_from_row(row[:12]), row[12] is not None
    return None


def same_distribution_error(
    source: Source, filename: str, existing: FileRecord, removed: bool
) -> SameDistributionExists | SameDistributionRemoved:
    """The error for ``filename`` being another spelling of ``existing`` in ``source``."""
    if removed:
        return SameDistributionRemoved(
            filename, existing.filename, source.name, existing.packagetype
        )
    return SameDistributionExists(
        filename, existing.filename, existing.sha256, source.name, existing.packagetype
    )


def _project(head: Sequence[Any], files: list[FileRecord]) -> ProjectState:
    return ProjectState(
        name=NormalizedName(head[0]), display_name=head[1], serial=int(head[2]),
        source=head[3], files=tuple(files),
    )


def _token(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        id=row[0], description=row[1], sources=tuple(x for x in row[2].split(",") if x),
        scopes=tuple(x for x in row[3].split(",") if x), created_at=row[4], expires_at=row[5],
        last_used_at=row[6], revoked_at=row[7],
    )


def _insert_file(
    cur: Cursor, project_id: int | None, display_name: str, record: FileRecord,
    at: datetime, *, effective: datetime | str | None = None,
) -> None:
    """Insert a file row recorded at ``at`` that counts from ``effective`` (default ``at``)."""
    stamp = format_timestamp(at)
    if isinstance(effective, datetime):
        effective = format_timestamp(effective)
    cur.execute(
        "INSERT INTO files (project_id, filename, version, packagetype, sha256, blake2_256, "
        "size, requires_python, upload_time, metadata_sha256, has_signature, yanked, "
        "yanked_reason, removed_at, added_at, signed_at, display_name, recorded_at, url) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
        (
            project_id, record.filename, record.version, record.packagetype, record.sha256,
            record.blake2_256, record.size, record.requires_python, record.upload_time,
            record.metadata_sha256, int(record.has_signature), int(record.yanked),
            record.yanked_reason, effective or stamp, stamp if record.has_signature else None,
            display_name, stamp, record.url,
        ),
    )
