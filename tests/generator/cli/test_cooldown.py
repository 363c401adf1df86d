"""``create repo --cooldown``, ``set repo``, ``cooldown allow/list/revoke``; what the
index, its days and the web UI show of a cooldown repository."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from generator.installation import Installation
from generator.snapshots.frozen import read_served_page
from generator.snapshots.ondemand import render_on_demand
from tests.conftest import CliRunner, Dists, FakeClock

START = datetime(2026, 3, 1, 10, tzinfo=UTC)


def on(clock: FakeClock, days: float) -> None:
    clock.set(START + timedelta(days=days))


@pytest.fixture
def cool(installation: Installation, cli: CliRunner, clock: FakeClock, dists: Dists
         ) -> Installation:
    """Repository "cool" (7 days, "local" exempt) on "vendor" then "local"; slow 1.0 from
    vendor and inhouse 1.0 from local, both on day 1 (2026-03-01 10:00)."""
    on(clock, -0.1)
    assert cli("create", "source", "--name", "vendor", "--type", "local-python").code == 0
    assert cli("create", "repo", "--name", "cool", "--cooldown", "7d",
               "--cooldown-exempt-source", "local").code == 0
    assert cli("subscribe", "--repo", "cool", "--source", "vendor").code == 0
    assert cli("subscribe", "--repo", "cool", "--source", "local").code == 0
    on(clock, 0)
    assert cli("add", "--source", "vendor", dists.wheel("slow", "1.0")).code == 0
    assert cli("add", "--source", "local", dists.wheel("inhouse", "1.0")).code == 0
    return installation


def latest(inst: Installation, project: str) -> str | None:
    page = inst.config.output_path / "cool" / "latest" / "simple" / project / "index.html"
    return page.read_text() if page.exists() else None


def test_files_come_in_with_the_daily_generate(
    cool: Installation, cli: CliRunner, clock: FakeClock
) -> None:
    assert latest(cool, "slow") is None
    assert "inhouse-1.0" in (latest(cool, "inhouse") or "")
    on(clock, 6.9)
    assert cli("generate").code == 0
    assert latest(cool, "slow") is None
    on(clock, 7.1)
    result = cli("generate")
    assert "cool: incremental generation, 1 project(s) rendered" in result.err, result.err
    assert "slow-1.0" in (latest(cool, "slow") or "")


def test_list_shows_allowances_and_what_waits(
    cool: Installation, cli: CliRunner, clock: FakeClock, dists: Dists
) -> None:
    on(clock, 1)
    assert cli("add", "--source", "vendor", dists.wheel("urgent", "2.0")).code == 0
    result = cli("cooldown", "allow", "--repo", "cool", "urgent==2.0", "--reason", "CVE fix",
                 "--by", "alice")
    assert result.code == 0, result.err
    assert result.err_lines[0] == "allowance 1: urgent==2.0 in 'cool' now (by alice: CVE fix)"
    assert "urgent-2.0" in (latest(cool, "urgent") or "")
    listing = cli("cooldown", "list", "--repo", "cool")
    assert listing.out.splitlines() == [
        "ID\tRELEASE\tSTATE\tBY\tAT\tREASON",
        "1\turgent==2.0\tactive\talice\t2026-03-02T10:00:00.000000Z\tCVE fix",
        "PROJECT\tVERSION\tCOMES IN AT",
        "slow\t1.0\t2026-03-08T10:00:00.000000Z",
    ]
    assert listing.err_lines == ["repository 'cool' cooldown: 7d (exempt: local)"]
    on(clock, 2)
    assert cli("cooldown", "revoke", "1", "--by", "bob").code == 0
    assert latest(cool, "urgent") is None
    assert "1\turgent==2.0\trevoked 2026-03-03T10:00:00.000000Z by bob\talice" in cli(
        "cooldown", "list", "--repo", "cool").out


def test_set_repo_changes_and_ends_the_cooldown(
    cool: Installation, cli: CliRunner, clock: FakeClock
) -> None:
    on(clock, 3)
    result = cli("set", "repo", "cool", "--cooldown", "2d")
    assert result.err_lines[0] == "repository 'cool' cooldown: 2d (exempt: local)"
    assert "slow-1.0" in (latest(cool, "slow") or "")
    on(clock, 4)
    assert cli("set", "repo", "cool", "--cooldown", "14d").code == 0
    assert latest(cool, "slow") is None
    assert cli("set", "repo", "cool", "--cooldown", "none").err_lines[0] == (
        "repository 'cool' cooldown: none")
    assert "slow-1.0" in (latest(cool, "slow") or "")
    # The days keep what they listed.
    on(clock, 6)
    assert cli("generate").code == 0
    days = cool.config.output_path / "cool"
    assert "slow-1.0" in read_served_page(days / "2026-03-04/simple/slow/index.html").decode()
    assert not (days / "2026-03-03/simple/slow").exists()
    assert "slow" not in read_served_page(days / "2026-03-03/simple/index.html").decode()


def test_days_of_a_cron_that_skipped_days_are_the_same_as_on_demand(
    cool: Installation, cli: CliRunner, clock: FakeClock, dists: Dists
) -> None:
    on(clock, 2)
    assert cli("add", "--source", "vendor", dists.wheel("slow", "2.0")).code == 0
    on(clock, 12)  # no generate for ten days: the files came of age in days not written yet
    assert cli("generate").code == 0
    repo = cool.catalog.get_repo("cool")
    for offset in range(12):
        day = date(2026, 3, 1) + timedelta(days=offset)
        simple = cool.config.output_path / "cool" / day.isoformat() / "simple"
        root = render_on_demand(cool.catalog, cool.renderer, repo, day, None)
        assert read_served_page(simple / "index.html") == root.html, day
        assert read_served_page(simple / "index.json") == root.json, day
        listed = (day >= date(2026, 3, 8), day >= date(2026, 3, 10))
        assert ("slow" in root.html.decode()) is listed[0], day
        if listed[0]:
            page = render_on_demand(cool.catalog, cool.renderer, repo, day, "slow")
            assert read_served_page(simple / "slow" / "index.json") == page.json, day
            assert (b"slow-2.0" in page.json) is listed[1], day


def test_the_web_ui_marks_waiting_and_allowed_versions(
    cool: Installation, cli: CliRunner, clock: FakeClock, dists: Dists
) -> None:
    on(clock, 8)
    assert cli("add", "--source", "vendor", dists.wheel("slow", "2.0")).code == 0
    assert cli("add", "--source", "vendor", dists.wheel("slow", "3.0")).code == 0
    assert cli("cooldown", "allow", "--repo", "cool", "slow==3.0", "--reason",
               "fixes <CVE-1>", "--by", "alice").code == 0
    site = cool.config.output_path / "cool"
    package = (site / "project" / "slow" / "index.html").read_text()
    assert ('<span class="version">2.0</span> waits in cooldown: listed from '
            "2026-03-16 10:00 UTC") in package
    assert ('<span class="version">3.0</span> allowed before its cooldown ended: '
            "fixes &lt;CVE-1&gt;") in package
    page = (site / "index.html").read_text()
    assert "A file is listed once it is 7d (exempt: local) old" in page
    # The recent activity names what the repository lists, not what still waits.
    activity = page[page.index('id="activity"'):]
    assert "</a> 3.0</td>" in activity, activity
    assert "</a> 1.0</td>" in activity, activity
    assert "</a> 2.0</td>" not in activity, activity
    assert ("slow==3.0</span> allowed early on 2026-03-09 10:00 UTC by alice: "
            "fixes &lt;CVE-1&gt;") in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "repo", "--name", "r2", "--cooldown", "7x"], "error: invalid cooldown '7x'"),
        (["create", "repo", "--name", "r2", "--cooldown", "-1d"],
         "error: invalid cooldown '-1d'"),
        (["create", "repo", "--name", "r2", "--cooldown", "7d", "--cooldown-exempt-source",
          "nope"], "error: unknown source 'nope' (known sources: local, vendor)"),
        (["set", "repo", "cool", "--cooldown", "7x"], "error: invalid cooldown '7x'"),
        (["set", "repo", "cool", "--cooldown", "-1d"], "error: invalid cooldown '-1d'"),
        (["set", "repo", "nope", "--cooldown", "7d"], "error: unknown repository 'nope'"),
        (["set", "repo", "cool", "--cooldown-exempt-source", "nope"],
         "error: unknown source 'nope'"),
        (["cooldown", "allow", "--repo", "cool", "slow==", "--reason", "x"],
         "error: invalid release 'slow=='"),
        (["cooldown", "allow", "--repo", "cool", "slow>=1", "--reason", "x"],
         "error: invalid release 'slow>=1'"),
        (["cooldown", "allow", "--repo", "cool", "slow==x.y", "--reason", "x"],
         "error: invalid release 'slow==x.y': 'x.y' is not a PEP 440 version"),
        (["cooldown", "allow", "--repo", "cool", "ghost", "--reason", "x"],
         "error: repository 'cool' has no project 'ghost'"),
        (["cooldown", "allow", "--repo", "cool", "slow==9", "--reason", "x"],
         "error: project 'slow' of repository 'cool' has no version '9'"),
        (["cooldown", "allow", "--repo", "nope", "slow", "--reason", "x"],
         "error: unknown repository 'nope'"),
        (["cooldown", "allow", "--repo", "python", "inhouse", "--reason", "x"],
         "error: repository 'python' has no cooldown"),
        (["cooldown", "list", "--repo", "nope"], "error: unknown repository 'nope'"),
        (["cooldown", "revoke", "42"], "error: unknown cooldown allowance 42"),
    ],
    ids=["create-bad-unit", "create-negative", "create-unknown-exempt", "set-bad-unit",
         "set-negative", "set-unknown-repo", "set-unknown-exempt", "release-no-version",
         "release-specifier", "release-bad-version", "allow-unknown-project",
         "allow-unknown-version", "allow-unknown-repo", "allow-no-cooldown",
         "list-unknown-repo", "revoke-unknown"],
)
def test_rejections_are_one_line_and_leave_no_trace(
    cool: Installation, cli: CliRunner, args: list[str], message: str
) -> None:
    events = cool.catalog.last_event_id()
    repos = cool.catalog.list_repos()
    result = cli(*args)
    assert result.code == 1, result.err
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(message), result.err
    assert cool.catalog.last_event_id() == events
    assert cool.catalog.list_repos() == repos


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "repo", "cool"], "nothing to change"),
        (["create", "repo", "--name", "r2", "--cooldown-exempt-source", "local"],
         "--cooldown-exempt-source needs a cooldown"),
        (["set", "repo", "cool", "--cooldown", "none", "--cooldown-exempt-source", "local"],
         "--cooldown none lists every file at once"),
        (["cooldown", "allow", "--repo", "cool", "slow"], "Missing option '--reason'"),
        (["cooldown", "revoke", "one"], "Invalid value for 'ALLOWANCE_ID'"),
    ],
    ids=["set-nothing", "exempt-without-cooldown", "exempt-with-none", "no-reason",
         "revoke-not-a-number"],
)
def test_usage_errors(cool: Installation, cli: CliRunner, args: list[str], message: str) -> None:
    events = cool.catalog.last_event_id()
    result = cli(*args)
    assert result.code == 2, result.err
    assert result.err_lines[-1].startswith(f"error: {message}"), result.err
    assert cool.catalog.last_event_id() == events
