"""The catalog's advisories part on SQLite and PostgreSQL: stored as read, found by
project, withdrawn ones left out, replaced when modified, feed validators kept."""

from __future__ import annotations

from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.records import Advisory, AffectedPackage
from tests.generator.catalog.conftest import Ticker

DEMO = NormalizedName("demo-lib")
OTHER = NormalizedName("other-lib")


def _advisory(id: str, *names: NormalizedName, modified: str = "2026-02-01T00:00:00.000000Z",
              withdrawn: str | None = None) -> Advisory:
    return Advisory(
        id=id, modified=modified, withdrawn=withdrawn, aliases=("CVE-2026-1",),
        summary="s", severity=(("CVSS_V3", "CVSS:3.1/AV:N"),), level="HIGH",
        packages=tuple(AffectedPackage(
            name=n, ranges=((("introduced", "0"), ("fixed", "1.2")),), versions=("1.0",),
        ) for n in names),
    )


def test_advisories_round_trip_and_are_found_by_project(catalog: Catalog, tick: Ticker) -> None:
    assert not catalog.has_advisories()
    one, two = _advisory("GHSA-1", DEMO, OTHER), _advisory("PYSEC-2", DEMO)
    gone = _advisory("PYSEC-3", DEMO, withdrawn="2026-02-02T00:00:00.000000Z")
    catalog.store_advisories([two, one, gone], tick())
    assert catalog.has_advisories()
    assert catalog.advisories_for(["demo-lib", "other-lib", "absent"]) == {
        DEMO: (one, two), OTHER: (one,),
    }
    assert catalog.advisory_projects() == {DEMO, OTHER}
    assert catalog.advisory_names(["PYSEC-3"]) == {DEMO}
    assert catalog.advisory_versions() == {
        "GHSA-1": (one.modified, None), "PYSEC-2": (two.modified, None),
        "PYSEC-3": (gone.modified, gone.withdrawn),
    }


def test_a_stored_advisory_is_replaced_whole(catalog: Catalog, tick: Ticker) -> None:
    catalog.store_advisories([_advisory("GHSA-1", DEMO, OTHER)], tick())
    newer = _advisory("GHSA-1", OTHER, modified="2026-02-05T00:00:00.000000Z")
    catalog.store_advisories([newer], tick())
    assert catalog.advisories_for(["demo-lib", "other-lib"]) == {OTHER: (newer,)}


def test_feed_validators(catalog: Catalog, tick: Ticker) -> None:
    url = "http://127.0.0.1:9/PyPI/all.zip"
    assert catalog.feed_validators(url) == (None, None)
    catalog.record_feed(url, '"e1"', "Sun, 01 Feb 2026 10:00:00 GMT", tick())
    catalog.record_feed(url, '"e2"', None, tick())
    assert catalog.feed_validators(url) == ('"e2"', None)
