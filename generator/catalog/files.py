"""The files of the sources: adding (one or a batch), signing, yanking and removing.

A filename is forever in a source: removal only sets ``removed_at``, and a name (or
another spelling of the same distribution, ``naming.distribution_identity``) is never
given to other bytes. This module also owns the writes every file change shares: the
project row (``upsert_project``) and a new file row with its events (``insert_file``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from generator.catalog.database import Database, append_event
from generator.catalog.dialect import Cursor
from generator.clock import format_timestamp
from generator.errors import (
    FileAlreadyExists,
    FileRemoved,
    NotFound,
    SameDistributionExists,
    SameDistributionRemoved,
)
from generator.naming import distribution_identity, is_same_version, version_sort_key
from generator.records import FileEntry, FileRecord, KnownFile, Source

FILE_COLUMNS = (
    "f.filename, f.version, f.packagetype, f.sha256, f.blake2_256, f.size, f.requires_python, "
    "f.upload_time, f.metadata_sha256, f.has_signature, f.yanked, f.yanked_reason"
)
# The files of one kind of a project in a source, but one filename: those another
# spelling of that filename could collide with (``_same_distribution``).
_SIBLING_FILES = (
    f"SELECT {FILE_COLUMNS}, f.removed_at FROM files f JOIN projects p ON p.id = f.project_id "
    "WHERE p.source_id = ? AND p.name = ? AND f.packagetype = ? AND f.filename <> ? "
    "ORDER BY f.removed_at IS NOT NULL, f.filename"
)


class Files:
    """The ``files`` table (and the project rows files create)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def find_file(self, source: Source, filename: str) -> KnownFile | None:
        """The file of that name in the source (removed or not), or None."""
        rows = self._db.query(
            f"SELECT {FILE_COLUMNS}, f.removed_at FROM files f "
            "JOIN projects p ON p.id = f.project_id WHERE p.source_id = ? AND f.filename = ?",
            (source.id, filename),
        )
        return _known(rows[0]) if rows else None

    def find_same_distribution(
        self, source: Source, project: NormalizedName, filename: str, packagetype: str
    ) -> KnownFile | None:
        """Another file of the source that is the same distribution as ``filename``
        (``naming.distribution_identity``), removed or not, or None.

        The exact ``filename`` is ``find_file``'s: it is never its own other spelling.
        """
        rows = self._db.query(_SIBLING_FILES, (source.id, project, packagetype, filename))
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
        with self._db.write() as cur:
            existing = stored_file(cur, source.id, record.filename)
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
                raise same_distribution_error(source, record.filename, same)
            project_id = upsert_project(cur, source.id, project, display_name, summary)
            insert_file(cur, source.id, project_id, display_name, record, at)
        return True

    def add_files(self, source: Source, entries: Iterable[FileEntry], at: datetime) -> int:
        """Record many stored files in one transaction (imports, benchmarks); every file
        counts from ``at``, the time of every event. Returns how many files were new.

        A filename already in the source is skipped when identical and raises
        ``FileAlreadyExists`` otherwise (the whole batch is then rolled back). Projects
        already in the source keep their display name and summary.
        """
        added = 0
        with self._db.write() as cur:
            project_ids: dict[str, int] = {}
            for entry in entries:
                record = entry.record
                existing = stored_file(cur, source.id, record.filename)
                if existing is not None:
                    if existing[0] != record.sha256:
                        raise FileAlreadyExists(record.filename, existing[0])
                    continue
                project_id = project_ids.get(entry.project)
                if project_id is None:
                    project_id = upsert_project(
                        cur, source.id, entry.project, entry.display_name, entry.summary,
                        rename=False,
                    )
                    project_ids[entry.project] = project_id
                insert_file(cur, source.id, project_id, entry.display_name, record, at)
                added += 1
        return added

    def set_signature(self, source: Source, filename: str, at: datetime) -> None:
        """Mark a stored file as signed (its ``.asc`` was stored after the file).

        Recorded as a ``file_signed`` event, so pages (and snapshots) pick it up.
        """
        with self._db.write() as cur:
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
            append_event(
                cur, at, "file_signed", source_id=source.id, project_id=row[1],
                file_id=row[0], detail={"filename": filename},
            )

    def set_yanked(
        self, source: Source, project: str, version: str, yanked: bool, reason: str,
        at: datetime,
    ) -> int:
        """Yank or un-yank every file of a version (PEP 592); return how many changed."""
        with self._db.write() as cur:
            project_id, files = _project_files(cur, source, project)
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
                append_event(
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
        with self._db.write() as cur:
            project_id, files = _project_files(cur, source, project)
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
                append_event(
                    cur, at, "file_removed", source_id=source.id, project_id=project_id,
                    file_id=file_id, detail={"filename": name},
                )
            return tuple(f[1] for f in chosen)


def same_distribution_error(
    source: Source, filename: str, same: KnownFile
) -> SameDistributionExists | SameDistributionRemoved:
    """The error for ``filename`` being another spelling of ``same`` in ``source``."""
    existing = same.record
    if same.removed:
        return SameDistributionRemoved(
            filename, existing.filename, source.name, existing.packagetype
        )
    return SameDistributionExists(
        filename, existing.filename, existing.sha256, source.name, existing.packagetype
    )


def file_from_row(row: Sequence[Any]) -> FileRecord:
    """The record of a row that starts with ``FILE_COLUMNS``; a 13th column, when a query
    selects it, is the upstream URL of a mirrored file."""
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


def find_project(cur: Cursor, source_id: int, name: str) -> int | None:
    """The id of the project ``name`` (normalized) of a source, or None."""
    row = cur.execute(
        "SELECT id FROM projects WHERE source_id = ? AND name = ?", (source_id, name)
    ).fetchone()
    return None if row is None else int(row[0])


def upsert_project(
    cur: Cursor, source_id: int, name: NormalizedName, display_name: str,
    summary: str | None, *, rename: bool = True,
) -> int:
    """The id of the project ``name`` of a source, created when missing (no summary when
    ``summary`` is None). With ``rename``, a project already there takes ``display_name``
    (and ``summary`` unless it is None)."""
    project_id = find_project(cur, source_id, name)
    if project_id is None:
        cur.execute(
            "INSERT INTO projects (source_id, name, display_name, summary, last_event_id) "
            "VALUES (?, ?, ?, ?, 0)",
            (source_id, name, display_name, summary or ""),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
    if rename and summary is None:
        cur.execute(
            "UPDATE projects SET display_name = ? WHERE id = ?", (display_name, project_id)
        )
    elif rename:
        cur.execute(
            "UPDATE projects SET display_name = ?, summary = ? WHERE id = ?",
            (display_name, summary, project_id),
        )
    return project_id


def stored_file(cur: Cursor, source_id: int, filename: str) -> tuple[str, str | None] | None:
    """(sha256, removed_at) of the file ``filename`` of a source, or None."""
    # CROSS JOIN: files by name first (files_by_filename); the planner's own choice
    # walked every project of the source, per file (quadratic: a 5,000 project first
    # mirror sync spent 75% of its time here).
    row = cur.execute(
        "SELECT f.sha256, f.removed_at FROM files f CROSS JOIN projects p "
        "ON p.id = f.project_id WHERE f.filename = ? AND p.source_id = ?",
        (filename, source_id),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def insert_file(
    cur: Cursor, source_id: int, project_id: int, display_name: str, record: FileRecord,
    at: datetime, *, effective: str | None = None,
) -> None:
    """Insert a file row recorded at ``at`` that counts from ``effective`` (default ``at``),
    with its ``file_added`` event (and ``file_yanked`` for a yanked record: snapshots read
    yank state from events only)."""
    stamp = format_timestamp(at)
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
    file_id = cur.lastrowid
    append_event(
        cur, at, "file_added", source_id=source_id, project_id=project_id,
        file_id=file_id, detail={"filename": record.filename},
    )
    if record.yanked:
        append_event(
            cur, at, "file_yanked", source_id=source_id, project_id=project_id,
            file_id=file_id, detail={"filename": record.filename, "reason": record.yanked_reason},
        )


def _project_files(
    cur: Cursor, source: Source, project: str
) -> tuple[int, list[tuple[int, str, str, int, str]]]:
    """The id of ``project`` in ``source`` and its live files (id, filename, version,
    yanked, reason) by filename; ``NotFound`` when the source has no such project."""
    project_id = find_project(cur, source.id, canonicalize_name(project))
    if project_id is None:
        raise NotFound(f"project {project!r} is not in source {source.name!r}")
    files = cur.execute(
        "SELECT id, filename, version, yanked, yanked_reason FROM files "
        "WHERE project_id = ? AND removed_at IS NULL ORDER BY filename",
        (project_id,),
    ).fetchall()
    return project_id, files


def _known(row: Sequence[Any]) -> KnownFile:
    """A row of ``FILE_COLUMNS`` and ``removed_at``."""
    return KnownFile(record=file_from_row(row[:12]), removed=row[12] is not None)


def _same_distribution(
    rows: Sequence[Sequence[Any]], project: NormalizedName, filename: str
) -> KnownFile | None:
    """The first of ``rows`` (``_SIBLING_FILES``: live files first) naming ``filename``'s
    distribution. Identities are compared here, not in SQL: ``1.0`` and ``1.0.0`` are one
    version, and tags are sets (``py2.py3`` holds ``py3``, but is not ``py3``)."""
    wanted = distribution_identity(filename, project)
    if wanted is None:
        return None
    for row in rows:
        if distribution_identity(row[0], project) == wanted:
            return _known(row)
    return None
