"""The Simple formats over time (``generator.catalog.formats``), on SQLite and PostgreSQL:
what a catalog from before the table gets, what a new one gets, what a generation records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

import generator.catalog.database as database
from generator.catalog.catalog import Catalog
from generator.catalog.formats import EPOCH, RenderFormat
from generator.catalog.schema import MIGRATIONS
from tests.generator.catalog.conftest import record

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UPGRADE = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
# The number of migrations before the one that made ``render_formats``.
BEFORE_FORMATS = next(
    i for i, m in enumerate(MIGRATIONS) if any("CREATE TABLE render_formats" in s for s in m)
)


def old_catalog(location: str | Path, monkeypatch: pytest.MonkeyPatch, *, files: bool) -> None:
    """A catalog made by the timeshelf before ``render_formats``: its schema stops at the
    migration before, with a repository (and one file, when ``files``)."""
    with monkeypatch.context() as patch:
        patch.setattr(database, "SCHEMA_VERSION", BEFORE_FORMATS)
        with Catalog(location) as old:
            assert old.schema_version() == BEFORE_FORMATS
            if files:
                source = old.create_source("a", "local-python", T0)
                old.create_repo("python", T0)
                old.subscribe("python", "a", T0)
                old.add_file(source, NormalizedName("foo"), "Foo", "",
                             record("foo-1.0.tar.gz", "1.0"), T0)


def test_a_catalog_from_before_rendered_format_1_from_the_start(
    catalog_location: str | Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_catalog(catalog_location, monkeypatch, files=True)
    with Catalog(catalog_location) as cat:
        assert cat.render_formats() == (RenderFormat(version="1", since=EPOCH),)
        assert cat.render_format_at("2026-03-01T23:59:59.999999Z", "2") == "1"
        # The first generation of the new format: from then on, format 2.
        assert cat.record_render_format("2", UPGRADE) is True
        assert cat.record_render_format("2", UPGRADE) is False
        assert cat.render_formats() == (
            RenderFormat(version="1", since=EPOCH),
            RenderFormat(version="2", since="2026-03-04T09:30:00.000000Z"),
        )
        assert cat.render_format_at("2026-03-03T23:59:59.999999Z", "2") == "1"
        assert cat.render_format_at("2026-03-04T09:30:00.000000Z", "2") == "2"
        assert cat.render_format_at("2026-03-04T23:59:59.999999Z", "2") == "2"


def test_an_empty_catalog_from_before_is_a_new_one(
    catalog_location: str | Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_catalog(catalog_location, monkeypatch, files=False)
    with Catalog(catalog_location) as cat:
        assert cat.render_formats() == ()


def test_a_new_catalog_renders_every_day_in_its_first_format(
    catalog_location: str | Path,
) -> None:
    with Catalog(catalog_location) as cat:
        assert cat.render_formats() == ()
        assert cat.render_format_at("2020-01-01T23:59:59.999999Z", "2") == "2"  # none yet
        assert cat.record_render_format("2", UPGRADE) is True
        assert cat.render_formats() == (RenderFormat(version="2", since=EPOCH),)
        # Reconstructed days, however far back, are in that format too.
        assert cat.render_format_at("1999-01-01T23:59:59.999999Z", "3") == "2"


def test_a_clock_set_back_never_reorders_the_formats(catalog_location: str | Path) -> None:
    with Catalog(catalog_location) as cat:
        cat.record_render_format("1", T0)
        cat.record_render_format("2", UPGRADE)
        assert cat.record_render_format("3", T0) is True  # before the row of "2"
        assert [f.version for f in cat.render_formats()] == ["1", "2", "3"]
        assert cat.render_format_at("2026-03-04T09:30:00.000000Z", "3") == "3"
        assert cat.render_format_at("2026-03-04T09:29:59.000000Z", "3") == "1"
