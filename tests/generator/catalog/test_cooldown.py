"""Cooldown repositories: the rule, its settings and allowances, live and replayed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.catalog.cooldown import (
    CooldownPolicy,
    InvalidCooldown,
    describe_cooldown,
    is_of_age,
    parse_cooldown,
    parse_release,
)
from generator.clock import format_timestamp
from generator.errors import NotFound
from generator.records import CooldownAllowance, CooldownMark, CooldownSettings, ProjectState
from tests.generator.catalog.conftest import record

DAY = timedelta(days=1)
START = datetime(2026, 3, 1, 10, tzinfo=UTC)
WEEK = CooldownSettings(seconds=7 * 86400)


def at(days: float) -> datetime:
    return START + timedelta(days=days)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 604800), ("36h", 129600), ("2w", 1209600), ("90m", 5400), ("none", None),
     (" NONE ", None)],
    ids=["days", "hours", "weeks", "minutes", "none", "none-spaced"],
)
def test_cooldown_durations(text: str, seconds: int | None) -> None:
    assert parse_cooldown(text) == seconds


@pytest.mark.parametrize("text", ["7x", "-1d", "0d", "", "7", "never", "1.5d", "d"],
                         ids=["unit", "negative", "zero", "empty", "no-unit", "never",
                              "fraction", "no-number"])
def test_bad_cooldown_durations(text: str) -> None:
    with pytest.raises(InvalidCooldown, match=r"invalid cooldown .*: use a number and a unit"):
        parse_cooldown(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Foo_Bar", ("foo-bar", None)), ("foo==1.0", ("foo", "1.0")),
     ("foo==1.0.0rc1", ("foo", "1.0.0rc1")), ("foo==01.2", ("foo", "1.2"))],
    ids=["project", "release", "pre-release", "normalized"],
)
def test_releases(text: str, expected: tuple[str, str | None]) -> None:
    assert parse_release(text) == expected


@pytest.mark.parametrize("text", ["", "==1.0", "foo==", "foo>=1.0", "foo==not-a-version",
                                  "foo 1.0"],
                         ids=["empty", "no-project", "no-version", "specifier",
                              "bad-version", "space"])
def test_malformed_releases(text: str) -> None:
    with pytest.raises(InvalidCooldown, match=r"invalid release .*PROJECT==VERSION"):
        parse_release(text)


@pytest.mark.parametrize(
    ("uploaded", "source", "now", "expected"),
    [(at(0), "a", at(7) - timedelta(microseconds=1), False), (at(0), "a", at(7), False),
     (at(0), "a", at(7) + timedelta(microseconds=1), True), (at(0), "local", at(0.1), True),
     (at(-30), "a", at(0), True)],
    ids=["just-before", "exactly-seven-days", "just-after", "exempt", "old"],
)
def test_is_of_age(uploaded: datetime, source: str, now: datetime, expected: bool) -> None:
    settings = CooldownSettings(seconds=7 * 86400, exempt=("local",))
    assert is_of_age(format_timestamp(uploaded), source, now, settings) is expected


def project(*files: tuple[str, datetime], source: str = "a") -> ProjectState:
    return ProjectState(
        name=NormalizedName("p"), display_name="p", source=source, serial=1,
        files=tuple(replace(record(f"p-{v}.tar.gz", v), upload_time=format_timestamp(t))
                    for v, t in files),
    )


def allowance(version: str | None, when: datetime, reason: str = "fix") -> CooldownAllowance:
    return CooldownAllowance(id=1, repo="r", project=NormalizedName("p"), version=version,
                             reason=reason, allowed_by="alice",
                             allowed_at=format_timestamp(when))


def test_a_policy_lists_what_is_of_age_and_marks_the_rest() -> None:
    state = project(("1.0", at(0)), ("2.0", at(5)), ("3.0", at(6)))
    listed = CooldownPolicy.build(WEEK, at(8), (allowance("3", at(7)),)).apply(state)
    assert listed is not None
    assert [f.version for f in listed.files] == ["1.0", "3.0"]
    assert listed.cooldown == (
        CooldownMark(project=NormalizedName("p"), version="2.0",
                     comes_of_age_at=format_timestamp(at(12))),
        CooldownMark(project=NormalizedName("p"), version="3.0", allowed_reason="fix"),
    )


def test_a_project_allowance_covers_the_files_uploaded_by_then() -> None:
    state = project(("1.0", at(0)), ("2.0", at(2)))
    listed = CooldownPolicy.build(WEEK, at(3), (allowance(None, at(1)),)).apply(state)
    assert listed is not None
    assert [f.version for f in listed.files] == ["1.0"]


def test_nothing_of_age_lists_nothing_and_exempt_sources_everything() -> None:
    state = project(("1.0", at(0)))
    assert CooldownPolicy.build(WEEK, at(1)).apply(state) is None
    exempt = CooldownSettings(seconds=WEEK.seconds, exempt=("a",))
    assert CooldownPolicy.build(exempt, at(1)).apply(state) is state


def test_describe() -> None:
    assert describe_cooldown(None) == "none"
    assert describe_cooldown(CooldownSettings(seconds=604800, exempt=("local",))) == (
        "7d (exempt: local)")
    assert describe_cooldown(CooldownSettings(seconds=5400)) == "90m"


# -- in the catalog -----------------------------------------------------------------------


def add_at(catalog: Catalog, source: str, name: str, version: str, when: datetime) -> None:
    file = replace(record(f"{name}-{version}.tar.gz", version),
                   upload_time=format_timestamp(when))
    assert catalog.add_file(catalog.get_source(source), NormalizedName(name), name, "s", file,
                            when)


def listed(catalog: Catalog, now: datetime) -> dict[str, list[str]]:
    repo = catalog.get_repo("python")
    return {p.name: [f.version for f in p.files] for p in catalog.iter_projects(repo, at=now)}


def replayed(catalog: Catalog, now: datetime) -> dict[str, list[str]]:
    repo = catalog.get_repo("python")
    stamp = format_timestamp(now)
    found: dict[str, list[str]] = {
        p.name: [f.version for f in p.files] for p in catalog.iter_projects_at(repo, stamp)}
    assert [n for n, _ in catalog.project_names_at(repo, stamp)] == sorted(found)
    return found


def test_live_and_replayed_listings_apply_the_same_rule(catalog: Catalog) -> None:
    repo = catalog.get_repo("python")
    catalog.set_cooldown(repo, 7 * 86400, ("b",), at(-1))
    add_at(catalog, "a", "slow", "1.0", at(0))
    add_at(catalog, "a", "slow", "2.0", at(3))
    add_at(catalog, "b", "inhouse", "1.0", at(0))
    for day, expected in [
        (1, {"inhouse": ["1.0"]}),
        (8, {"inhouse": ["1.0"], "slow": ["1.0"]}),
        (11, {"inhouse": ["1.0"], "slow": ["1.0", "2.0"]}),
    ]:
        assert listed(catalog, at(day)) == expected, day
        assert replayed(catalog, at(day)) == expected, day


def test_settings_changes_are_replayed_at_their_time(catalog: Catalog) -> None:
    repo = catalog.get_repo("python")
    add_at(catalog, "a", "slow", "1.0", at(0))
    catalog.set_cooldown(repo, 7 * 86400, None, at(1))
    catalog.set_cooldown(repo, None, None, at(3))
    assert replayed(catalog, at(0.5)) == {"slow": ["1.0"]}   # before the cooldown
    assert replayed(catalog, at(2)) == {}                     # under it
    assert replayed(catalog, at(4)) == {"slow": ["1.0"]}      # after it ended
    assert listed(catalog, at(4)) == {"slow": ["1.0"]}


def test_allowances_and_revocations_are_replayed_at_their_time(catalog: Catalog) -> None:
    repo = catalog.get_repo("python")
    catalog.set_cooldown(repo, 7 * 86400, None, at(-1))
    add_at(catalog, "a", "urgent", "2.0", at(0))
    allowed = catalog.allow_early(repo, NormalizedName("urgent"), "2.0", reason="CVE fix",
                                  by="alice", at=at(1))
    assert listed(catalog, at(1.5)) == {"urgent": ["2.0"]}
    catalog.revoke_allowance(allowed.id, by="bob", at=at(2))
    assert listed(catalog, at(2.5)) == {}
    assert replayed(catalog, at(0.9)) == {}
    assert replayed(catalog, at(1.5)) == {"urgent": ["2.0"]}
    assert replayed(catalog, at(2.5)) == {}
    assert [(a.allowed_by, a.revoked_by) for a in catalog.cooldown_allowances(repo)] == [
        ("alice", "bob")]


def test_coming_of_age_is_an_event_once(catalog: Catalog) -> None:
    repo = catalog.get_repo("python")
    catalog.set_cooldown(repo, 7 * 86400, None, at(-1))
    add_at(catalog, "a", "slow", "1.0", at(0))
    head = catalog.last_event_id()
    serial = next(catalog.iter_projects(repo, at=at(9))).serial
    assert catalog.record_coming_of_age(repo, at(5)) == 0
    assert catalog.record_coming_of_age(repo, at(9)) == 1
    assert catalog.record_coming_of_age(repo, at(10)) == 0
    assert catalog.changed_since(repo, head, catalog.last_event_id()) == {"slow"}
    # Days see it on the day it came of age; the project's serial does not move.
    assert catalog.changed_between(repo, format_timestamp(at(6.5)),
                                   format_timestamp(at(7.5))) == {"slow"}
    assert next(catalog.iter_projects(repo, at=at(9))).serial == serial
    assert next(catalog.iter_projects_at(repo, format_timestamp(at(9)))).serial == serial


def test_a_shadowed_name_stays_with_its_owner_while_it_waits(catalog: Catalog) -> None:
    # "a" comes first: its new project owns the name even while it waits, so b's files
    # of the same name are not listed in its place (no dependency confusion).
    repo = catalog.get_repo("python")
    catalog.set_cooldown(repo, 7 * 86400, None, at(-20))
    add_at(catalog, "b", "name", "1.0", at(-10))
    add_at(catalog, "a", "name", "9.0", at(0))
    assert listed(catalog, at(1)) == {}
    assert replayed(catalog, at(1)) == {}
    assert listed(catalog, at(8)) == {"name": ["9.0"]}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c, r: c.set_cooldown(r, 60, ("nope",), at(0)), NotFound,
         "unknown source 'nope' (known sources:"),
        (lambda c, r: c.allow_early(r, NormalizedName("ghost"), None, reason="x", by="a",
                                    at=at(0)), NotFound,
         "repository 'python' has no project 'ghost'"),
        (lambda c, r: c.allow_early(r, NormalizedName("slow"), "9.9", reason="x", by="a",
                                    at=at(0)), NotFound,
         "project 'slow' of repository 'python' has no version '9.9'"),
        (lambda c, r: c.allow_early(r, NormalizedName("slow"), None, reason=" ", by="a",
                                    at=at(0)), InvalidCooldown, "an allowance needs a reason"),
        (lambda c, r: c.revoke_allowance(42, by="a", at=at(0)), NotFound,
         "unknown cooldown allowance 42"),
    ],
    ids=["unknown-exempt-source", "unknown-project", "unknown-version", "no-reason",
         "unknown-allowance"],
)
def test_rejections_leave_no_trace(catalog: Catalog, call, error, message) -> None:  # type: ignore[no-untyped-def]
    repo = catalog.get_repo("python")
    catalog.set_cooldown(repo, 7 * 86400, None, at(-1))
    add_at(catalog, "a", "slow", "1.0", at(0))
    events = catalog.last_event_id()
    with pytest.raises(error) as raised:
        call(catalog, repo)
    assert str(raised.value).startswith(message)
    assert catalog.last_event_id() == events
    assert catalog.cooldown(repo) == CooldownSettings(seconds=7 * 86400)
    assert catalog.cooldown_allowances(repo) == []


def test_allowing_in_a_repository_without_cooldown_is_refused(catalog: Catalog) -> None:
    add_at(catalog, "a", "slow", "1.0", at(0))
    with pytest.raises(InvalidCooldown, match="repository 'python' has no cooldown"):
        catalog.allow_early(catalog.get_repo("python"), NormalizedName("slow"), None,
                            reason="x", by="a", at=at(0))


def test_revoking_twice_is_refused(catalog: Catalog) -> None:
    repo = catalog.get_repo("python")
    catalog.set_cooldown(repo, 7 * 86400, None, at(-1))
    add_at(catalog, "a", "slow", "1.0", at(0))
    allowed = catalog.allow_early(repo, NormalizedName("slow"), "1.0", reason="x", by="a",
                                  at=at(1))
    catalog.revoke_allowance(allowed.id, by="a", at=at(2))
    with pytest.raises(NotFound, match=f"already revoked cooldown allowance {allowed.id}"):
        catalog.revoke_allowance(allowed.id, by="a", at=at(3))


def test_a_mirrored_file_counts_from_its_upstream_upload_time(catalog: Catalog) -> None:
    # Synced today, uploaded upstream a month ago: of age at once. Uploaded upstream
    # yesterday: it waits six more days, however late it was synced.
    repo = catalog.get_repo("python")
    catalog.subscribe("python", "mirror", at(0.2))  # after the fixture's subscriptions
    catalog.set_cooldown(repo, 7 * 86400, None, at(0.2))
    mirror = catalog.get_source("mirror")
    for name, uploaded in (("old", at(-30)), ("young", at(-1))):
        file = replace(record(f"{name}-1.0.tar.gz", "1.0"),
                       upload_time=format_timestamp(uploaded))
        assert catalog.add_file(mirror, NormalizedName(name), name, "s", file, at(0.3))
    assert listed(catalog, at(0.5)) == {"old": ["1.0"]}
    assert replayed(catalog, at(0.5)) == {"old": ["1.0"]}
    assert listed(catalog, at(6.5)) == {"old": ["1.0"], "young": ["1.0"]}
    assert replayed(catalog, at(6.5)) == {"old": ["1.0"], "young": ["1.0"]}
    assert replayed(catalog, at(0.25)) == {}  # not synced yet: a day keeps what it had
