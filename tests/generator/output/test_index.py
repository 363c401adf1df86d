"""Incremental generation (``generator.output.index``): what is written, what is not, and a
site that stays consistent when ``timeshelf generate`` is killed at any instant."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urldefrag

import pytest
from packaging.utils import NormalizedName, canonicalize_name

from generator.cli.main import main
from generator.config.settings import ENV_CONFIG, load_config
from generator.installation import Installation
from generator.intake.distributions import inspect_distribution
from generator.intake.ingest import ingest_file
from generator.output.index import Report, simple_dir
from generator.records import FileEntry, FileRecord
from generator.storage.atomic import new_directory_temp
from generator.storage.local import LocalStore
from generator.storage.store import file_key
from tests.conftest import START, CliRunner, Dists, FakeClock
from tests.factory import SIGNATURE, build_sdist


def add(inst: Installation, *paths: Path, source: str = "local") -> None:
    src = inst.catalog.get_source(source)
    for path in paths:
        signature = path.with_name(path.name + ".asc")
        ingest_file(inst.catalog, inst.store, src, path, inst.now(),
                    signature=signature.read_bytes() if signature.exists() else None)


def generate(inst: Installation, *, full: bool = False) -> Report[object]:
    [report] = inst.generate([inst.catalog.get_repo("python")], full=full).reports
    return report


def latest(inst: Installation) -> Path:
    return simple_dir(inst.config.output_path, "python")


def tree(inst: Installation) -> dict[str, bytes]:
    """The served files below ``latest/`` and ``files/`` (not hidden temporaries)."""
    output = inst.config.output_path
    found: dict[str, bytes] = {}
    for top in (output / "python" / "latest", output / "files"):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if not name.startswith("."):
                    path = Path(dirpath, name)
                    found[str(path.relative_to(output))] = path.read_bytes()
    return found


def stats(inst: Installation) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every page below ``latest/``: a rewrite changes one of them."""
    return {
        str(p.relative_to(latest(inst))): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in latest(inst).rglob("index.*")
    }


def root_names(inst: Installation) -> list[str]:
    data = json.loads((latest(inst) / "index.json").read_text())
    return [canonicalize_name(p["name"]) for p in data["projects"]]


@pytest.fixture
def three(installation: Installation, dists: Dists) -> Installation:
    """An installation showing projects alpha, beta and gamma, generated."""
    add(installation, dists.sdist("alpha", "1.0"), dists.wheel("beta", "1.0"),
        dists.sdist("gamma", "1.0"))
    generate(installation)
    return installation


def test_incremental_renders_only_changed_projects(
    three: Installation, dists: Dists, clock: FakeClock
) -> None:
    before = stats(three)
    clock.advance(minutes=5)
    add(three, dists.sdist("beta", "2.0"))

    report = generate(three)

    assert report.mode == "incremental"
    assert report.projects == 1
    assert sorted(report.pages) == ["python/latest/simple/beta/index.html",
                                    "python/latest/simple/beta/index.json"]
    assert report.root_written is False
    after = stats(three)
    assert {k for k in after if after[k] != before.get(k)} == {"beta/index.html",
                                                                "beta/index.json"}


def test_a_second_run_writes_nothing(three: Installation) -> None:
    before = stats(three)
    report = generate(three)
    assert report.mode == "unchanged"
    assert report.written == 0
    assert stats(three) == before


def test_a_new_project_updates_the_root(three: Installation, dists: Dists) -> None:
    add(three, dists.sdist("Delta", "1.0"))
    report = generate(three)
    assert report.root_written is True
    assert root_names(three) == ["alpha", "beta", "delta", "gamma"]
    assert b'<a href="delta/">Delta</a>' in (latest(three) / "index.html").read_bytes()


def test_deleted_project_pages_are_removed_and_the_root_updated(three: Installation) -> None:
    three.catalog.remove(three.catalog.get_source("local"), "beta", three.now())
    report = generate(three)
    assert report.deleted == 1
    assert report.root_written is True
    assert not (latest(three) / "beta").exists()
    assert root_names(three) == ["alpha", "gamma"]
    assert generate(three).written == 0


def test_full_removes_orphan_directories(three: Installation) -> None:
    ghost = latest(three) / "ghost"
    ghost.mkdir()
    (ghost / "index.html").write_text("left by a crash")
    generate(three)
    assert ghost.exists()
    report = generate(three, full=True)
    assert report.mode == "full"
    assert not ghost.exists()
    assert report.written == 0


