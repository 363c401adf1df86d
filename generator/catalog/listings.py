"""Listings for people: packages of the sources, the event log, project summaries and a
repository's recent activity (the CLI, the web UI)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

from packaging.utils import NormalizedName

from generator.catalog.database import Database, chunks, marks
from generator.naming import version_sort_key
from generator.records import Activity, Event, PackageSummary, Repo, Source


class Listings:
    """Read-only summaries across the tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list_packages(self, source: Source | None = None) -> list[PackageSummary]:
        """Projects with files not removed (of ``source``, else all), by source and name."""
        params: list[Any] = []
        where = "f.removed_at IS NULL"
        if source is not None:
            where += " AND p.source_id = ?"
            params.append(source.id)
        rows = self._db.query(
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
        rows = self._db.query(
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
        found: dict[NormalizedName, str] = {}
        for chunk in chunks(names):
            rows = self._db.query(
                "SELECT p.name, p.summary FROM projects p JOIN sources s ON s.id = p.source_id "
                f"WHERE s.name = ? AND p.name IN ({marks(chunk)})",
                (source, *chunk),
            )
            found.update({NormalizedName(r[0]): r[1] for r in rows})
        return found

    def recent_activity(self, repo: Repo, limit: int = 50) -> list[Activity]:
        """The newest file events (added, yanked, un-yanked, removed) of the repository's
        sources, newest first. Shadowed projects are included: callers filter by owner."""
        rows = self._db.query(
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
