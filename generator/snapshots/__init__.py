"""Dated snapshots: each repository as it stood at the end of every UTC day, frozen.

Owns the calendar of snapshot days and their retention (``calendar``), the rendering of
a day's pages from the catalog's replay (``ondemand``), writing days to disk once with
unchanged pages shared (``materialize``, with its link helper ``daylinks``) and the
gzip form pages are stored in (``frozen``). May import ``generator.catalog``,
``generator.render``, ``generator.storage`` (atomic writes) and the shared vocabulary
at the top of ``generator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.snapshots.calendar import (
        Retention,
        check_snapshot_day,
        day_end,
        history_days,
        parse_day,
        snapshot_days,
    )
    from generator.snapshots.frozen import (
        compress_page,
        decompress_page,
        is_compressed_name,
        read_page,
        read_served_page,
        served_name,
        stored_page,
    )
    from generator.snapshots.materialize import Materializer, SnapshotReport
    from generator.snapshots.ondemand import SnapshotPage, format_at, render_on_demand

__all__ = [
    "Materializer",
    "Retention",
    "SnapshotPage",
    "SnapshotReport",
    "check_snapshot_day",
    "compress_page",
    "day_end",
    "decompress_page",
    "format_at",
    "history_days",
    "is_compressed_name",
    "parse_day",
    "read_page",
    "read_served_page",
    "render_on_demand",
    "served_name",
    "snapshot_days",
    "stored_page",
]

__getattr__ = lazy_face(__name__, __file__)
