"""Dated days keep the Simple format of their end (issue #20): a catalog made before
format 2 (PEP 792 status, API 1.4) is upgraded; the days that ended before its first
generation in format 2 stay in format 1 (API 1.1, no status), on disk and on demand alike,
and the days after are in format 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

import generator.catalog.database as database
import generator.output.index as index
from generator.catalog.catalog import Catalog
from generator.catalog.formats import EPOCH, RenderFormat
from generator.catalog.schema import MIGRATIONS
from generator.installation import Installation
from generator.records import ACTIVE, ProjectStatus
from generator.render.simple import Renderer
from generator.snapshots.calendar import day_end
from generator.snapshots.frozen import read_served_page
from generator.snapshots.ondemand import SnapshotPage, format_at, render_on_demand
from tests.conftest import CliRunner, Dists, FakeClock

BEFORE_FORMATS = next(
    i for i, m in enumerate(MIGRATIONS) if any("CREATE TABLE render_formats" in s for s in m)
)
QUARANTINED = ProjectStatus(status="quarantined", reason="under review")
STATUS_META = b'<meta name="pypi:project-status"'
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04")


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def upgraded(request: pytest.FixtureRequest, clock: FakeClock, dists: Dists,
             ) -> Iterator[Installation]:
    """Made by the timeshelf before format 2 (its schema stops before ``render_formats``
    and it renders format 1): tempo 1.0 and other 1.0 on 03-01, tempo 2.0 on 03-02,
    generated on 03-03 (days 03-01 and 03-02 materialized). Then upgraded: the new code
    quarantines other on 03-03 at 12:00, and generates on 03-04 (the upgrade: format 2
    from then on) and 03-05; nothing else changes after 03-02."""
    with pytest.MonkeyPatch.context() as old:
        old.setattr(database, "SCHEMA_VERSION", BEFORE_FORMATS)
        old.setattr(Catalog, "record_render_format", lambda *_args: False)
        old.setattr(Catalog, "render_format_at", lambda *_args: "1")
        old.setattr(index, "RENDER_VERSION", "1")
        before: Installation = request.getfixturevalue("installation")
        cli: CliRunner = request.getfixturevalue("cli")
        before.__dict__["renderer"] = Renderer(render_version="1")
        clock.set(at(1, 10))
        assert cli("add", "--source", "local", dists.wheel("tempo", "1.0"),
                   dists.wheel("other", "1.0")).code == 0
        clock.set(at(2, 10))
        assert cli("add", "--source", "local", dists.wheel("tempo", "2.0")).code == 0
        clock.set(at(3, 10))
        before.generate()
        assert before.catalog.schema_version() == BEFORE_FORMATS
        before.close()
        del before.__dict__["catalog"]
    inst = Installation(before.config, clock=clock)
    clock.set(at(3, 12))
    inst.catalog.set_project_status(inst.catalog.get_source("local"), "other", QUARANTINED,
                                    clock())
    clock.set(at(4, 10))
    inst.generate()
    clock.set(at(5, 10))
    inst.generate()
    yield inst
    inst.close()


def stored(inst: Installation, day: str, project: str | None) -> SnapshotPage:
    """A materialized day's page, as served."""
    simple = inst.config.output_path / "python" / day / "simple"
    page = simple / project if project else simple
    return SnapshotPage(html=read_served_page(page / "index.html"),
                        json=read_served_page(page / "index.json"))


def on_demand(inst: Installation, day: str, project: str | None) -> SnapshotPage:
    repo = inst.catalog.get_repo("python")
    return render_on_demand(inst.catalog, inst.renderer, repo, date.fromisoformat(day), project)


def test_the_upgrade_is_recorded_by_the_first_generation(upgraded: Installation) -> None:
    assert upgraded.catalog.render_formats() == (
        RenderFormat(version="1", since=EPOCH),
        RenderFormat(version="2", since="2026-03-04T10:00:00.000000Z"),
    )
    formats = {d: format_at(upgraded.catalog, day_end(date.fromisoformat(d))) for d in DAYS}
    assert formats == {"2026-03-01": "1", "2026-03-02": "1", "2026-03-03": "1",
                       "2026-03-04": "2"}
    written = upgraded.catalog.snapshot_days(upgraded.catalog.get_repo("python"))
    assert {d: s.render_version for d, s in written.items()} == formats


