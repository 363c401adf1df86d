"""The Simple formats in force over time (the ``render_formats`` table).

A dated snapshot day is rendered in the format that was in force at its end, so a day
keeps its bytes when a new timeshelf changes the pages (``RENDER_VERSION`` in
``generator.render.simple``). Each row is a format and the instant it took over; the
format at an instant is that of the last row at or before it. A catalog from before the
table got ``("1", EPOCH)`` in its migration; the first generation of a timeshelf with
another format appends ``(that format, now)``; a new catalog's first generation records
its format from ``EPOCH`` on (until then, none is recorded and the current one applies),
so a fresh installation renders even reconstructed past days in the current format.

The catalog does not know the formats themselves: callers pass the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from generator.catalog.database import Database
from generator.clock import format_timestamp

# Where the first recorded format starts (the migration writes the same literal).
EPOCH = "1970-01-01T00:00:00.000000Z"


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderFormat:
    """A Simple format and the instant (``clock`` form) from which it is in force."""

    version: str
    since: str


class RenderFormats:
    """Reads and appends the ``render_formats`` rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def render_formats(self) -> tuple[RenderFormat, ...]:
        """Every recorded format, oldest first."""
        rows = self.db.query("SELECT version, since FROM render_formats ORDER BY since, id")
        return tuple(RenderFormat(version=r[0], since=r[1]) for r in rows)

    def render_format_at(self, at: str, current: str) -> str:
        """The format in force at ``at`` (a ``clock`` timestamp): the last one recorded at
        or before it; ``current`` when none is recorded yet (a new catalog)."""
        rows = self.db.query(
            "SELECT version FROM render_formats WHERE since <= ? "
            "ORDER BY since DESC, id DESC LIMIT 1", (at,),
        )
        if not rows:  # only before EPOCH, or nothing recorded
            rows = self.db.query("SELECT version FROM render_formats ORDER BY since, id LIMIT 1")
        return str(rows[0][0]) if rows else current

    def record_render_format(self, version: str, at: datetime) -> bool:
        """Record that ``version`` is the format from ``at`` on, unless it already is the
        latest: ``(version, EPOCH)`` in a catalog without any. True when a row was added."""
        last = self._latest()
        if last is not None and last.version == version:
            return False  # every generation asks: one read, no write
        with self.db.write() as cur:
            # Again under the write lock: the sidecar and a generate may both be first.
            row = cur.execute(
                "SELECT version, since FROM render_formats ORDER BY since DESC, id DESC LIMIT 1"
            ).fetchone()
            if row is not None and row[0] == version:
                return False
            # Never before the latest row (a clock set back would reorder the formats).
            since = EPOCH if row is None else max(format_timestamp(at), str(row[1]))
            cur.execute(
                "INSERT INTO render_formats (version, since) VALUES (?, ?)", (version, since)
            )
        return True

    def _latest(self) -> RenderFormat | None:
        rows = self.db.query(
            "SELECT version, since FROM render_formats ORDER BY since DESC, id DESC LIMIT 1"
        )
        return RenderFormat(version=rows[0][0], since=rows[0][1]) if rows else None
