"""A catalog written by the timeshelf of revision 6239c96 (schema 6, Simple format 1, before
PEP 792), opened by today's: its days render on demand to the bytes that timeshelf
materialized for them, and a day after today's first generation is in the current format.

``made_by_format1/`` holds that catalog as an SQL dump and the pages it materialized
(decompressed), made with the old code on the path (``git archive 6239c96 | tar -x -C
OLD``; wheels built by ``tests.conftest.Dists``), each command under ``TIMESHELF_NOW``:
``init inst`` (03-01 09:00); ``add --source local tempo-1.0-py3-none-any.whl
other-1.0-py3-none-any.whl`` (03-01 10:00); ``add --source local tempo-2.0.tar.gz``
(03-02 10:00); ``yank tempo 1.0 --reason 'bad "build" & <more>'`` (03-02 11:00);
``generate`` (03-03 10:00).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from generator.catalog.catalog import Catalog
from generator.catalog.formats import EPOCH, RenderFormat
from generator.render.simple import Renderer
from generator.snapshots.ondemand import render_on_demand

MADE = Path(__file__).resolve().parent / "made_by_format1"
PAGES = [(day, page) for day in ("2026-03-01", "2026-03-02")
         for page in ("root", "tempo", "other")]


@pytest.fixture
def old(tmp_path: Path) -> Iterator[Catalog]:
    path = tmp_path / "catalog.sqlite3"
    db = sqlite3.connect(path)
    db.executescript((MADE / "catalog.sql").read_text())
    db.close()
    with Catalog(path) as catalog:  # migrated from schema 6 here
        yield catalog


@pytest.mark.parametrize(("day", "page"), PAGES)
def test_old_days_render_on_demand_to_the_old_bytes(old: Catalog, day: str, page: str) -> None:
    repo = old.get_repo("python")
    renderer = Renderer()
    before = render_on_demand(old, renderer, repo, date.fromisoformat(day),
                              None if page == "root" else page)
    # Once the new timeshelf has generated, the old days still keep their bytes.
    old.record_render_format("2", datetime(2026, 3, 3, 12, tzinfo=UTC))
    after = render_on_demand(old, renderer, repo, date.fromisoformat(day),
                             None if page == "root" else page)
    for rendered in (before, after):
        assert rendered.html == (MADE / day / f"{page}.html").read_bytes()
        assert rendered.json == (MADE / day / f"{page}.json").read_bytes()


def test_the_day_of_the_upgrade_is_in_the_current_format(old: Catalog) -> None:
    assert old.render_formats() == (RenderFormat(version="1", since=EPOCH),)
    old.record_render_format("2", datetime(2026, 3, 3, 12, tzinfo=UTC))
    page = render_on_demand(old, Renderer(), old.get_repo("python"), date(2026, 3, 3), "tempo")
    assert b'<meta name="pypi:project-status" content="active">' in page.html
    assert b'"api-version":"1.4"' in page.json