@pytest.mark.parametrize("project", [None, "tempo", "other"])
@pytest.mark.parametrize("day", DAYS)
def test_materialized_and_on_demand_days_are_the_same_bytes(
    upgraded: Installation, day: str, project: str | None
) -> None:
    # 03-01 and 03-02 were written by the code before the upgrade, 03-03 (format 1) and
    # 03-04 (format 2) by the new code: each is what a render on demand gives now.
    assert stored(upgraded, day, project) == on_demand(upgraded, day, project)


def test_a_day_that_ended_before_the_upgrade_keeps_the_old_format(
    upgraded: Installation,
) -> None:
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        for project in (None, "tempo", "other"):
            page = on_demand(upgraded, day, project)
            assert b'<meta name="pypi:repository-version" content="1.1">' in page.html
            assert b'"api-version":"1.1"' in page.json
            assert STATUS_META not in page.html
            assert b"project-status" not in page.json


def test_format_1_shows_a_status_set_before_the_upgrade_as_nothing(
    upgraded: Installation,
) -> None:
    # other was quarantined on 03-03 (at 12:00), before the first generation in format 2:
    # 03-03 is in format 1, which knew no status, so it lists other's file as it always
    # did (its JSON's _last-serial counts the status event: the day ended after it). The
    # days before the status replay it active anyway.
    repo = upgraded.catalog.get_repo("python")
    (then,) = upgraded.catalog.iter_projects_at(repo, day_end(date(2026, 3, 2)), ["other"])
    assert then.status == ACTIVE
    (held,) = upgraded.catalog.iter_projects_at(repo, day_end(date(2026, 3, 3)), ["other"])
    assert held.status == QUARANTINED
    page, before = (on_demand(upgraded, d, "other") for d in ("2026-03-03", "2026-03-02"))
    assert page.html == before.html
    assert b"other-1.0-py3-none-any.whl" in page.html
    assert json.loads(page.json)["files"] == json.loads(before.json)["files"]
    assert json.loads(page.json)["meta"]["_last-serial"] > json.loads(before.json)["meta"][
        "_last-serial"]


def test_a_day_after_the_upgrade_has_the_status_markers(upgraded: Installation) -> None:
    other = on_demand(upgraded, "2026-03-04", "other")
    assert b'<meta name="pypi:project-status" content="quarantined">' in other.html
    assert b'<meta name="pypi:project-status-reason" content="under review">' in other.html
    assert b"other-1.0" not in other.html
    assert b'"files":[]' in other.json
    tempo = on_demand(upgraded, "2026-03-04", "tempo")
    assert b'<meta name="pypi:project-status" content="active">' in tempo.html
    assert b'"project-status":{"status":"active"}' in tempo.json
    assert b'"api-version":"1.4"' in on_demand(upgraded, "2026-03-04", None).json
    # Nothing changed from 03-03 to 03-04, yet 03-04 shares no page with the day before:
    # its format is another.
    base = upgraded.config.output_path / "python"
    for name in ("tempo", "other"):
        three, four = (base / d / "simple" / name for d in ("2026-03-03", "2026-03-04"))
        assert three.readlink() != four.readlink()


def test_the_latest_pages_are_in_the_current_format(upgraded: Installation) -> None:
    latest = upgraded.config.output_path / "python" / "latest" / "simple"
    assert b'content="1.4"' in (latest / "index.html").read_bytes()
    assert b'"project-status":{"reason":"under review","status":"quarantined"}' in (
        latest / "other" / "index.json").read_bytes()


def test_a_new_installation_renders_every_day_in_the_current_format(
    installation: Installation, clock: FakeClock, cli: CliRunner, dists: Dists,
) -> None:
    clock.set(at(1, 10))
    assert cli("add", "--source", "local", dists.wheel("tempo", "1.0")).code == 0
    clock.set(at(3, 10))
    assert cli("generate").code == 0
    assert installation.catalog.render_formats() == (RenderFormat(version="2", since=EPOCH),)
    page = stored(installation, "2026-03-01", "tempo")
    assert b'<meta name="pypi:project-status" content="active">' in page.html
    assert page == on_demand(installation, "2026-03-01", "tempo")
