"""Cooldown repositories: files listed only once they are old enough, and allowances.

A cooldown repository lists a file only once its upload time (the upstream's
``upload-time`` for a mirrored file, its arrival for a local one: both are the catalog's
``upload_time``) is at least the cooldown old; files of exempt sources are listed at once,
and an allowance lets a release (or the files of a project uploaded by then) in early.
The rule is ``CooldownPolicy.is_listed``, applied by the live listing (``Live``) and by
dated replays (``History``) alike; which project owns a name is decided before it (by
source priority over files not removed), so a local name held back by a cooldown is never
replaced by a mirror's files of the same name.

Everything that changes what a cooldown repository lists is in the event log, with its
time, so a dated day replays it: ``cooldown_changed`` (repository events: a day with one
is replayed whole), ``cooldown_allowed``/``cooldown_revoked`` (about the allowed project)
and ``cooldown_of_age``, written by each generation for the files that came of age since
the last one (``record_coming_of_age``, at the instant each did), so incremental
generation and snapshot days notice them like any other change. These events leave a
project's serial (``_last-serial``) alone: they change what a repository lists, not the
project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from generator.catalog.database import Database, marks
from generator.catalog.dialect import Cursor
from generator.catalog.sources import Sources
from generator.catalog.tokens import parse_duration
from generator.clock import format_timestamp, parse_timestamp
from generator.errors import NotFound, TimeshelfError
from generator.records import (
    CooldownAllowance,
    CooldownMark,
    CooldownSettings,
    FileRecord,
    ProjectState,
    Repo,
)

# Events about what a cooldown repository lists, not about a project's files: a
# project's serial leaves them out.
COOLDOWN_PROJECT_EVENTS = ("cooldown_of_age", "cooldown_allowed", "cooldown_revoked")


class InvalidCooldown(TimeshelfError, ValueError):
    """A cooldown duration, or an allowance's ``PROJECT[==VERSION]``, that is not valid."""


def parse_cooldown(text: str) -> int | None:
    """``7d``, ``36h``, ``2w`` … → seconds (the token expiry syntax); ``none`` → None."""
    if text.strip().lower() == "none":
        return None
    try:
        duration = parse_duration(text) if text.strip().lower() != "never" else None
    except ValueError:
        duration = None
    if duration is None:
        raise InvalidCooldown(
            f"invalid cooldown {text!r}: use a number and a unit (s, m, h, d, w), "
            "e.g. 7d or 36h, or 'none'"
        )
    return int(duration.total_seconds())


def parse_release(text: str) -> tuple[NormalizedName, str | None]:
    """``PROJECT`` or ``PROJECT==VERSION`` → (normalized name, canonical version or None)."""
    name, sep, version = text.strip().partition("==")
    if not name or (sep and not version) or any(c in name for c in "<>=!~; @"):
        raise InvalidCooldown(
            f"invalid release {text!r}: use PROJECT or PROJECT==VERSION, e.g. mylib==1.2.0"
        )
    if not sep:
        return canonicalize_name(name), None
    try:
        return canonicalize_name(name), str(Version(version))
    except InvalidVersion as e:
        raise InvalidCooldown(
            f"invalid release {text!r}: {version!r} is not a PEP 440 version "
            "(use PROJECT==VERSION, e.g. mylib==1.2.0)"
        ) from e


