"""The past of a repository (what dated snapshots replay), and the snapshot days written.

The state of a repository at an instant T (exclusive) is replayed from the event log and
the per-file times: its sources are the last ``subscriptions_changed`` event before T; a
file is visible when ``added_at < T`` and it was not removed before T; its yank state is
that of its last yank/un-yank event before T; it is signed when ``signed_at < T``; the
display name is that of the newest visible file.

Before the repository's first subscription the state is *reconstructed* (see
``History.reconstruction``): the sources of its first subscription to a mirror, each file
visible from its effective time ``added_at``. Afterwards a file is visible once it is
both effective and recorded, so a later backfill never changes an observed day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from packaging.utils import NormalizedName

from generator.catalog.cooldown import COOLDOWN_PROJECT_EVENTS, CooldownPolicy, Cooldowns
from generator.catalog.database import Database, chunks, marks
from generator.catalog.files import file_from_row
from generator.catalog.live import project_state
from generator.catalog.sources import Sources
from generator.clock import format_timestamp
from generator.records import FileRecord, ProjectState, Reconstruction, Repo, SnapshotDay

# The recording bound of a reconstructed day: far above any timestamp, so such a day
# ignores when a file was recorded.
_ANY_TIME = "9999"


class History:
    """Replays of past instants, and the ``snapshots`` table."""

    def __init__(self, db: Database, sources: Sources, cooldowns: Cooldowns) -> None:
        self._db = db
        self._sources = sources
        self._cooldowns = cooldowns

    def repo_started(self, repo: Repo) -> str | None:
        """The time of the repository's first subscription (its history starts there)."""
        rows = self._db.query(
            "SELECT MIN(at) FROM events WHERE repo_id = ? AND kind = 'subscriptions_changed'",
            (repo.id,),
        )
        return rows[0][0] if rows and rows[0][0] else None

    def subscriptions_at(self, repo: Repo, at: str) -> tuple[str, ...]:
        """The repository's sources, in priority order, just before ``at``."""
        rows = self._db.query(
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
        if self._db.query(
            "SELECT 1 FROM events WHERE repo_id = ? AND at >= ? AND at < ? LIMIT 1",
            (repo.id, start, end),
        ):
            return None
        rows = self._db.query(
            "SELECT DISTINCT p.name FROM events e JOIN projects p ON p.id = e.project_id "
            "WHERE e.at >= ? AND e.at < ?",
            (start, end),
        )
        return {NormalizedName(r[0]) for r in rows}

    def iter_projects_at(
        self, repo: Repo, at: str, names: Iterable[str] | None = None
    ) -> Iterator[ProjectState]:
        """Like ``Live.iter_projects``, for the repository's state just before ``at``
        (a cooldown repository: with the cooldown and allowances in force then)."""
        bounds = self._sources_at(repo, at)
        if bounds is None:
            return
        ids, recorded = bounds
        policy = self._cooldowns.policy_at(repo, at)
        if names is None:
            yield from self._iter_projects_at(ids, at, None, recorded, policy)
            return
        for chunk in chunks(names):
            yield from self._iter_projects_at(ids, at, chunk, recorded, policy)

    def project_names_at(self, repo: Repo, at: str) -> list[tuple[NormalizedName, str]]:
        """``project_names`` for the state just before ``at``: what a snapshot's root lists.

        The display name is that of the newest visible file (by ``added_at``, then
        filename), as ``iter_projects_at`` gives it; no file rows are read beyond that.
        """
        bounds = self._sources_at(repo, at)
        if bounds is None:
            return []
        if self._cooldowns.cooldown_at(repo, at) is not None:
            # The cooldown rule is applied to file records, in one place: the names a
            # cooldown day lists are those its project replay yields.
            return [(p.name, p.display_name) for p in self.iter_projects_at(repo, at)]
        ids, recorded = bounds
        subs, params = _subscriptions(ids)
        params += [at, recorded, at, at, recorded, at]
        rows = self._db.query(
            f"""
            WITH subs AS ({subs}),
            live AS (
                SELECT p.id, p.name,
                       ROW_NUMBER() OVER (PARTITION BY p.name ORDER BY x.position) AS rank
                FROM projects p
                JOIN subs x ON x.source_id = p.source_id
                WHERE EXISTS (SELECT 1 FROM files f0 WHERE f0.project_id = p.id
                              AND {_visible("f0")})
            )
            SELECT l.name,
                   (SELECT f.display_name FROM files f WHERE f.project_id = l.id
                      AND {_visible("f")}
                    ORDER BY f.added_at DESC, f.filename LIMIT 1)
            FROM live l
            WHERE l.rank = 1
            ORDER BY l.name
            """,
            params,
        )
        return [(NormalizedName(r[0]), r[1]) for r in rows]

    def snapshot_days(self, repo: Repo) -> dict[str, SnapshotDay]:
        """Days written to the output (``YYYY-MM-DD``), each with how it was written."""
        rows = self._db.query(
            "SELECT day, render_version, reconstructed FROM snapshots WHERE repo_id = ?",
            (repo.id,),
        )
        return {r[0]: SnapshotDay(render_version=r[1], reconstructed=bool(r[2])) for r in rows}

    def record_snapshot(
        self, repo: Repo, day: str, render_version: str, at: datetime, reconstructed: bool
    ) -> None:
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO snapshots (repo_id, day, render_version, written_at, reconstructed) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo_id, day) DO NOTHING",
                (repo.id, day, render_version, format_timestamp(at), int(reconstructed)),
            )

    def forget_snapshot(self, repo: Repo, day: str) -> None:
        """Drop a day from the written list (retention removed it from the output)."""
        with self._db.write() as cur:
            cur.execute("DELETE FROM snapshots WHERE repo_id = ? AND day = ?", (repo.id, day))

    def reconstruction(self, repo: Repo) -> Reconstruction | None:
        """The reconstructed past of ``repo``, or None when it has none.

        A repository that subscribes to a mirror source can show the days before it
        existed: those are replayed with the sources of its first subscription list that
        named a mirror source, from the files' effective times (upstream upload times of
        backfilled projects). They start at the earliest effective time of those sources'
        files and end at the repository's first subscription.
        """
        rows = self._db.query(
            "SELECT at, detail FROM events WHERE repo_id = ? AND kind = 'subscriptions_changed' "
            "ORDER BY at, id",
            (repo.id,),
        )
        if not rows:
            return None
        mirrors = {s.name for s in self._sources.list_sources() if s.type != "local-python"}
        for _at, detail in rows:
            sources = tuple(json.loads(detail).get("sources", ()))
            if mirrors & set(sources):
                break
        else:
            return None
        ids = [self._sources.get_source(name).id for name in sources]
        earliest = self._db.query(
            "SELECT f.added_at FROM files f WHERE f.project_id IN "
            f"(SELECT id FROM projects WHERE source_id IN ({marks(ids)})) "
            "ORDER BY f.added_at LIMIT 1",
            ids,
        )
        until = rows[0][0]
        if not earliest or earliest[0][0] >= until:
            return None
        return Reconstruction(start=earliest[0][0], until=until, sources=sources)

    def _sources_at(self, repo: Repo, at: str) -> tuple[list[int], str] | None:
        """The ids of the repository's sources just before ``at``, in priority order, and
        the bound a file's recording time must be under; None when it had no sources."""
        sources = self.subscriptions_at(repo, at)
        recorded = at
        if not sources:
            past = self.reconstruction(repo)
            if past is None or at > past.until:
                return None
            sources, recorded = past.sources, _ANY_TIME
        return [self._sources.get_source(name).id for name in sources], recorded

    def _iter_projects_at(
        self, source_ids: Sequence[int], at: str, names: Sequence[str] | None,
        recorded: str, policy: CooldownPolicy | None = None,
    ) -> Iterator[ProjectState]:
        subs, params = _subscriptions(source_ids)
        params += [at, recorded, at]
        name_filter = ""
        if names is not None:
            name_filter = f"AND p.name IN ({marks(names)})"
            params.extend(names)
        # The serial bound and the events it leaves out, the signature bound, the
        # visibility of the final join, the yank instant.
        params += [at, *COOLDOWN_PROJECT_EVENTS, at, at, recorded, at, at]
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
                              AND {_visible("f0")})
                {name_filter}
            ),
            chosen AS MATERIALIZED (
                SELECT l.id, l.name, l.source,
                       COALESCE((SELECT MAX(e.id) FROM events e
                                 WHERE e.project_id = l.id AND e.at < ?
                                 AND e.kind NOT IN ({marks(COOLDOWN_PROJECT_EVENTS)})),
                                0) AS serial
                FROM live l
                WHERE l.rank = 1
            )
            SELECT c.name, f.display_name, c.serial, c.source,
                   f.filename, f.version, f.packagetype, f.sha256, f.blake2_256, f.size,
                   f.requires_python, f.upload_time, f.metadata_sha256,
                   CASE WHEN f.signed_at IS NOT NULL AND f.signed_at < ? THEN 1 ELSE 0 END,
                   y.kind, y.detail, f.added_at
            FROM chosen c JOIN files f ON f.project_id = c.id
                 AND {_visible("f")}
            LEFT JOIN events y ON y.id = (
                SELECT e.id FROM events e WHERE e.file_id = f.id AND e.at < ?
                   AND e.kind IN ('file_yanked', 'file_unyanked')
                ORDER BY e.at DESC, e.id DESC LIMIT 1)
            ORDER BY c.name, f.filename
        """
        current: list[Any] | None = None
        files: list[FileRecord] = []
        newest = ""
        for row in self._db.stream(sql, params):
            if current is None or row[0] != current[0]:
                if current is not None and files:
                    yield project_state(current, files)
                current, files, newest = list(row[:4]), [], ""
            yanked = row[14] == "file_yanked"
            reason = json.loads(row[15]).get("reason", "") if yanked else ""
            file = file_from_row((*row[4:13], row[13], int(yanked), reason))
            if policy is not None and not policy.is_listed(current[0], current[3], file):
                continue
            if row[16] > newest:
                current[1], newest = row[1], row[16]
            files.append(file)
        if current is not None and files:
            yield project_state(current, files)


def _visible(f: str) -> str:
    """The condition that the file row ``f`` is visible just before an instant: effective
    before it, recorded before the recording bound, not removed before it. Its three
    placeholders take (instant, recording bound, instant)."""
    return (
        f"{f}.added_at < ? AND COALESCE({f}.recorded_at, {f}.added_at) < ? "
        f"AND ({f}.removed_at IS NULL OR {f}.removed_at >= ?)"
    )


def _subscriptions(source_ids: Sequence[int]) -> tuple[str, list[Any]]:
    """A ``SELECT`` of (source_id, position) rows for ``source_ids`` in priority order,
    and its parameters: the subscriptions of a past instant, as a table."""
    sql = " UNION ALL ".join("SELECT ? AS source_id, ? AS position" for _ in source_ids)
    params: list[Any] = []
    for position, source_id in enumerate(source_ids):
        params += [source_id, position]
    return sql, params
