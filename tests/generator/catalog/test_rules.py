"""Blocklist rules and file licenses in the catalog (``generator.catalog.rules``), on
SQLite and PostgreSQL: rules in force per instant, an event per repository they touch,
licenses by content hash."""

from __future__ import annotations

import pytest
from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp
from generator.errors import NotFound
from generator.policy.rules import check_rule
from tests.generator.catalog.conftest import Ticker, record

FOO = NormalizedName("foo")


def test_rules_in_force_are_replayed_per_instant(catalog: Catalog, tick: Ticker) -> None:
    before = format_timestamp(tick())
    first = catalog.add_rule(check_rule(package_name="Foo", version="<2",
                                        description="old foo"), tick())
    between = format_timestamp(tick())
    second = catalog.add_rule(check_rule(vulns=True, min_severity="high"), tick())
    assert (first.id, first.package_name, first.version) == (1, "foo", "<2")
    assert second.min_severity == "HIGH"
    assert catalog.rules_in_force() == (first, second)
    gone = catalog.delete_rule(first.id, tick())
    after = format_timestamp(tick())
    assert gone.deleted_at is not None
    assert catalog.rules_in_force() == (second,)
    assert catalog.rules_in_force(before) == ()
    assert [r.id for r in catalog.rules_in_force(between)] == [1]
    assert [r.id for r in catalog.rules_in_force(after)] == [2]
    with pytest.raises(NotFound, match="no blocklist rule 1 in force"):
        catalog.delete_rule(first.id, tick())


def test_a_rule_is_an_event_of_each_repository_it_touches(
    catalog: Catalog, tick: Ticker
) -> None:
    catalog.create_repo("other", tick())
    python, other = catalog.get_repo("python"), catalog.get_repo("other")
    mark = catalog.last_event_id()
    catalog.add_rule(check_rule(package_name="foo", repo="other"), tick())
    upto = catalog.last_event_id()
    assert catalog.changed_since(other, mark, upto) is None  # rendered whole
    assert catalog.changed_since(python, mark, upto) == set()
    catalog.add_rule(check_rule(package_name="foo"), tick())
    assert catalog.changed_since(python, upto, catalog.last_event_id()) is None
    assert catalog.changed_projects(upto, catalog.last_event_id()) is None


def test_advisory_changes_are_events_only_under_a_vulns_rule(
    catalog: Catalog, tick: Ticker
) -> None:
    a = catalog.get_source("a")
    catalog.add_file(a, FOO, "Foo", "", record("foo-1.0.tar.gz", "1.0"), tick())
    assert catalog.note_advisories(["foo"], tick()) is False
    catalog.add_rule(check_rule(vulns=True), tick())
    mark = catalog.last_event_id()
    assert catalog.note_advisories(["foo", "absent"], tick()) is True
    assert catalog.changed_projects(mark, catalog.last_event_id()) == {"foo"}


def test_licenses_are_kept_by_content(catalog: Catalog, tick: Ticker) -> None:
    a = catalog.get_source("a")
    file = record("foo-1.0.tar.gz", "1.0")
    catalog.add_file(a, FOO, "Foo", "", file, tick())
    assert catalog.files_without_license() == [(file.sha256, "foo-1.0.tar.gz")]
    assert catalog.files_without_license(["other"]) == []
    catalog.record_licenses({file.sha256: "MIT"})
    catalog.record_licenses({file.sha256: "GPL-3.0-only"})  # the first one learned stays
    assert catalog.licenses_of([file.sha256, "0" * 64]) == {file.sha256: "MIT"}
    assert catalog.files_without_license() == []
