"""Listings (``generator.catalog.listings``): the event log and the packages."""

from __future__ import annotations

from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp
from generator.records import PackageSummary
from tests.generator.catalog.conftest import AddFile, Ticker


def test_events_carry_the_injected_time(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    start = catalog.last_event_id()
    add("a", "foo", "1.0")
    added_at = tick.now
    catalog.remove(catalog.get_source("a"), "foo", tick())
    events = catalog.events(after=start)
    assert [(e.kind, e.at, e.source, e.project, e.filename, e.repo) for e in events] == [
        ("file_added", format_timestamp(added_at), "a", "foo", "foo-1.0.tar.gz", None),
        ("file_removed", format_timestamp(tick.now), "a", "foo", "foo-1.0.tar.gz", None),
    ]
    assert [e.id for e in events] == [start + 1, start + 2]
    assert [e.id for e in catalog.events(after=start, limit=1)] == [start + 1]


def test_list_packages(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    add("a", "foo", "1.0")
    add("a", "foo", "1.0", suffix="-py3-none-any.whl")
    add("a", "foo", "10.0")
    add("a", "foo", "r1")
    add("a", "foo", "9.0")
    add("b", "bar", "2.0")
    add("b", "foo", "0.1")
    catalog.remove(catalog.get_source("a"), "foo", tick(), version="10.0")

    def summary(source: str, name: str, versions: int, files: int, latest: str) -> PackageSummary:
        return PackageSummary(source=source, name=NormalizedName(name), display_name=name,
                              versions=versions, files=files, latest=latest)

    assert catalog.list_packages() == [
        summary("a", "foo", 3, 4, "9.0"),
        summary("b", "bar", 1, 1, "2.0"),
        summary("b", "foo", 1, 1, "0.1"),
    ]
    assert catalog.list_packages(catalog.get_source("b")) == [
        summary("b", "bar", 1, 1, "2.0"),
        summary("b", "foo", 1, 1, "0.1"),
    ]
    assert catalog.list_packages(catalog.get_source("mirror")) == []
