"""A snapshot day's unchanged entries, linked in-process or by the helper process."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from generator.errors import StoreError
from generator.installation import Installation
from generator.snapshots.daylinks import LinkJob, share_links
from generator.snapshots.frozen import read_served_page
from generator.snapshots.materialize import Materializer
from tests.conftest import CliRunner, Dists, FakeClock

TARGET = "../../.pages/ab/0123456789abcdef0123456789abcdef"


def _day(tmp_path: Path, names: list[str]) -> Path:
    prior = tmp_path / "prior"
    prior.mkdir()
    for name in names:
        os.symlink(TARGET, prior / name)
    return prior


def test_the_helper_process_links_every_entry(tmp_path: Path) -> None:
    names = [f"project-{i}" for i in range(300)]
    prior, simple = _day(tmp_path, names), tmp_path / "simple"
    simple.mkdir()
    LinkJob.start(prior, simple, names[:200]).wait()
    assert sorted(os.listdir(simple)) == sorted(names[:200])
    for name in names[:200]:
        assert (simple / name).lstat().st_ino == (prior / name).lstat().st_ino


def test_a_failed_helper_says_why(tmp_path: Path) -> None:
    simple = tmp_path / "simple"
    simple.mkdir()
    job = LinkJob.start(tmp_path / "no-such-day", simple, ["alpha"])
    with pytest.raises(StoreError, match=r"could not link .*No such file or directory.*no-such-day"):
        job.wait()


def test_the_helper_stops_when_its_parent_is_gone(tmp_path: Path) -> None:
    # A killed `generate`: its helper must not go on writing into the build directory
    # the next run removes. (The helper is given a parent id that is not its parent.)
    prior, simple = _day(tmp_path, ["alpha", "beta"]), tmp_path / "simple"
    simple.mkdir()
    share_links(prior, simple, ["alpha", "beta"], parent=os.getppid() + 1_000_000)
    assert os.listdir(simple) == []


def test_a_day_linked_by_the_helper_equals_one_linked_in_process(
    installation: Installation, clock: FakeClock, cli: CliRunner, dists: Dists,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[list[str]] = []
    start = LinkJob.start

    def spy(prior: Path, simple: Path, names: Iterable[str]) -> LinkJob:
        started.append(sorted(names))
        return start(prior, simple, started[-1])

    monkeypatch.setattr(LinkJob, "start", spy)
    clock.set(datetime(2026, 3, 1, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", dists.wheel("tempo", "1.0"),
               dists.wheel("other", "1.0"), dists.wheel("third", "1.0")).code == 0
    clock.set(datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", dists.wheel("tempo", "2.0")).code == 0
    clock.set(datetime(2026, 3, 3, 10, tzinfo=UTC))
    repo = installation.catalog.get_repo("python")
    output = installation.config.output_path
    report = Materializer(installation.catalog, installation.renderer, output, repo,
                          parallel_links_from=1).run(clock.now)
    assert report.written[-1:] == ["2026-03-02"]  # (`add` may have written 03-01)
    assert started == [["other", "third"]]
    one, two = (output / "python" / day / "simple" for day in ("2026-03-01", "2026-03-02"))
    assert sorted(p.name for p in two.iterdir()) == [
        "index.html.gz", "index.json.gz", "other", "tempo", "third"]
    for name in ("other", "third"):
        assert (two / name).lstat().st_ino == (one / name).lstat().st_ino
    assert b"tempo-2.0" in read_served_page(two / "tempo" / "index.html")
    assert b"tempo-2.0" not in read_served_page(one / "tempo" / "index.html")
