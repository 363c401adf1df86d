"""The pure planning of a sync pass: which projects to fetch, which vanished, the serial
a pass reached (``generator.mirror.plan``; ``plan_project`` is tested beside the page
parsers in test_upstream.py)."""

from __future__ import annotations

import pytest
from packaging.utils import NormalizedName

from generator.errors import TimeshelfError
from generator.mirror.plan import gone_change, listing_serial, projects_to_fetch, vanished_projects
from generator.mirror.upstream import ListedProject, Listing, UpstreamError
from generator.records import MirroredFile, ProjectSync


def listed(name: str, serial: int | None) -> ListedProject:
    return ListedProject(name=NormalizedName(name), display_name=name.title(), serial=serial)


def synced(name: str, serial: int | None, *, gone: bool = False) -> ProjectSync:
    return ProjectSync(name=NormalizedName(name), serial=serial, etag=None, last_modified=None,
                       gone=gone)


LISTING = Listing(projects=(listed("a", 5), listed("b", 7), listed("c", None)))


@pytest.mark.parametrize(
    ("known", "fetched"),
    [
        ({}, ["a", "b", "c"]),
        ({"a": synced("a", 5), "b": synced("b", 7)}, ["c"]),
        ({"a": synced("a", 4), "b": synced("b", 7)}, ["a", "c"]),
        ({"a": synced("a", 5, gone=True)}, ["a", "b", "c"]),
        ({"c": synced("c", None)}, ["a", "b", "c"]),
    ],
    ids=["first-pass", "serials-unchanged", "serial-moved", "came-back", "no-serial-always"],
)
def test_projects_to_fetch(known: dict[str, ProjectSync], fetched: list[str]) -> None:
    table = {NormalizedName(k): v for k, v in known.items()}
    assert [p.name for p in projects_to_fetch(LISTING, table)] == fetched


def test_vanished_projects_are_the_known_ones_no_longer_listed_by_name() -> None:
    known = {NormalizedName(n): synced(n, 1) for n in ("z", "a", "y")}
    known[NormalizedName("x")] = synced("x", None, gone=True)
    assert vanished_projects(LISTING, known) == [
        ListedProject(name=NormalizedName("y"), display_name="y", serial=None),
        ListedProject(name=NormalizedName("z"), display_name="z", serial=None),
    ]


@pytest.mark.parametrize(
    ("listing", "serial"),
    [
        (Listing(projects=LISTING.projects, serial=99), 99),
        (LISTING, 7),
        (Listing(projects=(listed("c", None),)), None),
    ],
    ids=["root-serial", "highest-project", "none"],
)
def test_listing_serial(listing: Listing, serial: int | None) -> None:
    assert listing_serial(listing) == serial


def test_gone_change_removes_what_is_not_removed_yet() -> None:
    existing = [
        MirroredFile(filename=f, sha256="a" * 64, yanked=False, yanked_reason="", removed=r)
        for f, r in (("a-1.tar.gz", False), ("a-0.9.tar.gz", True))
    ]
    change = gone_change(listed("a", 5), existing)
    assert (change.remove, change.sync.gone) == (("a-1.tar.gz",), True)


def test_an_upstream_error_is_an_expected_failure() -> None:
    error = UpstreamError("http://127.0.0.1:1/simple/: not valid JSON")
    assert isinstance(error, TimeshelfError)
    assert isinstance(error, ValueError)
