"""Blocklist rules and the licenses of stored files (the ``blocklist_rules`` and
``file_licenses`` tables).

A rule is a row with the instant it came into force (``created_at``) and the one it went
out of force (``deleted_at``, None while it stands): the rules in force just before an
instant T are those created before T and not deleted before T, so a dated day replays
the rules it had. Creating and deleting a rule append a ``blocklist_rule`` event per
repository the rule can touch (every repository for a rule without ``--repo``), in the
same transaction: the repository's next generation then renders it whole (the event has
a ``repo_id``, as a change of subscriptions does), and a snapshot day containing the
change is rendered from its own replay.

What a rule does to a file is decided elsewhere (``generator.policy``); this part only
keeps the rules and, by content hash, the license each file's core metadata declares.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, replace
from datetime import datetime

from packaging.utils import NormalizedName

from generator.catalog.database import Database, append_event, chunks, marks
from generator.catalog.dialect import Cursor
from generator.clock import format_timestamp
from generator.errors import NotFound
from generator.records import BlocklistRule

# The conditions kept as JSON: every field of the record but the id, the times and the
# description, which have columns of their own.
_OWN_COLUMNS = ("id", "created_at", "deleted_at", "description")


def _conditions(rule: BlocklistRule) -> str:
    fields = {k: v for k, v in asdict(rule).items() if k not in _OWN_COLUMNS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=1024)
def _rule_from_row(row: tuple[object, ...]) -> BlocklistRule:
    """The rule of a row (cached: every generation reads the rules again, unchanged)."""
    rule_id, created_at, deleted_at, conditions, description = row
    fields = json.loads(str(conditions))
    fields["license_types"] = tuple(fields.get("license_types", ()))
    if fields.get("package_name") is not None:
        fields["package_name"] = NormalizedName(fields["package_name"])
    return BlocklistRule(
        id=int(str(rule_id)), created_at=str(created_at),
        deleted_at=None if deleted_at is None else str(deleted_at),
        description=str(description), **fields,
    )


class Rules:
    """The ``blocklist_rules`` and ``file_licenses`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_rule(self, rule: BlocklistRule, at: datetime) -> BlocklistRule:
        """Store ``rule`` (its id and times are given here) in force from ``at``."""
        when = format_timestamp(at)
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO blocklist_rules (created_at, deleted_at, conditions, description) "
                "VALUES (?, NULL, ?, ?)",
                (when, _conditions(rule), rule.description),
            )
            rule_id = cur.lastrowid
            assert rule_id is not None
            self._touch(cur, rule.repo, at, {"rule": rule_id, "change": "created"})
        return replace(rule, id=rule_id, created_at=when)

    def delete_rule(self, rule_id: int, at: datetime) -> BlocklistRule:
        """Take rule ``rule_id`` out of force from ``at``; ``NotFound`` naming the rules in
        force for an id that is not one of them (nothing changed)."""
        when = format_timestamp(at)
        with self._db.write() as cur:
            row = cur.execute(
                "SELECT id, created_at, deleted_at, conditions, description FROM "
                "blocklist_rules WHERE id = ? AND deleted_at IS NULL",
                (rule_id,),
            ).fetchone()
            if row is None:
                ids = [r[0] for r in cur.execute(
                    "SELECT id FROM blocklist_rules WHERE deleted_at IS NULL ORDER BY id"
                ).fetchall()]
                known = ", ".join(str(i) for i in ids) or "none"
                raise NotFound(
                    f"no blocklist rule {rule_id} in force (rules in force: {known}; "
                    "nothing changed)"
                )
            rule = _rule_from_row(tuple(row))
            cur.execute("UPDATE blocklist_rules SET deleted_at = ? WHERE id = ?", (when, rule_id))
            self._touch(cur, rule.repo, at, {"rule": rule_id, "change": "deleted"})
        return replace(rule, deleted_at=when)

    def rules_in_force(self, at: str | None = None) -> tuple[BlocklistRule, ...]:
        """The rules in force now (or just before the instant ``at``), by id."""
        if at is None:
            rows = self._db.query(
                "SELECT id, created_at, deleted_at, conditions, description FROM "
                "blocklist_rules WHERE deleted_at IS NULL ORDER BY id"
            )
        else:
            rows = self._db.query(
                "SELECT id, created_at, deleted_at, conditions, description FROM "
                "blocklist_rules WHERE created_at < ? AND (deleted_at IS NULL OR "
                "deleted_at >= ?) ORDER BY id",
                (at, at),
            )
        return tuple(_rule_from_row(tuple(r)) for r in rows)

    def note_advisories(self, names: Iterable[str], at: datetime) -> bool:
        """When a ``--vulns`` rule is in force, append a ``blocklist_rule`` event for each
        project of ``names`` (their advisories changed, so what the rule blocks may have):
        their pages are rendered again, and a dated day containing the change replays
        them. True when events were written."""
        if not any(r.vulns for r in self.rules_in_force()):
            return False
        wanted = list(names)
        with self._db.write() as cur:
            written = False
            for chunk in chunks(wanted):
                rows = cur.execute(
                    f"SELECT id, source_id FROM projects WHERE name IN ({marks(chunk)}) "
                    "ORDER BY id",
                    chunk,
                ).fetchall()
                for project_id, source_id in rows:
                    append_event(cur, at, "blocklist_rule", source_id=int(source_id),
                                 project_id=int(project_id), detail={"advisories": "changed"})
                    written = True
        return written

    def changed_projects(self, after: int, upto: int) -> set[NormalizedName] | None:
        """Names of the projects with an event in ``(after, upto]``; None when some event
        of a repository (a rule, a subscription) may have changed any of them."""
        if self._db.query(
            "SELECT 1 FROM events WHERE repo_id IS NOT NULL AND id > ? AND id <= ? LIMIT 1",
            (after, upto),
        ):
            return None
        rows = self._db.query(
            "SELECT DISTINCT p.name FROM events e CROSS JOIN projects p ON p.id = e.project_id "
            "WHERE e.id > ? AND e.id <= ?",
            (after, upto),
        )
        return {NormalizedName(r[0]) for r in rows}

    def has_rules(self) -> bool:
        """True when some rule was ever made (a replay of a past instant may need it)."""
        return bool(self._db.query("SELECT 1 FROM blocklist_rules LIMIT 1"))

    def has_licenses(self) -> bool:
        """True when the license of some file is known (declared or not)."""
        return bool(self._db.query("SELECT 1 FROM file_licenses LIMIT 1"))

    def licenses_of(self, hashes: Iterable[str]) -> dict[str, str | None]:
        """{sha256: declared license or None} of the files whose license is known."""
        found: dict[str, str | None] = {}
        for chunk in chunks(hashes):
            rows = self._db.query(
                f"SELECT sha256, license FROM file_licenses WHERE sha256 IN ({marks(chunk)})",
                chunk,
            )
            found.update({r[0]: r[1] for r in rows})
        return found

    def files_without_license(
        self, names: Iterable[str] | None = None
    ) -> list[tuple[str, str]]:
        """(sha256, filename) of the files (one name per content) whose license is not
        known yet: of every project, or of the projects named ``names``."""
        sql = (
            "SELECT f.sha256, MIN(f.filename) FROM files f LEFT JOIN file_licenses l "
            "ON l.sha256 = f.sha256 WHERE l.sha256 IS NULL"
        )
        if names is None:
            rows = self._db.query(sql + " GROUP BY f.sha256 ORDER BY f.sha256")
            return [(r[0], r[1]) for r in rows]
        found: list[tuple[str, str]] = []
        for chunk in chunks(names):
            rows = self._db.query(
                sql + f" AND f.project_id IN (SELECT id FROM projects WHERE name IN "
                f"({marks(chunk)})) GROUP BY f.sha256 ORDER BY f.sha256",
                chunk,
            )
            found.extend((r[0], r[1]) for r in rows)
        return found

    def record_licenses(self, licenses: Mapping[str, str | None]) -> None:
        """Remember the declared license (None: none declared) of files by content hash."""
        if not licenses:
            return
        with self._db.write() as cur:
            for sha256, text in sorted(licenses.items()):
                cur.execute(
                    "INSERT INTO file_licenses (sha256, license) VALUES (?, ?) "
                    "ON CONFLICT (sha256) DO NOTHING",
                    (sha256, text),
                )

    def _touch(self, cur: Cursor, repo: str | None, at: datetime, detail: dict[str, object]) -> None:
        """A ``blocklist_rule`` event for each repository a rule scoped to ``repo`` (None:
        every one) can change."""
        if repo is None:
            ids = [r[0] for r in cur.execute("SELECT id FROM repos ORDER BY id").fetchall()]
        else:
            ids = [r[0] for r in cur.execute(
                "SELECT id FROM repos WHERE name = ?", (repo,)
            ).fetchall()]
        for repo_id in ids:
            append_event(cur, at, "blocklist_rule", repo_id=int(repo_id), detail=detail)

