"""Dated snapshots: replay, materialization, frozen bytes, retention, on-demand rendering."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from generator.errors import NotFound
from generator.installation import Installation
from generator.render.simple import Renderer
from generator.snapshots.calendar import Retention, check_snapshot_day, parse_day
from generator.snapshots.frozen import compress_page, read_served_page, stored_page
from generator.snapshots.materialize import Materializer, _read_listing
from generator.snapshots.ondemand import render_on_demand
from tests.conftest import CliRunner, Dists, FakeClock


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file reachable below ``root`` (following the day's links)."""
    digests = {}
    for path in sorted(root.rglob("*")):
        real = path.resolve()
        if real.is_file():
            digests[str(path.relative_to(root))] = hashlib.sha256(real.read_bytes()).hexdigest()
    for link in sorted(p for p in root.iterdir() if p.is_symlink()):
        for name in ("index.html", "index.json"):
            data = read_served_page(link / name)
            digests[f"{link.name}/{name}"] = hashlib.sha256(data).hexdigest()
    return digests


def day_dir(inst: Installation, day: str) -> Path:
    return inst.config.output_path / "python" / day / "simple"


def listed(inst: Installation, day: str, project: str) -> str:
    return read_served_page(day_dir(inst, day) / project / "index.html").decode()


@pytest.fixture
def history(installation: Installation, clock: FakeClock, cli: CliRunner, dists: Dists) -> Installation:
    """v1 on day 1, v2 on day 2, yank v1 on day 3, remove v2 on day 4 (2026-03-01..04)."""
    v1, v2 = dists.wheel("tempo", "1.0"), dists.wheel("tempo", "2.0")
    other = dists.wheel("other", "1.0")
    clock.set(datetime(2026, 3, 1, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", v1, other).code == 0
    clock.set(datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", v2).code == 0
    clock.set(datetime(2026, 3, 3, 10, tzinfo=UTC))
    assert cli("yank", "tempo", "1.0", "--reason", "bad build").code == 0
    clock.set(datetime(2026, 3, 4, 10, tzinfo=UTC))
    assert cli("remove", "tempo", "2.0").code == 0
    clock.set(datetime(2026, 3, 5, 10, tzinfo=UTC))
    assert cli("generate").code == 0
    return installation


@pytest.mark.parametrize(
    ("day", "present", "absent", "yanked"),
    [
        ("2026-03-01", ["tempo-1.0"], ["tempo-2.0"], False),
        ("2026-03-02", ["tempo-1.0", "tempo-2.0"], [], False),
        ("2026-03-03", ["tempo-1.0", "tempo-2.0"], [], True),
        ("2026-03-04", ["tempo-1.0"], ["tempo-2.0"], True),
    ],
    ids=["day1-v1", "day2-v1-v2", "day3-yank", "day4-removed"],
)
def test_each_day_shows_what_existed_then(
    history: Installation, day: str, present: list[str], absent: list[str], yanked: bool
) -> None:
    page = listed(history, day, "tempo")
    for name in present:
        assert f">{name}-py3-none-any.whl<" in page
    for name in absent:
        assert name not in page
    assert ('data-yanked="bad build"' in page) is yanked


def test_snapshots_json_lists_the_ended_days(history: Installation) -> None:
    document = json.loads((history.config.output_path / "python" / "snapshots.json").read_text())
    dates = [s["date"] for s in document["snapshots"]]
    assert dates == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert all(s["url"] == f"{s['date']}/simple/" for s in document["snapshots"])


def test_frozen_days_never_change(
    history: Installation, clock: FakeClock, cli: CliRunner, dists: Dists
) -> None:
    before = {d: tree_digest(day_dir(history, d)) for d in ("2026-03-01", "2026-03-02")}
    clock.set(datetime(2026, 3, 6, 9, tzinfo=UTC))
    assert cli("add", "--source", "local", dists.wheel("tempo", "3.0")).code == 0
    assert cli("unyank", "tempo", "1.0").code == 0
    assert cli("create", "source", "--name", "extra", "--type", "local-python").code == 0
    assert cli("subscribe", "--repo", "python", "--source", "extra").code == 0
    assert cli("generate", "--full").code == 0
    after = {d: tree_digest(day_dir(history, d)) for d in before}
    assert after == before


def test_a_template_change_does_not_rewrite_history(history: Installation, tmp_path: Path) -> None:
    before = tree_digest(day_dir(history, "2026-03-01"))
    templates = tmp_path / "templates" / "simple"
    templates.mkdir(parents=True)
    for name in ("project.html", "root.html"):
        text = (Path(__file__).parents[3] / "templates" / "simple" / name).read_text()
        (templates / name).write_text(text.replace("<body>", "<body><!-- new look -->"))
    history.__dict__["renderer"] = Renderer(tmp_path / "templates")
    history.generate(full=True)
    assert tree_digest(day_dir(history, "2026-03-01")) == before
    assert "new look" in (history.config.output_path / "python/latest/simple/index.html").read_text()


def test_unchanged_days_share_pages(history: Installation) -> None:
    three, four = day_dir(history, "2026-03-03"), day_dir(history, "2026-03-04")
    assert os.readlink(three / "other") == os.readlink(four / "other")
    assert os.readlink(three / "tempo") != os.readlink(four / "tempo")
    assert (three / "index.html.gz").stat().st_ino == (four / "index.html.gz").stat().st_ino
    # An unchanged project's entry is the previous day's link itself (no inode per day).
    assert (three / "other").lstat().st_ino == (four / "other").lstat().st_ino
    assert (three / "tempo").lstat().st_ino != (four / "tempo").lstat().st_ino


def test_days_are_whole_where_hard_links_fail(
    installation: Installation, clock: FakeClock, cli: CliRunner, dists: Dists,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A project's link inode at its hard-link limit (ext4: 65,000): the new day gets a
    # symbolic link of its own, to the same pages.
    link = os.link

    def refuse(*args: Any, follow_symlinks: bool = True, **kwargs: Any) -> None:
        if not follow_symlinks:
            raise OSError(errno.EMLINK, "Too many links")
        link(*args, follow_symlinks=follow_symlinks, **kwargs)

    clock.set(datetime(2026, 3, 1, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", dists.wheel("tempo", "1.0"),
               dists.wheel("other", "1.0")).code == 0
    clock.set(datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", dists.wheel("tempo", "2.0")).code == 0
    clock.set(datetime(2026, 3, 3, 10, tzinfo=UTC))
    with monkeypatch.context() as patched:
        patched.setattr(os, "link", refuse)
        assert cli("generate").code == 0
    one, two = day_dir(installation, "2026-03-01"), day_dir(installation, "2026-03-02")
    assert os.readlink(one / "other") == os.readlink(two / "other")
    assert (one / "other").lstat().st_ino != (two / "other").lstat().st_ino
    assert "tempo-2.0" in listed(installation, "2026-03-02", "tempo")
    assert read_served_page(two / "other" / "index.json") == read_served_page(
        one / "other" / "index.json")


def test_frozen_pages_are_stored_compressed(history: Installation) -> None:
    # One 4 KiB block per page instead of two or three: what keeps a day's bytes under
    # 1% of a full copy (bench/snapshot_bench.py).
    repo = history.catalog.get_repo("python")
    pages = history.config.output_path / "python" / ".pages"
    stored = sorted(p.name for p in pages.rglob("*") if p.is_file())
    assert stored
    assert all(name.endswith((".html.gz", ".json.gz")) for name in stored)
    day = day_dir(history, "2026-03-02")
    assert sorted(p.name for p in day.iterdir() if not p.is_symlink()) == [
        "index.html.gz", "index.json.gz"]
    page = render_on_demand(history.catalog, history.renderer, repo,
                            parse_day("2026-03-02"), "tempo")
    assert (day / "tempo" / "index.json.gz").read_bytes() == compress_page(page.json)
    assert gzip.decompress((day / "tempo" / "index.html.gz").read_bytes()) == page.html
    assert not (day / "tempo" / "index.html").exists()


def test_a_day_continues_one_stored_uncompressed(
    installation: Installation, clock: FakeClock, cli: CliRunner, dists: Dists,
) -> None:
    # Days written before pages were compressed hold index.html itself: the next day
    # reads their listing, shares their root and links their unchanged pages.
    clock.set(datetime(2026, 3, 1, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", dists.wheel("tempo", "1.0"),
               dists.wheel("other", "1.0")).code == 0
    clock.set(datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert cli("generate").code == 0
    output = installation.config.output_path / "python"
    for page in [*(output / ".pages").rglob("*.gz")]:
        page.with_name(page.name[:-3]).write_bytes(gzip.decompress(page.read_bytes()))
        page.unlink()
    one = day_dir(installation, "2026-03-01")
    for suffix in ("html", "json"):
        root = next((output / ".pages" / "root").glob(f"*.{suffix}"))
        (one / f"index.{suffix}.gz").unlink()
        os.link(root, one / f"index.{suffix}")
    before = tree_digest(one)
    assert cli("add", "--source", "local", dists.wheel("tempo", "2.0")).code == 0
    clock.set(datetime(2026, 3, 3, 10, tzinfo=UTC))
    assert cli("generate").code == 0
    two = day_dir(installation, "2026-03-02")
    assert (two / "index.json").stat().st_ino == (one / "index.json").stat().st_ino
    assert os.readlink(two / "other") == os.readlink(one / "other")
    assert (two / "tempo" / "index.json.gz").is_file()
    repo = installation.catalog.get_repo("python")
    for project in ("tempo", "other", None):
        rendered = render_on_demand(installation.catalog, installation.renderer, repo,
                                    parse_day("2026-03-02"), project)
        base = two / project if project else two
        assert (read_served_page(base / "index.html"), read_served_page(base / "index.json")) \
            == (rendered.html, rendered.json)
    assert tree_digest(one) == before


def test_day_links_fit_in_their_inodes(history: Installation) -> None:
    # ext4 keeps a link target under 60 bytes in the inode: no 4 KiB block per project
    # per day (bench/snapshot_bench.py measures what a day adds).
    links = [p for p in day_dir(history, "2026-03-04").iterdir() if p.is_symlink()]
    assert links
    assert max(len(os.readlink(p)) for p in links) < 60


@pytest.mark.parametrize("day", ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"])
def test_on_demand_render_equals_materialized_bytes(history: Installation, day: str) -> None:
    repo = history.catalog.get_repo("python")
    checked = parse_day(day)
    for project in ("tempo", "other", None):
        page = render_on_demand(history.catalog, history.renderer, repo, checked, project)
        base = day_dir(history, day) / project if project else day_dir(history, day)
        assert page.html == read_served_page(base / "index.html")
        assert page.json == read_served_page(base / "index.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-03-05", "today is not over yet"),
        ("2026-04-01", "that day is not over yet"),
        ("2026-02-28", "repository 'python' begins on 2026-03-01"),
        ("2026-3-1", "invalid date '2026-3-1': use YYYY-MM-DD"),
        ("2026-02-30", "invalid date '2026-02-30'"),
        ("latest", "invalid date 'latest'"),
    ],
    ids=["today", "future", "before-history", "short-form", "impossible", "word"],
)
def test_dates_without_a_snapshot_are_refused(history: Installation, text: str, message: str) -> None:
    repo = history.catalog.get_repo("python")
    with pytest.raises(NotFound, match=message):
        check_snapshot_day(history.catalog, repo, text, history.now())


def test_snapshot_url_command(history: Installation, cli: CliRunner) -> None:
    result = cli("snapshot", "url", "--repo", "python", "--date", "2026-03-02")
    assert result.code == 0
    assert result.out.strip().endswith("/python/2026-03-02/simple/")
    refused = cli("snapshot", "url", "--repo", "python", "--date", "2026-03-09")
    assert refused.code == 1
    assert refused.err.strip().startswith("error: no snapshot for 2026-03-09")


def test_retention_prunes_old_days_and_unused_pages(history: Installation, clock: FakeClock) -> None:
    repo = history.catalog.get_repo("python")
    clock.set(datetime(2026, 3, 5, 12, tzinfo=UTC))
    report = Materializer(
        history.catalog, history.renderer, history.config.output_path, repo,
        Retention(daily_days=1, monthly=True),
    ).run(history.now())
    assert report.pruned == ["2026-03-02", "2026-03-03"]
    assert day_dir(history, "2026-03-01").is_dir()  # the first of the month stays
    assert day_dir(history, "2026-03-04").is_dir()
    for link in day_dir(history, "2026-03-04").iterdir():
        assert stored_page(link / "index.html") if link.is_symlink() else link.exists()
    assert set(history.catalog.snapshot_days(repo)) == {"2026-03-01", "2026-03-04"}


@pytest.mark.parametrize(
    ("retention", "kept"),
    [
        (Retention(daily_days=1, monthly=True), ["2026-03-01", "2026-03-04"]),
        (Retention(daily_days=2, monthly=False), ["2026-03-03", "2026-03-04"]),
        (Retention(daily_days=0, monthly=False), []),
    ],
    ids=["gap-before-kept-day", "oldest-days", "every-day"],
)
def test_pruning_keeps_exactly_the_pages_kept_days_link(
    history: Installation, clock: FakeClock, retention: Retention, kept: list[str]
) -> None:
    base = history.config.output_path / "python"
    clock.set(datetime(2026, 3, 5, 12, tzinfo=UTC))
    Materializer(history.catalog, history.renderer, history.config.output_path,
                 history.catalog.get_repo("python"), retention).run(history.now())
    assert sorted(p.name for p in base.iterdir() if p.name[0].isdigit()) == kept
    linked = {os.readlink(link) for day in kept for link in day_dir(history, day).iterdir()
              if link.is_symlink()}
    stored = {f"../../.pages/{p.parent.name}/{p.name}" for p in (base / ".pages").glob("*/*")
              if p.parent.name != "root"}
    assert stored == linked
    roots = {p.stat().st_ino for p in (base / ".pages" / "root").iterdir()}
    assert roots == {day_dir(history, day).joinpath(f"index.{suffix}.gz").stat().st_ino
                     for day in kept for suffix in ("html", "json")}


def test_interrupted_day_build_is_redone(history: Installation, clock: FakeClock, cli: CliRunner) -> None:
    base = history.config.output_path / "python"
    leftover = base / ".build-2026-03-05" / "simple"
    leftover.mkdir(parents=True)
    (leftover / "half").write_text("partial")
    clock.set(datetime(2026, 3, 6, 1, tzinfo=UTC))
    assert cli("generate").code == 0
    assert not (base / ".build-2026-03-05").exists()
    assert ">tempo-1.0-py3-none-any.whl<" in listed(history, "2026-03-05", "tempo")


def test_no_snapshot_before_a_day_ends(installation: Installation, cli: CliRunner, dists: Dists) -> None:
    assert cli("add", "--source", "local", dists.wheel("fresh", "1.0")).code == 0
    assert not any(
        p.name[0].isdigit() for p in (installation.config.output_path / "python").iterdir()
    )
    assert date.fromisoformat("2026-03-01") == installation.now().date()


def test_a_day_listing_reads_back_every_display_name(tmp_path: Path) -> None:
    # The previous day's root is read in one normalizing call; a name that would break
    # that (a newline in it) falls back to one call per name.
    for shown in (["Foo.Bar", "zope.interface", "A-_.-b", "X"], ["Foo.Bar", "bad\nname"]):
        root = tmp_path / "index.json"
        root.write_text(json.dumps({"projects": [{"name": name} for name in shown]}))
        assert _read_listing(root) == {canonicalize_name(name): name for name in shown}
