"""What the catalog keeps of vulnerability advisories (OSV), and the feed they came from.

Advisories are not events: importing one changes no repository's listing, no dated
page, no event serial. The web UI reads them when it renders a package page, and
``generator.advisories`` (``advisories_affecting``) answers which of them affect a
version. Rows: ``advisories`` (one per id), ``advisory_packages`` (each affected PyPI
project, its ECOSYSTEM ranges and versions as JSON), ``advisory_feeds`` (validators of
the export last read whole).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from packaging.utils import NormalizedName

from generator.catalog.database import Database, chunks, marks
from generator.clock import format_timestamp
from generator.records import Advisory, AffectedPackage


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Advisories:
    """The ``advisories``, ``advisory_packages`` and ``advisory_feeds`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def advisory_versions(self) -> dict[str, tuple[str, str | None]]:
        """{id: (modified, withdrawn)} of every advisory held: what an import compares."""
        rows = self._db.query("SELECT id, modified, withdrawn FROM advisories")
        return {r[0]: (r[1], r[2]) for r in rows}

    def store_advisories(self, advisories: Sequence[Advisory], at: datetime) -> None:
        """Insert or replace ``advisories`` (and their packages) in one transaction."""
        stamp = format_timestamp(at)
        with self._db.write() as cur:
            for a in advisories:
                cur.execute("DELETE FROM advisory_packages WHERE advisory_id = ?", (a.id,))
                cur.execute(
                    "INSERT INTO advisories (id, modified, withdrawn, aliases, summary, "
                    "severity, level, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, "
                    "withdrawn = excluded.withdrawn, aliases = excluded.aliases, "
                    "summary = excluded.summary, severity = excluded.severity, "
                    "level = excluded.level, imported_at = excluded.imported_at",
                    (a.id, a.modified, a.withdrawn, _dumps(list(a.aliases)), a.summary,
                     _dumps([list(s) for s in a.severity]), a.level, stamp),
                )
                for position, p in enumerate(a.packages):
                    cur.execute(
                        "INSERT INTO advisory_packages (advisory_id, position, name, ranges, "
                        "versions) VALUES (?, ?, ?, ?, ?)",
                        (a.id, position, p.name,
                         _dumps([[list(e) for e in r] for r in p.ranges]),
                         _dumps(list(p.versions))),
                    )

    def advisories_for(
        self, names: Iterable[str]
    ) -> dict[NormalizedName, tuple[Advisory, ...]]:
        """{project: its standing (not withdrawn) advisories, by id} for the projects of
        ``names`` (normalized) that have any. Each advisory comes with all its packages."""
        ids: dict[str, set[NormalizedName]] = {}
        for chunk in chunks(names):
            rows = self._db.query(
                "SELECT p.name, p.advisory_id FROM advisory_packages p JOIN advisories a "
                f"ON a.id = p.advisory_id WHERE a.withdrawn IS NULL AND p.name IN ({marks(chunk)})",
                chunk,
            )
            for name, advisory_id in rows:
                ids.setdefault(advisory_id, set()).add(NormalizedName(name))
        loaded = self._load(ids)
        found: dict[NormalizedName, list[Advisory]] = {}
        for advisory in loaded:
            for name in ids[advisory.id]:
                found.setdefault(name, []).append(advisory)
        return {name: tuple(sorted(a, key=lambda x: x.id)) for name, a in found.items()}

    def advisory_names(self, ids: Iterable[str]) -> set[NormalizedName]:
        """The projects the held advisories of ``ids`` name (withdrawn ones too)."""
        found: set[NormalizedName] = set()
        for chunk in chunks(ids):
            rows = self._db.query(
                f"SELECT DISTINCT name FROM advisory_packages WHERE advisory_id IN ({marks(chunk)})",
                chunk,
            )
            found.update(NormalizedName(r[0]) for r in rows)
        return found

    def advisory_projects(self) -> set[NormalizedName]:
        """The projects that some standing advisory names."""
        rows = self._db.query(
            "SELECT DISTINCT p.name FROM advisory_packages p JOIN advisories a "
            "ON a.id = p.advisory_id WHERE a.withdrawn IS NULL"
        )
        return {NormalizedName(r[0]) for r in rows}

    def has_advisories(self) -> bool:
        """True once any advisory was imported (the UI then shows vulnerability data)."""
        return bool(self._db.query("SELECT 1 FROM advisories LIMIT 1"))

    def feed_validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) of the export at ``url`` last read whole, else Nones."""
        rows = self._db.query(
            "SELECT etag, last_modified FROM advisory_feeds WHERE url = ?", (url,)
        )
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def record_feed(
        self, url: str, etag: str | None, last_modified: str | None, at: datetime
    ) -> None:
        """Keep the validators of the export at ``url``, read whole at ``at``."""
        with self._db.write() as cur:
            cur.execute(
                "INSERT INTO advisory_feeds (url, etag, last_modified, synced_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, synced_at = excluded.synced_at",
                (url, etag, last_modified, format_timestamp(at)),
            )

    def _load(self, ids: Iterable[str]) -> list[Advisory]:
        """The advisories of ``ids`` with all their packages, by id."""
        out: list[Advisory] = []
        for chunk in chunks(ids):
            packages: dict[str, list[AffectedPackage]] = {}
            for r in self._db.query(
                "SELECT advisory_id, name, ranges, versions FROM advisory_packages "
                f"WHERE advisory_id IN ({marks(chunk)}) ORDER BY advisory_id, position",
                chunk,
            ):
                packages.setdefault(r[0], []).append(AffectedPackage(
                    name=NormalizedName(r[1]),
                    ranges=tuple(tuple((e[0], e[1]) for e in rng) for rng in json.loads(r[2])),
                    versions=tuple(json.loads(r[3])),
                ))
            for r in self._db.query(
                "SELECT id, modified, withdrawn, aliases, summary, severity, level "
                f"FROM advisories WHERE id IN ({marks(chunk)}) ORDER BY id",
                chunk,
            ):
                out.append(Advisory(
                    id=r[0], modified=r[1], withdrawn=r[2], aliases=tuple(json.loads(r[3])),
                    summary=r[4], severity=tuple((s[0], s[1]) for s in json.loads(r[5])),
                    level=r[6], packages=tuple(packages.get(r[0], ())),
                ))
        return out