def format_cooldown(seconds: int) -> str:
    """Seconds in the largest unit that divides them: ``7d``, ``36h``, ``90m``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_cooldown(settings: CooldownSettings | None) -> str:
    """``7d (exempt: local)``, or ``none``: a cooldown as the CLI and the web UI say it."""
    if settings is None:
        return "none"
    exempt = f" (exempt: {', '.join(settings.exempt)})" if settings.exempt else ""
    return f"{format_cooldown(settings.seconds)}{exempt}"


def comes_of_age_at(upload_time: str, settings: CooldownSettings) -> str:
    """The instant from which a file uploaded at ``upload_time`` is listed."""
    return format_timestamp(parse_timestamp(upload_time) + timedelta(seconds=settings.seconds))


def is_of_age(upload_time: str, source: str, at: datetime, settings: CooldownSettings) -> bool:
    """True when a file of ``source`` uploaded at ``upload_time`` is listed just before
    the instant ``at`` under ``settings`` (allowances aside)."""
    if source in settings.exempt:
        return True
    return upload_time < format_timestamp(at - timedelta(seconds=settings.seconds))


@dataclass(frozen=True, slots=True, kw_only=True)
class CooldownPolicy:
    """A repository's cooldown as it stands just before ``at``: its settings and the
    allowances in force then. ``is_listed`` is the one visibility rule."""

    settings: CooldownSettings
    at: datetime
    allowances: tuple[CooldownAllowance, ...] = ()
    # ``at`` minus the cooldown, in catalog form: a file uploaded before it is of age.
    cutoff: str = ""

    @classmethod
    def build(
        cls, settings: CooldownSettings, at: datetime,
        allowances: tuple[CooldownAllowance, ...] = (),
    ) -> CooldownPolicy:
        return cls(
            settings=settings, at=at, allowances=allowances,
            cutoff=format_timestamp(at - timedelta(seconds=settings.seconds)),
        )

    def allowance_for(self, project: str, file: FileRecord) -> CooldownAllowance | None:
        """The allowance that lets ``file`` of ``project`` in early, if one does."""
        for allowance in self.allowances:
            if allowance.project != project:
                continue
            if allowance.version is None:
                if file.upload_time <= allowance.allowed_at:
                    return allowance
            elif canonicalize_version(file.version) == canonicalize_version(allowance.version):
                return allowance
        return None

    def is_listed(self, project: str, source: str, file: FileRecord) -> bool:
        """True when the repository lists ``file`` of ``project`` (owned by ``source``)."""
        if source in self.settings.exempt or file.upload_time < self.cutoff:
            return True
        return self.allowance_for(project, file) is not None

    def apply(self, project: ProjectState) -> ProjectState | None:
        """``project`` with only its listed files, marked with the versions waiting or
        allowed (``ProjectState.cooldown``); None when none of its files is listed."""
        if project.source in self.settings.exempt:
            return project
        kept: list[FileRecord] = []
        waiting: dict[str, str] = {}
        allowed: dict[str, str] = {}
        for file in project.files:
            if file.upload_time < self.cutoff:
                kept.append(file)
                continue
            allowance = self.allowance_for(project.name, file)
            if allowance is not None:
                kept.append(file)
                allowed.setdefault(file.version, allowance.reason)
                continue
            due = comes_of_age_at(file.upload_time, self.settings)
            waiting[file.version] = max(waiting.get(file.version, due), due)
        if not kept:
            return None
        if not waiting and not allowed:
            return project
        found = [
            CooldownMark(project=project.name, version=v, comes_of_age_at=d)
            for v, d in waiting.items() if v not in allowed
        ] + [
            CooldownMark(project=project.name, version=v, allowed_reason=r)
            for v, r in allowed.items()
        ]
        return replace(project, files=tuple(kept), cooldown=tuple(
            sorted(found, key=lambda m: (m.version, m.comes_of_age_at or ""))
        ))

    def waiting(self, project: ProjectState) -> list[CooldownMark]:
        """The versions of ``project`` not listed yet, each with when it comes in."""
        if project.source in self.settings.exempt:
            return []
        due: dict[str, str] = {}
        for file in project.files:
            if not self.is_listed(project.name, project.source, file):
                at = comes_of_age_at(file.upload_time, self.settings)
                due[file.version] = max(due.get(file.version, at), at)
        return [CooldownMark(project=project.name, version=v, comes_of_age_at=at)
                for v, at in sorted(due.items())]


class Cooldowns:
    """The ``cooldown_settings`` and ``cooldown_allowances`` tables, and their events."""

    def __init__(self, db: Database, sources: Sources) -> None:
        self._db = db
        self._sources = sources

    # -- settings --------------------------------------------------------------------

    def cooldown(self, repo: Repo) -> CooldownSettings | None:
        """The repository's cooldown now; None when it has none."""
        rows = self._db.query(
            "SELECT seconds, exempt FROM cooldown_settings WHERE repo_id = ?", (repo.id,)
        )
        if not rows:
            return None
        return CooldownSettings(seconds=int(rows[0][0]), exempt=tuple(json.loads(rows[0][1])))

    def cooldown_at(self, repo: Repo, at: str) -> CooldownSettings | None:
        """The repository's cooldown just before ``at`` (from its ``cooldown_changed``
        events)."""
        rows = self._db.query(
            "SELECT detail FROM events WHERE repo_id = ? AND kind = 'cooldown_changed' "
            "AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
            (repo.id, at),
        )
        if not rows:
            return None
        detail = json.loads(rows[0][0])
        if not detail.get("seconds"):
            return None
        return CooldownSettings(seconds=int(detail["seconds"]),
                                exempt=tuple(detail.get("exempt", ())))

    def set_cooldown(
        self, repo: Repo, seconds: int | None, exempt: tuple[str, ...] | None, at: datetime
    ) -> CooldownSettings | None:
        """Set (``seconds``) or end (None) the repository's cooldown; ``exempt`` None keeps
        the exempt sources. ``NotFound`` for an exempt source that does not exist."""
        current = self.cooldown(repo)
        if exempt is None:
            exempt = current.exempt if current is not None else ()
        for name in exempt:
            self._sources.get_source(name)
        exempt = tuple(sorted(set(exempt)))
        settings = None if seconds is None else CooldownSettings(seconds=seconds, exempt=exempt)
        if settings == current:
            return settings
        stamp = format_timestamp(at)
        with self._db.write() as cur:
            if settings is None:
                cur.execute("DELETE FROM cooldown_settings WHERE repo_id = ?", (repo.id,))
            else:
                cur.execute(
                    "INSERT INTO cooldown_settings (repo_id, seconds, exempt, changed_at, "
                    "scanned_until) VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo_id) DO UPDATE SET "
                    "seconds = excluded.seconds, exempt = excluded.exempt, "
                    "changed_at = excluded.changed_at, scanned_until = excluded.scanned_until",
                    (repo.id, settings.seconds, json.dumps(list(exempt)), stamp, stamp),
                )
            _insert_event(cur, stamp, "cooldown_changed", repo_id=repo.id, detail={
                "seconds": settings.seconds if settings else None,
                "exempt": list(settings.exempt) if settings else [],
            })
        return settings

    # -- allowances ------------------------------------------------------------------

    def allow(
        self, repo: Repo, project: NormalizedName, version: str | None, *, reason: str,
        by: str, at: datetime,
    ) -> CooldownAllowance:
        """Let ``project`` (``version``, else its files uploaded by now) into ``repo``
        early. ``NotFound`` when the repository has no such project or release;
        ``InvalidCooldown`` when the repository has no cooldown or the reason is empty."""
        if self.cooldown(repo) is None:
            raise InvalidCooldown(
                f"repository {repo.name!r} has no cooldown: its files are listed at once "
                f"(set one with: timeshelf set repo {repo.name} --cooldown 7d)"
            )
        if not reason.strip():
            raise InvalidCooldown("an allowance needs a reason: --reason TEXT")
        ids = self._project_ids(repo, project)
        if not ids:
            raise NotFound(f"repository {repo.name!r} has no project {project!r}")
        if version is not None:
            rows = self._db.query(
                f"SELECT DISTINCT version FROM files WHERE project_id IN ({marks(ids)}) "
                "AND removed_at IS NULL", ids,
            )
            versions = {canonicalize_version(r[0]) for r in rows}
            if canonicalize_version(version) not in versions:
                raise NotFound(
                    f"project {project!r} of repository {repo.name!r} has no version "
                    f"{version!r} (it has {len(versions)} version(s); see its package page)"
                )
        stamp = format_timestamp(at)
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO cooldown_allowances (repo_id, project, version, reason, "
                "allowed_by, allowed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (repo.id, project, version, reason, by, stamp),
            )
            allowance_id = cur.lastrowid
            assert allowance_id is not None
            for project_id in ids:
                _insert_event(cur, stamp, "cooldown_allowed", project_id=project_id, detail={
                    "repo": repo.name, "allowance": allowance_id, "version": version,
                    "reason": reason, "by": by,
                })
        return CooldownAllowance(
            id=allowance_id, repo=repo.name, project=project, version=version,
            reason=reason, allowed_by=by, allowed_at=stamp,
        )

    def revoke_allowance(self, allowance_id: int, *, by: str, at: datetime) -> CooldownAllowance:
        """End an allowance from ``at``; ``NotFound`` for an unknown or revoked id."""
        found = self._allowances("a.id = ?", [allowance_id])
        if not found or found[0].revoked_at is not None:
            state = "already revoked" if found else "unknown"
            raise NotFound(
                f"{state} cooldown allowance {allowance_id} "
                "(see them with: timeshelf cooldown list --repo R)"
            )
        allowance = found[0]
        repo = self._sources.get_repo(allowance.repo)
        stamp = format_timestamp(at)
        with self._db.write() as cur:
            cur.execute(
                "UPDATE cooldown_allowances SET revoked_at = ?, revoked_by = ? WHERE id = ?",
                (stamp, by, allowance_id),
            )
            for project_id in self._project_ids(repo, allowance.project):
                _insert_event(cur, stamp, "cooldown_revoked", project_id=project_id, detail={
                    "repo": repo.name, "allowance": allowance_id, "by": by,
                })
        return replace(allowance, revoked_at=stamp, revoked_by=by)

    def allowances(self, repo: Repo) -> list[CooldownAllowance]:
        """Every allowance of ``repo``, revoked ones included, oldest first."""
        return self._allowances("a.repo_id = ?", [repo.id])

    # -- what a listing applies ------------------------------------------------------

    def policy(self, repo: Repo, now: datetime) -> CooldownPolicy | None:
        """The repository's cooldown as the live listing applies it at ``now`` (the current
        settings and unrevoked allowances); None without a cooldown."""
        settings = self.cooldown(repo)
        if settings is None:
            return None
        allowances = self._allowances("a.repo_id = ? AND a.revoked_at IS NULL", [repo.id])
        return CooldownPolicy.build(settings, now, tuple(allowances))

    def policy_at(self, repo: Repo, at: str) -> CooldownPolicy | None:
        """The repository's cooldown just before the instant ``at``, as dated replays
        apply it; None when it had none then."""
        settings = self.cooldown_at(repo, at)
        if settings is None:
            return None
        allowances = self._allowances(
            "a.repo_id = ? AND a.allowed_at < ? AND (a.revoked_at IS NULL OR a.revoked_at >= ?)",
            [repo.id, at, at],
        )
        return CooldownPolicy.build(settings, parse_timestamp(at), tuple(allowances))

    def record_coming_of_age(self, repo: Repo, now: datetime) -> int:
        """Write a ``cooldown_of_age`` event for each file of ``repo``'s sources that came
        of age since the last call (at the instant it did), and move the mark to ``now``;
        return how many. Costs the files uploaded in that window (the upload-time index),
        not the size of the repository."""
        rows = self._db.query(
            "SELECT seconds, exempt, scanned_until FROM cooldown_settings WHERE repo_id = ?",
            (repo.id,),
        )
        stamp = format_timestamp(now)
        if not rows or rows[0][2] >= stamp:
            return 0
        seconds, exempt, since = int(rows[0][0]), set(json.loads(rows[0][1])), rows[0][2]
        delta = timedelta(seconds=seconds)
        ids = [s.id for s in self._sources.list_sources()
               if s.name in repo.sources and s.name not in exempt]
        found: list[Any] = []
        if ids:
            found = self._db.query(
                "SELECT f.id, f.upload_time, p.id, p.source_id FROM files f "
                "CROSS JOIN projects p WHERE f.upload_time >= ? AND f.upload_time < ? "
                f"AND p.id = f.project_id AND f.removed_at IS NULL AND p.source_id IN ({marks(ids)})",
                [format_timestamp(parse_timestamp(since) - delta),
                 format_timestamp(now - delta), *ids],
            )
        with self._db.write() as cur:
            for file_id, uploaded, project_id, source_id in found:
                _insert_event(
                    cur, format_timestamp(parse_timestamp(uploaded) + delta), "cooldown_of_age",
                    source_id=source_id, project_id=project_id, file_id=file_id,
                    detail={"repo": repo.name},
                )
            cur.execute(
                "UPDATE cooldown_settings SET scanned_until = ? WHERE repo_id = ?",
                (stamp, repo.id),
            )
        return len(found)

    def _project_ids(self, repo: Repo, project: str) -> list[int]:
        """The ids of ``project`` in the repository's sources (with a file not removed)."""
        ids = [s.id for s in self._sources.list_sources() if s.name in repo.sources]
        if not ids:
            return []
        rows = self._db.query(
            f"SELECT p.id FROM projects p WHERE p.name = ? AND p.source_id IN ({marks(ids)}) "
            "AND EXISTS (SELECT 1 FROM files f WHERE f.project_id = p.id AND f.removed_at IS NULL) "
            "ORDER BY p.id",
            [project, *ids],
        )
        return [int(r[0]) for r in rows]

    def _allowances(self, where: str, params: list[Any]) -> list[CooldownAllowance]:
        rows = self._db.query(
            "SELECT a.id, r.name, a.project, a.version, a.reason, a.allowed_by, a.allowed_at, "
            "a.revoked_at, a.revoked_by FROM cooldown_allowances a "
            f"JOIN repos r ON r.id = a.repo_id WHERE {where} ORDER BY a.id",
            params,
        )
        return [
            CooldownAllowance(
                id=int(r[0]), repo=r[1], project=NormalizedName(r[2]), version=r[3],
                reason=r[4], allowed_by=r[5], allowed_at=r[6], revoked_at=r[7],
                revoked_by=r[8],
            )
            for r in rows
        ]


def _insert_event(
    cur: Cursor, at: str, kind: str, *, repo_id: int | None = None,
    source_id: int | None = None, project_id: int | None = None,
    file_id: int | None = None, detail: dict[str, Any],
) -> None:
    """Append an event without making it the project's serial (``append_event`` would):
    these events change what a repository lists, not the project itself."""
    cur.execute(
        "INSERT INTO events (at, kind, repo_id, source_id, project_id, file_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (at, kind, repo_id, source_id, project_id, file_id,
         json.dumps(detail, sort_keys=True, separators=(",", ":"))),
    )
