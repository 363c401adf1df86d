"""PEP 792 project status in the catalog (``generator.catalog.status``), on SQLite and
PostgreSQL: per project of a source, an event per change, replayed per instant."""

from __future__ import annotations

import pytest
from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.catalog.status import MAX_REASON, check_status
from generator.clock import format_timestamp
from generator.errors import InvalidName, NotFound
from generator.records import ACTIVE, ProjectStatus
from tests.generator.catalog.conftest import Ticker, record

FOO = NormalizedName("foo")


def test_status_is_per_source_and_replayed(catalog: Catalog, tick: Ticker) -> None:
    a, b = catalog.get_source("a"), catalog.get_source("b")
    catalog.add_file(a, FOO, "Foo", "", record("foo-1.0.tar.gz", "1.0"), tick())
    catalog.add_file(b, FOO, "Foo", "", record("foo-2.0.tar.gz", "2.0"), tick())
    before = format_timestamp(tick())
    archived = ProjectStatus(status="archived", reason="old")
    assert catalog.set_project_status(a, "Foo", archived, tick()) is True
    assert catalog.set_project_status(a, "foo", archived, tick()) is False  # unchanged
    between = format_timestamp(tick())
    assert catalog.set_project_status(a, "foo", ProjectStatus(status="quarantined"), tick())
    assert catalog.project_status(a, "foo") == ProjectStatus(status="quarantined")
    assert catalog.project_status(b, "foo") == ACTIVE
    repo = catalog.get_repo("python")
    (now,) = catalog.iter_projects(repo)
    assert (now.source, now.status.status) == ("a", "quarantined")
    (then,) = catalog.iter_projects_at(repo, before)
    assert then.status == ACTIVE
    (middle,) = catalog.iter_projects_at(repo, between)
    assert middle.status == archived
    assert [e.kind for e in catalog.events()][-2:] == ["project_status", "project_status"]
    assert {f[1] for f in catalog.quarantined_files()} == {"foo-1.0.tar.gz"}
    assert catalog.set_project_status(a, "foo", ACTIVE, tick())
    assert catalog.project_statuses() == {}
    assert catalog.quarantined_files() == []


def test_a_project_the_source_lacks_is_not_found(catalog: Catalog, tick: Ticker) -> None:
    with pytest.raises(NotFound, match=r"project 'nope' is not in source 'a' \(nothing changed\)"):
        catalog.set_project_status(catalog.get_source("a"), "nope", ACTIVE, tick())


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [("frozen", "", "unknown project status 'frozen': use one of active, archived, "
                    "quarantined, deprecated"),
     ("archived", "x" * (MAX_REASON + 1), f"at most {MAX_REASON} are kept"),
     ("archived", "a\tb", "line break or control character")],
    ids=["word", "too-long", "control"],
)
def test_check_status_refuses(status: str, reason: str, message: str) -> None:
    with pytest.raises(InvalidName, match=message):
        check_status(status, reason)
