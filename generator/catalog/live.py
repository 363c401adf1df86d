"""What a repository shows now, and where its generation got to.

A repository's projects are resolved by source priority: the first subscribed source
holding a project (a file not removed) owns all of its files. The generator reads them
here, with the event serial as its watermark (``changed_since``), and records what it
put on the site (``record_generation``: the ``generation_state`` and ``site_projects``
tables).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from packaging.utils import NormalizedName

from generator.catalog.cooldown import Cooldowns
from generator.catalog.database import Database, chunks, marks
from generator.catalog.files import FILE_COLUMNS, file_from_row
from generator.clock import Clock, system_clock
from generator.records import CooldownMark, FileRecord, GenerationState, ProjectState, Repo


class Live:
    """The live state of the repositories, and the generation bookkeeping."""

    def __init__(self, db: Database, cooldowns: Cooldowns, clock: Clock = system_clock) -> None:
        self._db = db
        self._cooldowns = cooldowns
        self._clock = clock

    def last_event_id(self) -> int:
        rows = self._db.query("SELECT COALESCE(MAX(id), 0) FROM events")
        return int(rows[0][0])

    def changed_since(self, repo: Repo, after: int, upto: int) -> set[NormalizedName] | None:
        """Project names whose state in ``repo`` may differ between two event serials.

        None means "everything": the repository's subscriptions changed.
        """
        if self._db.query(
            "SELECT 1 FROM events WHERE repo_id = ? AND id > ? AND id <= ? LIMIT 1",
            (repo.id, after, upto),
        ):
            return None
        # CROSS JOIN makes SQLite walk the event range first (cost grows with the events
        # since the watermark), not every project of the sources (with 10k projects that
        # was 5-25 ms on each upload; bench/upload_bench.py).
        rows = self._db.query(
            "SELECT DISTINCT p.name FROM events e CROSS JOIN projects p ON p.id = e.project_id "
            "WHERE e.id > ? AND e.id <= ? AND p.source_id IN "
            "(SELECT source_id FROM subscriptions WHERE repo_id = ?)",
            (after, upto, repo.id),
        )
        return {NormalizedName(r[0]) for r in rows}

    def iter_projects(
        self, repo: Repo, names: Iterable[str] | None = None, *,
        start: str | None = None, stop: str | None = None, at: datetime | None = None,
    ) -> Iterator[ProjectState]:
        """Stream the repository's projects in name order, resolved by source priority.

        With ``names``, only those projects (absent ones are simply not yielded); with
        ``start``/``stop``, only names in ``[start, stop)`` (see ``split_projects``).
        A cooldown repository lists only the files of age at ``at`` (default: now), and
        a project none of whose files is listed is not yielded. Holds one project in
        memory at a time.
        """
        policy = self._cooldowns.policy(repo, at or self._clock())
        projects = self._iter_unfiltered(repo, names, start, stop)
        if policy is None:
            yield from projects
            return
        for project in projects:
            listed = policy.apply(project)
            if listed is not None:
                yield listed

    def cooldown_waiting(self, repo: Repo, at: datetime) -> list[CooldownMark]:
        """The versions a cooldown repository does not list yet at ``at``, by project and
        version, each with when it comes in (the owning source's files only)."""
        policy = self._cooldowns.policy(repo, at)
        if policy is None:
            return []
        rows = self._db.query(
            "SELECT DISTINCT p.name FROM files f CROSS JOIN projects p "
            "WHERE f.upload_time >= ? AND p.id = f.project_id AND f.removed_at IS NULL "
            "AND p.source_id IN (SELECT source_id FROM subscriptions WHERE repo_id = ?)",
            (policy.cutoff, repo.id),
        )
        waiting: list[CooldownMark] = []
        for project in self._iter_unfiltered(repo, [r[0] for r in rows], None, None):
            waiting.extend(policy.waiting(project))
        return waiting

    def _iter_unfiltered(
        self, repo: Repo, names: Iterable[str] | None, start: str | None, stop: str | None,
    ) -> Iterator[ProjectState]:
        if names is None:
            yield from self._iter_projects(repo, None, start, stop)
            return
        for chunk in chunks(names):
            yield from self._iter_projects(repo, chunk, start, stop)

    def split_projects(self, repo: Repo, parts: int, min_size: int = 1) -> list[str | None]:
        """``parts + 1`` name bounds cutting the repository's projects into runs of about
        equal size, for ``iter_projects(start=bounds[i], stop=bounds[i + 1])``; the first
        and last are None (open ends). Fewer runs when a run would hold fewer than
        ``min_size`` projects."""
        # By the (source_id, name) index, which holds the names: walking the name index
        # instead reads the table row of every project, 6 s for 100k projects on a cold
        # page cache before a full generation could start (0.1 s this way).
        rows = self._db.query(
            "SELECT name FROM projects WHERE source_id IN "
            "(SELECT source_id FROM subscriptions WHERE repo_id = ?)",
            (repo.id,),
        )
        names = sorted({r[0] for r in rows})
        parts = max(1, min(parts, len(names) // max(1, min_size)))
        inner = sorted({names[len(names) * i // parts] for i in range(1, parts)})
        return [None, *inner, None]

    def project_names(self, repo: Repo) -> list[tuple[NormalizedName, str]]:
        """(name, display name) of every project the repository shows, sorted by name."""
        rows = self._db.query(
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

    def generation_state(self, repo: Repo) -> GenerationState | None:
        """Where the repository's last generation got to; None before the first."""
        rows = self._db.query(
            "SELECT last_event_id, render_version FROM generation_state WHERE repo_id = ?",
            (repo.id,),
        )
        if not rows:
            return None
        return GenerationState(last_event_id=int(rows[0][0]), render_version=rows[0][1])

    def site_projects(
        self, repo: Repo, names: Iterable[str] | None = None
    ) -> dict[NormalizedName, str]:
        """{name: display name} of the projects on the repository's site (only ``names``)."""
        if names is None:
            rows = self._db.query(
                "SELECT name, display_name FROM site_projects WHERE repo_id = ?", (repo.id,)
            )
            return {NormalizedName(r[0]): r[1] for r in rows}
        found: dict[NormalizedName, str] = {}
        for chunk in chunks(names):
            rows = self._db.query(
                "SELECT name, display_name FROM site_projects WHERE repo_id = ? AND name IN "
                f"({marks(chunk)})",
                (repo.id, *chunk),
            )
            found.update({NormalizedName(r[0]): r[1] for r in rows})
        return found

    def record_generation(
        self, repo: Repo, last_event_id: int, render_version: str,
        shown: dict[NormalizedName, str | None],
    ) -> None:
        """Advance the watermark and the list of projects on the site (None = gone), last."""
        with self._db.write() as cur:
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

    def _iter_projects(
        self, repo: Repo, names: Sequence[str] | None, start: str | None,
        stop: str | None,
    ) -> Iterator[ProjectState]:
        name_filter = ""
        params: list[Any] = [repo.id]
        if names is not None:
            name_filter = f"AND p.name IN ({marks(names)})"
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
                       {FILE_COLUMNS}, f.url
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
                       {FILE_COLUMNS}, f.url
                FROM projects p CROSS JOIN subscriptions x CROSS JOIN sources s
                     CROSS JOIN files f
                WHERE x.source_id = p.source_id AND x.repo_id = ? AND s.id = p.source_id
                      AND f.project_id = p.id AND f.removed_at IS NULL {name_filter}
                ORDER BY p.name, p.id, f.filename
            """
        best: tuple[Any, ...] | None = None  # (name, display, serial, source, position)
        files: list[FileRecord] = []
        head: tuple[Any, ...] | None = None
        for row in self._db.stream(sql, params):
            if head is None or row[0] != head[0] or row[4] != head[4]:
                # A new project: another name, or the same name in another source.
                if best is not None and row[0] != best[0]:
                    yield project_state(best, files)
                    best = None
                head = row[:5]
                if best is None or head[4] < best[4]:
                    best, files = head, []
            if head is best:
                files.append(file_from_row(row[5:]))
        if best is not None:
            yield project_state(best, files)


def project_state(head: Sequence[Any], files: list[FileRecord]) -> ProjectState:
    """A project from (name, display name, serial, source) and its files."""
    return ProjectState(
        name=NormalizedName(head[0]), display_name=head[1], serial=int(head[2]),
        source=head[3], files=tuple(files),
    )