def test_a_half_written_new_project_is_cleaned_by_the_next_incremental_run(
    three: Installation, dists: Dists
) -> None:
    # A run killed while writing a new project's pages leaves its hidden temporary
    # directory (found by bench/faults.py: `sync` killed mid-run, the next sync kept it).
    add(three, dists.sdist("delta", "1.0"), dists.sdist("epsilon", "1.0"))
    half = new_directory_temp(latest(three) / "delta")
    half.mkdir()
    (half / "index.json").write_bytes(b'{"files": [')
    three.catalog.remove(three.catalog.get_source("local"), "epsilon", three.now())
    gone = new_directory_temp(latest(three) / "epsilon")
    gone.mkdir()

    report = generate(three)

    assert report.mode == "incremental"
    assert not half.exists()
    assert not gone.exists()
    assert json.loads((latest(three) / "delta" / "index.json").read_bytes())["name"] == "delta"
    assert [p.name for p in latest(three).iterdir() if p.name.startswith(".")] == []


def test_a_subscription_change_renders_everything(
    three: Installation, dists: Dists, clock: FakeClock
) -> None:
    catalog = three.catalog
    catalog.create_source("second", "local-python", clock())
    add(three, dists.sdist("beta", "9.0"), dists.sdist("zeta", "1.0"), source="second")
    assert generate(three).mode == "unchanged"
    catalog.subscribe("python", "second", clock())
    report = generate(three)
    assert report.mode == "full"
    assert root_names(three) == ["alpha", "beta", "gamma", "zeta"]
    beta = json.loads((latest(three) / "beta" / "index.json").read_text())
    assert beta["versions"] == ["1.0"]

    catalog.reorder("python", ["second", "local"], clock())
    generate(three)
    beta = json.loads((latest(three) / "beta" / "index.json").read_text())
    assert beta["versions"] == ["9.0"]

    catalog.reorder("python", ["local", "second"], clock())
    generate(three)
    catalog.remove(catalog.get_source("local"), "beta", clock())
    report = generate(three)
    assert report.mode == "incremental"
    assert report.deleted == 0
    beta = json.loads((latest(three) / "beta" / "index.json").read_text())
    assert beta["versions"] == ["9.0"]


def test_full_equals_incremental_byte_for_byte(
    installation: Installation, dists: Dists, clock: FakeClock
) -> None:
    inst, catalog = installation, installation.catalog
    local = catalog.get_source("local")
    history: list[Callable[[], object]] = [
        lambda: add(inst, dists.sdist("a", "1.0"), dists.wheel("b", "1.0+cpu")),
        lambda: add(inst, dists.wheel("a", "2.0", requires_python=">=3.9")),
        lambda: catalog.set_yanked(local, "a", "1.0", True, "", clock()),
        lambda: add(inst, dists.sdist("c", "1.0"), dists.sdist("d", "1.0")),
        lambda: catalog.remove(local, "c", clock()),
        lambda: catalog.set_yanked(local, "a", "2.0", True, "<bad> & \"worse\"", clock()),
        lambda: catalog.remove(local, "b", clock(), version="1.0+cpu"),
        lambda: add(inst, dists.sdist("b", "2.0")),
    ]
    for step in history:
        clock.advance(minutes=1)
        step()
        generate(inst)
    incremental = tree(inst)

    assert generate(inst, full=True).written == 0
    assert tree(inst) == incremental
    shutil.rmtree(inst.config.output_path / "python" / "latest")
    generate(inst, full=True)
    assert tree(inst) == incremental


def test_a_missing_root_is_rebuilt(three: Installation) -> None:
    before = tree(three)
    shutil.rmtree(three.config.output_path / "python" / "latest")
    report = generate(three)
    assert report.mode == "full"
    assert tree(three) == before


