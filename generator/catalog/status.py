"""PEP 792 project status: active, archived, quarantined or deprecated, per project of a
source (the ``project_statuses`` table).

A status belongs to a project *of a source*, as files do: the repository shows the status
of the source that owns the project (source priority). Every change appends a row (its
time, status, reason and origin: ``admin`` or ``upstream``) and a ``project_status``
event in the same transaction: the event moves the project's serial, so incremental
generation and the snapshot days see the change; the rows are what a replay reads (the
status just before an instant is the last row before it), so a day that ended before a
change keeps the status it had. A project without rows is ``active``. An administrator's
status other than active is never replaced by a mirror's sync (``record_status``).

What a status does is decided elsewhere: rendering (``generator.render.simple``: a
quarantined project lists no files), the withheld files (``generator.output.withheld``),
intake (``generator.intake.ingest``: archived and quarantined projects take no uploads).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, cast

from packaging.utils import NormalizedName, canonicalize_name

from generator.catalog.database import Database, append_event
from generator.catalog.dialect import Cursor
from generator.catalog.files import find_project
from generator.clock import format_timestamp
from generator.errors import InvalidName, NotFound
from generator.records import (
    ACTIVE,
    PROJECT_STATUSES,
    ProjectState,
    ProjectStatus,
    ProjectStatusName,
    Source,
)

# The longest reason a status keeps: it is shown in every page's <meta> and the 403 of
# every withheld file, so it stays a sentence, not a document.
MAX_REASON = 500

StatusKey = tuple[str, NormalizedName]  # (source name, project)
Origin = Literal["admin", "upstream"]


def check_status(status: str, reason: str) -> ProjectStatus:
    """The status record for a status word and a reason; ``InvalidName`` naming the valid
    words for an unknown one, a reason over ``MAX_REASON`` characters or one holding a
    control character (a line break would split the one-line answers that quote it)."""
    if status not in PROJECT_STATUSES:
        raise InvalidName(
            f"unknown project status {status!r}: use one of {', '.join(PROJECT_STATUSES)} "
            "(PEP 792)"
        )
    if len(reason) > MAX_REASON:
        raise InvalidName(
            f"the reason is {len(reason)} characters long: at most {MAX_REASON} are kept"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in reason):
        raise InvalidName("the reason holds a line break or control character: give one line")
    return ProjectStatus(status=cast(ProjectStatusName, status), reason=reason)


def upstream_status(status: Any, reason: Any) -> ProjectStatus | None:
    """The status an upstream page declares, or None when it declares none we know
    (absent, not a string, a word PEP 792 does not define). The reason is kept to one line
    of at most ``MAX_REASON`` characters."""
    if not isinstance(status, str) or status not in PROJECT_STATUSES:
        return None
    text = " ".join(reason.split()) if isinstance(reason, str) else ""
    text = "".join(ch for ch in text if ord(ch) >= 32 and ord(ch) != 127)[:MAX_REASON]
    return ProjectStatus(status=cast(ProjectStatusName, status), reason=text)


def record_status(
    cur: Cursor, source: Source, project_id: int, status: ProjectStatus, at: datetime,
    *, origin: Origin = "admin",
) -> bool:
    """Append ``status`` for a project in the transaction of ``cur`` unless it is the
    project's status already; True when it changed (a row and an event were written).

    An upstream's status (``origin="upstream"``, a mirror's sync) never replaces one an
    administrator set other than active: `timeshelf status P active` hands the project
    back to its upstream.
    """
    row = cur.execute(
        "SELECT status, reason, origin FROM project_statuses WHERE project_id = ? "
        "ORDER BY at DESC, id DESC LIMIT 1",
        (project_id,),
    ).fetchone()
    current = ACTIVE if row is None else ProjectStatus(status=row[0], reason=row[1])
    if origin == "upstream" and row is not None and row[2] == "admin" and current != ACTIVE:
        return False
    if current == status:
        return False
    cur.execute(
        "INSERT INTO project_statuses (project_id, at, status, reason, origin) "
        "VALUES (?, ?, ?, ?, ?)",
        (project_id, format_timestamp(at), status.status, status.reason, origin),
    )
    append_event(
        cur, at, "project_status", source_id=source.id, project_id=project_id,
        detail={"status": status.status, "reason": status.reason, "origin": origin},
    )
    return True


class Statuses:
    """The ``project_statuses`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set_status(
        self, source: Source, project: str, status: ProjectStatus, at: datetime
    ) -> bool:
        """Give ``project`` of ``source`` the status; True when it changed, False when it
        was already that. ``NotFound`` when the source has no such project."""
        with self._db.write() as cur:
            project_id = find_project(cur, source.id, canonicalize_name(project))
            if project_id is None:
                raise NotFound(
                    f"project {project!r} is not in source {source.name!r} (nothing changed)"
                )
            return record_status(cur, source, project_id, status, at)

    def status_of(self, source: Source, project: str) -> ProjectStatus:
        """The status of ``project`` of ``source`` now (``ACTIVE`` for one without any,
        or not in the source)."""
        rows = self._db.query(
            "SELECT s.status, s.reason FROM project_statuses s JOIN projects p "
            "ON p.id = s.project_id WHERE p.source_id = ? AND p.name = ? "
            "ORDER BY s.at DESC, s.id DESC LIMIT 1",
            (source.id, canonicalize_name(project)),
        )
        return ACTIVE if not rows else ProjectStatus(status=rows[0][0], reason=rows[0][1])

    def statuses(self, at: str | None = None) -> dict[StatusKey, ProjectStatus]:
        """Every project's status other than active, now or just before the instant
        ``at`` (``clock`` form), by (source name, project)."""
        sql = (
            "SELECT s.project_id, src.name, p.name, s.status, s.reason FROM project_statuses s "
            "JOIN projects p ON p.id = s.project_id JOIN sources src ON src.id = p.source_id"
        )
        params: tuple[str, ...] = ()
        if at is not None:
            sql += " WHERE s.at < ?"
            params = (at,)
        found: dict[StatusKey, ProjectStatus] = {}
        for _id, source, name, status, reason in self._db.query(
            sql + " ORDER BY s.at, s.id", params
        ):
            found[(source, NormalizedName(name))] = ProjectStatus(status=status, reason=reason)
        return {k: v for k, v in found.items() if v != ACTIVE}

    def with_statuses(
        self, projects: Iterable[ProjectState], at: str | None = None
    ) -> Iterator[ProjectState]:
        """``projects`` with the status each had now (or just before ``at``)."""
        table = self.statuses(at)
        for project in projects:
            status = table.get((project.source, project.name)) if table else None
            yield project if status is None else replace(project, status=status)

    def quarantined_files(self) -> list[tuple[str, str, str, str]]:
        """(sha256, filename, project, reason) of every file (removed ones too: dated
        snapshots list them) of a project that is quarantined now, by sha256."""
        table = {k: v for k, v in self.statuses().items() if v.is_quarantined}
        if not table:
            return []
        rows = self._db.query(
            "SELECT f.sha256, f.filename, src.name, p.name, p.display_name FROM files f "
            "JOIN projects p ON p.id = f.project_id JOIN sources src ON src.id = p.source_id "
            "WHERE p.id IN (SELECT DISTINCT project_id FROM project_statuses "
            "WHERE status = 'quarantined') ORDER BY f.sha256, f.filename",
        )
        found = []
        for sha256, filename, source, name, display in rows:
            status = table.get((source, NormalizedName(name)))
            if status is not None:
                found.append((sha256, filename, display, status.reason))
        return found
