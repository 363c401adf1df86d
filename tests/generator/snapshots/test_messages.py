"""Refusals of snapshot days name only snapshots that exist (issue #24, item 2).

A repository made today has no snapshot: the CLI, the on-demand pages and a bundle's
``?snapshot=`` must say so, and when its first will be available, never name
yesterday as "the newest snapshot".
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from generator.errors import NotFound
from generator.installation import Installation
from generator.records import Repo
from generator.snapshots.calendar import check_snapshot_day
from tests.conftest import CliRunner, FakeClock
from uploader.app import create_app

FIRST = ("repository 'python' has no snapshot yet: its first, of 2026-03-01, "
         "is available from 2026-03-02 00:00 UTC; use latest/ for now")


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        ("2026-03-01", f"today is not over yet ({FIRST})"),
        ("2026-03-07", f"that day is not over yet ({FIRST})"),
        ("2026-02-28", f"repository 'python' begins on 2026-03-01 ({FIRST})"),
    ],
    ids=["today", "future", "before"],
)
def test_repository_made_today_names_no_snapshot(
    installation: Installation, cli: CliRunner, day: str, reason: str
) -> None:
    """``timeshelf init`` made the repository at START (2026-03-01 12:00 UTC)."""
    refused = cli("snapshot", "url", "--repo", "python", "--date", day)
    assert refused.code == 1
    assert refused.err.strip() == f"error: no snapshot for {day}: {reason}"
    assert "2026-02-28" not in refused.err.replace(f"for {day}", "")
    client = create_app(installation).test_client()
    page = client.get(f"/python/{day}/simple/")
    assert page.status_code == 404
    assert reason in page.get_data(as_text=True)


def test_newest_snapshot_is_named_once_a_day_has_ended(
    installation: Installation, cli: CliRunner, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 3, 3, 9, tzinfo=UTC))
    refused = cli("snapshot", "url", "--repo", "python", "--date", "2026-03-03")
    assert refused.err.strip() == ("error: no snapshot for 2026-03-03: today is not over yet "
                                   "(the newest snapshot is 2026-03-02; use latest/ for now)")
    before = cli("snapshot", "url", "--repo", "python", "--date", "2026-02-27")
    assert before.err.strip().endswith(
        "begins on 2026-03-01 (the newest snapshot is 2026-03-02; use latest/ for now)")
    for day in ("2026-03-01", "2026-03-02"):
        assert cli("snapshot", "url", "--repo", "python", "--date", day).code == 0


def test_repository_without_history(installation: Installation, cli: CliRunner) -> None:
    assert cli("create", "repo", "--name", "empty").code == 0
    repo: Repo = installation.catalog.get_repo("empty")
    with pytest.raises(NotFound) as refused:
        check_snapshot_day(installation.catalog, repo, "2026-03-01", installation.now())
    assert str(refused.value) == (
        "no snapshot for 2026-03-01: today is not over yet (repository 'empty' has no history "
        "yet, hence no snapshot: it begins when a source is first added to it; use latest/ "
        "for now)")