def test_a_store_outside_the_output_is_linked_in(
    installation: Installation, dists: Dists, clock: FakeClock
) -> None:
    config_file = installation.config.file
    text = config_file.read_text().replace('path = "site/files"', 'path = "store"')
    config_file.write_text(text)
    inst = Installation(load_config(config_file), clock=clock)
    try:
        assert inst.config.store_path == config_file.parent / "store"
        wheel = dists.wheel("foo", "1.0")
        wheel.with_name(wheel.name + ".asc").write_bytes(SIGNATURE)
        add(inst, wheel)
        generate(inst)
        key = file_key(hashlib.sha256(wheel.read_bytes()).hexdigest(), wheel.name)
        served = inst.config.output_path / "files"
        for suffix in ("", ".metadata", ".asc"):
            assert (served / (key + suffix)).read_bytes() == inst.store.read(key + suffix)
        assert_consistent(inst)
    finally:
        inst.close()


def test_yank_through_the_cli_regenerates(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("add", "--source", "local", dists.sdist("foo", "1.0")).code == 0
    result = cli("yank", "foo", "1.0", "--reason", "use 1.1")
    assert result.code == 0
    assert result.err_lines[0] == "yanked 1 file(s) of foo 1.0"
    assert b'data-yanked="use 1.1"' in (latest(installation) / "foo" / "index.html").read_bytes()
    assert cli("unyank", "foo", "1.0").code == 0
    assert b"data-yanked" not in (latest(installation) / "foo" / "index.html").read_bytes()


# -- consistency of the served tree, and the crash test ---------------------------------


# Our own templates write every link as <a href="...">; html.parser is too slow for the
# thousands of pages the crash test reads.
_HREF = re.compile(r'<a href="([^"]*)"')


def hrefs(page: Path) -> list[str]:
    return [html.unescape(h) for h in _HREF.findall(page.read_text())]


def assert_consistent(inst: Installation, digests: dict[str, str] | None = None) -> None:
    """What a client sees is whole: the root's projects have pages whose files exist.

    ``digests`` caches the sha256 of files already checked (blobs never change).
    """
    base = latest(inst)
    digests = {} if digests is None else digests

    def check_file(page_dir: Path, url: str, sha256: str) -> None:
        assert ".tmp" not in url
        target = os.path.normpath(page_dir / unquote(url))
        if target not in digests:
            digests[target] = hashlib.sha256(Path(target).read_bytes()).hexdigest()
        assert digests[target] == sha256, url

    linked = hrefs(base / "index.html")
    assert all(h.endswith("/") and ".tmp" not in h for h in linked)
    names = [h[:-1] for h in linked]
    assert sorted(root_names(inst)) == sorted(names)
    for name in names:
        page_dir = base / name
        for href in hrefs(page_dir / "index.html"):
            url, fragment = urldefrag(href)
            assert fragment.startswith("sha256=")
            check_file(page_dir, url, fragment.removeprefix("sha256="))
        data = json.loads((page_dir / "index.json").read_text())
        assert data["name"] == name
        for entry in data["files"]:
            check_file(page_dir, entry["url"], entry["hashes"]["sha256"])


def bulk_add(inst: Installation, paths: list[Path], source: str = "local") -> None:
    """Store and record many files in one transaction (ingest fsyncs each: too slow here)."""
    entries = []
    for path in paths:
        dist = inspect_distribution(path)
        key = file_key(dist.digests.sha256, dist.filename)
        assert isinstance(inst.store, LocalStore)
        target = inst.store.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        entries.append(FileEntry(project=dist.project, display_name=dist.display_name, summary="", record=FileRecord(
            filename=dist.filename, version=dist.version, packagetype=dist.packagetype,
            sha256=dist.digests.sha256, blake2_256=dist.digests.blake2_256,
            size=dist.digests.size, requires_python=dist.requires_python,
            upload_time="2026-03-01T12:00:00.000000Z", metadata_sha256=None,
            has_signature=False, yanked=False, yanked_reason="",
        )))
    inst.catalog.add_files(inst.catalog.get_source(source), entries, inst.now())


PROJECTS = 200
CROWDED_AT = START + timedelta(hours=1)


@pytest.fixture(scope="module")
def crowded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installation with many projects, generated, then changed a lot and not generated.

    Built once per module; each test works on its own copy.
    """
    directory = tmp_path_factory.mktemp("crowded") / "inst"
    dists = directory.parent / "dists"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv(ENV_CONFIG, raising=False)
        clock = FakeClock(monkeypatch)
        assert main(["init", str(directory)]) == 0
        inst = Installation(load_config(directory / "timeshelf.toml"), clock=clock)
        try:
            names = [f"project-{i:03d}" for i in range(PROJECTS)]
            bulk_add(inst, [build_sdist(dists, n, "1.0") for n in names])
            generate(inst)
            clock.set(CROWDED_AT)
            local = inst.catalog.get_source("local")
            for i, name in enumerate(names):
                if i % 2 == 0:
                    inst.catalog.set_yanked(local, name, "1.0", True, f"reason {i}", clock())
                if i % 7 == 0:
                    inst.catalog.remove(local, name, clock())
            bulk_add(inst, [build_sdist(dists, n, "2.0") for n in names[1::3]]
                     + [build_sdist(dists, f"new-{i:02d}", "1.0") for i in range(40)])
        finally:
            inst.close()
    return directory


@pytest.fixture
def crowded(crowded_template: Path, tmp_path: Path, clock: FakeClock) -> Iterator[Installation]:
    directory = tmp_path / "crowded"
    shutil.copytree(crowded_template, directory)
    clock.set(CROWDED_AT)
    inst = Installation(load_config(directory / "timeshelf.toml"), clock=clock)
    yield inst
    inst.close()


def _wait_for_change(page: Path, before: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if page.stat().st_mtime_ns != before:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.0002)


# Where the kill lands: before any write, after the first changed page, halfway through
# the pages, once the root is rewritten (before the pages of removed projects are deleted),
# after the end. Polling cannot promise the exact instant; every instant must pass.
KILL_POINTS = ["at-once", "first-page", "middle-page", "root-written", "after-exit"]


@pytest.mark.parametrize("kill_point", KILL_POINTS)
def test_killed_generate_leaves_a_consistent_site(
    kill_point: str, crowded: Installation
) -> None:
    inst = crowded
    base = latest(inst)
    watched = {
        "first-page": base / "project-001" / "index.json",
        "middle-page": base / f"project-{PROJECTS // 2:03d}" / "index.json",
        "root-written": base / "index.json",
    }
    before = {k: p.stat().st_mtime_ns for k, p in watched.items()}
    command = [sys.executable, "-m", "generator.cli.main", "--config", str(inst.config.file),
               "generate"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if kill_point in watched:
            _wait_for_change(watched[kill_point], before[kill_point], process)
        elif kill_point == "after-exit":
            process.wait(timeout=60)
        process.send_signal(signal.SIGKILL)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert b"Traceback" not in err
    digests: dict[str, str] = {}
    assert_consistent(inst, digests)

    report = generate(inst)
    assert_consistent(inst, digests)
    assert generate(inst).mode == "unchanged"
    # A full build writing and deleting nothing means its bytes equal the finished run's.
    full = generate(inst, full=True)
    assert (full.written, full.deleted) == (0, 0)
    shown = [name for name, _ in inst.catalog.project_names(inst.catalog.get_repo("python"))]
    assert root_names(inst) == shown
    assert sorted(p.name for p in base.iterdir() if p.is_dir()) == shown
    if kill_point == "after-exit":
        assert report.mode == "unchanged"


def test_generation_state_moves_last(crowded: Installation) -> None:
    # A run that stops before the end leaves the watermark where it was, so the next run
    # redoes the interrupted work: simulate by rendering with a failing progress callback.
    inst = crowded
    repo = inst.catalog.get_repo("python")
    state = inst.catalog.generation_state(repo)
    calls = iter(range(100))

    def stop_midway(_n: int) -> None:
        if next(calls) == 50:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        inst.generate([repo], progress=stop_midway)
    assert inst.catalog.generation_state(repo) == state
    assert_consistent(inst)
    generate(inst)
    finished = tree(inst)
    assert generate(inst, full=True).written == 0
    assert tree(inst) == finished


@pytest.fixture
def names_on_site(installation: Installation) -> Callable[[], dict[NormalizedName, str]]:
    return lambda: installation.catalog.site_projects(installation.catalog.get_repo("python"))


def test_site_projects_follow_the_root(
    three: Installation, names_on_site: Callable[[], dict[NormalizedName, str]]
) -> None:
    assert names_on_site() == {"alpha": "alpha", "beta": "beta", "gamma": "gamma"}
    three.catalog.remove(three.catalog.get_source("local"), "alpha", three.now())
    generate(three)
    assert names_on_site() == {"beta": "beta", "gamma": "gamma"}
