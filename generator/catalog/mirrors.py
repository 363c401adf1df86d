"""What the catalog keeps for mirror sources: watermarks, per-project validators, synced
file changes, upstream file locations and curated requirement lists.

``generator.mirror.sync`` plans the changes of a pass; ``apply_mirror_changes`` writes
many projects' changes in one transaction, with the same file rows and events as uploads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from packaging.utils import NormalizedName, canonicalize_name

from generator.catalog.database import Database, append_event
from generator.catalog.dialect import Cursor
from generator.catalog.files import find_project, insert_file, stored_file, upsert_project
from generator.catalog.status import record_status
from generator.clock import format_timestamp
from generator.records import (
    CuratedList,
    EventKind,
    MirroredFile,
    MirrorState,
    ProjectChange,
    ProjectSync,
    Source,
    UpstreamFileRef,
)


class Mirrors:
    """The ``mirror_sources``, ``mirror_projects`` and ``curated_lists`` tables, and the
    mirrored files."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def mirror_state(self, source: Source) -> MirrorState:
        """The watermark of a mirror source (empty before its first pass)."""
        rows = self._db.query(
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
        with self._db.write() as cur:
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
        with self._db.write() as cur:
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
        rows = self._db.query(
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
        rows = self._db.query(
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
        with self._db.write() as cur:
            for change in changes:
                if change.add:
                    project_id: int | None = upsert_project(
                        cur, source.id, change.project, change.display_name, None
                    )
                else:
                    project_id = find_project(cur, source.id, change.project)
                if project_id is not None:
                    refused += _apply_project(cur, source, project_id, change, at)
                    if change.status is not None:
                        record_status(cur, source, project_id, change.status, at,
                                      origin="upstream")
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

    def upstream_file(self, sha256: str, filename: str) -> UpstreamFileRef | None:
        """The upstream of a mirrored file with this content and name (removed ones too:
        dated snapshots may still list them), or None."""
        rows = self._db.query(
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
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO curated_lists (source_id, requirements, closure, python_versions, "
                "compiled, tool, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (source.id, "\n".join(curated.requirements), int(curated.closure),
                 ",".join(curated.python_versions), "\n".join(curated.compiled), curated.tool,
                 curated.updated_at),
            )

    def curated_list(self, source: Source) -> CuratedList | None:
        """The list `timeshelf update` set last for ``source``, or None."""
        rows = self._db.query(
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


def _apply_project(
    cur: Cursor, source: Source, project_id: int, change: ProjectChange, at: datetime
) -> list[str]:
    """Write one project's changes; return the filenames refused (see
    ``Mirrors.apply_mirror_changes``)."""
    refused: list[str] = []
    for new in change.add:
        if stored_file(cur, source.id, new.record.filename) is not None:
            refused.append(new.record.filename)
            continue
        insert_file(cur, source.id, project_id, change.display_name, new.record, at,
                    effective=new.effective_at)
    updates: list[tuple[str, str, EventKind, str]] = [
        *((name, "UPDATE files SET yanked = 1, yanked_reason = ? WHERE id = ?",
           "file_yanked", reason) for name, reason in change.yank),
        *((name, "UPDATE files SET yanked = 0, yanked_reason = ? WHERE id = ?",
           "file_unyanked", "") for name in change.unyank),
    ]
    for name, sql, kind, reason in updates:
        file_id = _live_file(cur, project_id, name)
        if file_id is not None:
            cur.execute(sql, (reason, file_id))
            append_event(cur, at, kind, source_id=source.id, project_id=project_id,
                         file_id=file_id, detail={"filename": name, "reason": reason})
    for name in change.remove:
        file_id = _live_file(cur, project_id, name)
        if file_id is not None:
            cur.execute("UPDATE files SET removed_at = ? WHERE id = ?",
                        (format_timestamp(at), file_id))
            append_event(cur, at, "file_removed", source_id=source.id,
                         project_id=project_id, file_id=file_id, detail={"filename": name})
    return refused


def _live_file(cur: Cursor, project_id: int, filename: str) -> int | None:
    """The id of the project's file ``filename`` when it is not removed, else None."""
    row = cur.execute(
        "SELECT id FROM files WHERE project_id = ? AND filename = ? AND removed_at IS NULL",
        (project_id, filename),
    ).fetchone()
    return None if row is None else int(row[0])
