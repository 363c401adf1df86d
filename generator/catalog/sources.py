"""Sources, repositories and the subscriptions between them (in priority order).

A change of a repository's subscriptions is a ``subscriptions_changed`` event naming the
new list, so the sources of any past instant can be replayed (``history``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from packaging.utils import canonicalize_name

from generator.catalog.database import Database, append_event
from generator.clock import format_timestamp
from generator.errors import Conflict, NotFound
from generator.naming import check_slug
from generator.records import SOURCE_TYPES, Repo, Source, SourceType


class Sources:
    """The ``sources``, ``repos`` and ``subscriptions`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_source(
        self, name: str, type: str, at: datetime, upstream: str | None = None
    ) -> Source:
        check_slug("source", name)
        if type not in SOURCE_TYPES:
            raise Conflict(
                f"unknown source type {type!r}: use one of {', '.join(SOURCE_TYPES)}"
            )
        with self._db.write() as cur:
            if cur.execute("SELECT 1 FROM sources WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"source {name!r} already exists: choose another name")
            cur.execute(
                "INSERT INTO sources (name, type, upstream, created_at) VALUES (?, ?, ?, ?)",
                (name, type, upstream, format_timestamp(at)),
            )
        return self.get_source(name)

    def get_source(self, name: str) -> Source:
        rows = self._db.query(
            "SELECT id, name, type, upstream FROM sources WHERE name = ?", (name,)
        )
        if not rows:
            known = ", ".join(s.name for s in self.list_sources()) or "none"
            raise NotFound(f"unknown source {name!r} (known sources: {known})")
        return _source(rows[0])

    def list_sources(self) -> tuple[Source, ...]:
        rows = self._db.query("SELECT id, name, type, upstream FROM sources ORDER BY name")
        return tuple(_source(r) for r in rows)

    def sources_with_project(self, project: str) -> tuple[Source, ...]:
        """Sources holding ``project`` with at least one file not removed."""
        rows = self._db.query(
            "SELECT DISTINCT s.id, s.name, s.type, s.upstream FROM sources s "
            "JOIN projects p ON p.source_id = s.id JOIN files f ON f.project_id = p.id "
            "WHERE p.name = ? AND f.removed_at IS NULL ORDER BY s.name",
            (canonicalize_name(project),),
        )
        return tuple(_source(r) for r in rows)

    def create_repo(
        self, name: str, at: datetime, type: str = "python", description: str = ""
    ) -> Repo:
        check_slug("repository", name)
        if type != "python":
            raise Conflict(f"unknown repository type {type!r}: use 'python'")
        with self._db.write() as cur:
            if cur.execute("SELECT 1 FROM repos WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"repository {name!r} already exists: choose another name")
            cur.execute(
                "INSERT INTO repos (name, type, description, created_at) VALUES (?, ?, ?, ?)",
                (name, type, description, format_timestamp(at)),
            )
        return self.get_repo(name)

    def get_repo(self, name: str) -> Repo:
        rows = self._db.query(
            "SELECT id, name, type, description FROM repos WHERE name = ?", (name,)
        )
        if not rows:
            known = ", ".join(r.name for r in self.list_repos()) or "none"
            raise NotFound(f"unknown repository {name!r} (known repositories: {known})")
        return self._repo(rows[0])

    def list_repos(self) -> tuple[Repo, ...]:
        rows = self._db.query("SELECT id, name, type, description FROM repos ORDER BY name")
        return tuple(self._repo(r) for r in rows)

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

    def _repo(self, row: Sequence[Any]) -> Repo:
        subscribed = self._db.query(
            "SELECT s.name FROM subscriptions x JOIN sources s ON s.id = x.source_id "
            "WHERE x.repo_id = ? ORDER BY x.position",
            (row[0],),
        )
        return Repo(
            id=row[0], name=row[1], type=row[2], description=row[3],
            sources=tuple(r[0] for r in subscribed),
        )

    def _set_subscriptions(self, repo: Repo, sources: tuple[str, ...], at: datetime) -> Repo:
        ids = [self.get_source(name).id for name in sources]
        with self._db.write() as cur:
            cur.execute("DELETE FROM subscriptions WHERE repo_id = ?", (repo.id,))
            for position, source_id in enumerate(ids):
                cur.execute(
                    "INSERT INTO subscriptions (repo_id, source_id, position) VALUES (?, ?, ?)",
                    (repo.id, source_id, position),
                )
            append_event(
                cur, at, "subscriptions_changed", repo_id=repo.id,
                detail={"sources": list(sources)},
            )
        return self.get_repo(repo.name)


def _source(row: Sequence[Any]) -> Source:
    return Source(id=row[0], name=row[1], type=cast(SourceType, row[2]), upstream=row[3])
