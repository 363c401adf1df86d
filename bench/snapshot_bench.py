"""Dated snapshots at scale: what one new day costs, and how fast a past day renders on demand.

A repository of ``--projects`` projects (``bench.dataset``, ten files per project on
average, all added on day 0) gets ``--days`` simulated days in which 1% of its projects
change (half a new file, half a yank, each event dated inside that day). For each new
day it measures the wall time of materializing it and the bytes (disk blocks, as ``du``
counts them, hard links once) and inodes it adds to ``<out>/<repo>/``; it compares them
with a full generate of the same repository (``timeshelf generate --full`` from an
empty ``latest/``) and with the bytes of a full copy of ``latest/simple/``.

Days alternate between the two ways a day gets written: in-process
(``Materializer.run`` for a clock just after the day ended, the ``latest`` pages having
been brought up to date first, untimed) and the whole ``timeshelf generate`` process
(``TIMESHELF_NOW`` set, ``latest`` included). After each day the day that leaves a
``KEPT_DAYS`` retention window is pruned (timed apart: the steady state of a retention
policy). Finally every day is pruned and the newest is rendered again on demand, page by
page, through the sidecar's HTTP route (``timeshelf serve``, each project asked once: no
cache hit) and through ``render_on_demand`` in-process, checked byte for byte against
what was materialized.

Targets (issue #5): a new day costs under 5% of the wall time of a full generate
(``Materializer.run``, the snapshot's own cost) and under 1% of the bytes of a full copy;
an on-demand project page renders in under 50 ms. The report says met / NOT met for each.

Run under the benchmark lock (it uses both cores; about 5 GB of disk and 15-20 minutes for
100k projects; ``--work`` is wiped first, ``--cache`` keeps the imported catalog for the
next run)::

    flock /tmp/timeshelf-bench.lock .venv/bin/python -m bench.snapshot_bench \\
        --projects 100000 --days 6 --work /tmp/timeshelf-snapshot-bench \\
        --cache /tmp/timeshelf-snapshot-cache --write-results

It prints one JSON document of figures, ``--markdown`` the report, and
``--write-results`` replaces the block between ``<!-- snapshot_bench:begin -->`` and
``<!-- snapshot_bench:end -->`` in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import platform
import random
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName

from bench.dataset import DEFAULT_SEED, add_to_catalog, init_installation, iter_dataset
from bench.results import RESULTS, write_block
from generator.catalog.catalog import Catalog
from generator.clock import ENV_NOW, format_timestamp
from generator.config.settings import load_config
from generator.output.index import generate_index
from generator.records import FileEntry, FileRecord, Repo
from generator.render.simple import Renderer
from generator.snapshots.calendar import Retention, parse_day
from generator.snapshots.frozen import read_served_page, stored_page
from generator.snapshots.materialize import Materializer
from generator.snapshots.ondemand import render_on_demand

DAY0 = date(2026, 1, 1)
REPO = "python"
SOURCE = "local"
CHANGE_SHARE = 0.01
IMPORT_BATCH = 100_000
# Steady state: every day keeps the last KEPT_DAYS days, so each new day also prunes one.
# Writing uses one more day of retention (it prunes nothing), so that pruning, with its
# collection of unused pages, is timed on its own.
KEPT_DAYS = 3
WRITE_RETENTION = Retention(daily_days=KEPT_DAYS + 1, monthly=False)
STEADY_RETENTION = Retention(daily_days=KEPT_DAYS, monthly=False)
TIME_TARGET = 0.05  # a new day's wall time / a full generate's
BYTES_TARGET = 0.01  # a new day's bytes / a full copy's
ON_DEMAND_TARGET_MS = 50.0
ROOT = Path(__file__).resolve().parents[1]
SECTION_TITLE = "## Dated snapshots: a new day and on-demand renders (`bench/snapshot_bench.py`)"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """Disk blocks (bytes) and inodes below some paths, each inode counted once (``du``)."""

    bytes: int
    inodes: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.bytes - other.bytes, self.inodes - other.inodes)


def disk_usage(paths: Sequence[Path]) -> Usage:
    """What ``du`` says the paths occupy together (allocated blocks, not apparent size)."""
    existing = [str(p) for p in paths if p.exists()]
    if not existing:
        return Usage(0, 0)

    def total(*options: str) -> int:
        done = subprocess.run(
            ["du", "-s", "-c", *options, *existing], capture_output=True, text=True,
            check=True, timeout=600,
        )
        return int(done.stdout.strip().splitlines()[-1].split()[0])

    return Usage(total("-B1"), total("--inodes"))


def snapshot_area(output: Path) -> list[Path]:
    """Everything materialization writes for the repository (not ``latest``, not caches)."""
    base = output / REPO
    if not base.is_dir():
        return []
    return [
        p for p in base.iterdir()
        if p.name == ".pages" or (p.name[:1].isdigit() and p.is_dir())
    ]


def summary(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "median": statistics.median(ordered), "p95": p95, "min": ordered[0],
        "max": ordered[-1], "n": len(ordered),
    }


@dataclass(slots=True)
class Stopwatch:
    """Wall time, and CPU time (user + system, of this process and of its children that
    ended): on a shared machine the CPU time varies far less than the wall time."""

    wall: float = 0.0
    cpu: float = 0.0


def _cpu_seconds() -> float:
    own, children = (resource.getrusage(resource.RUSAGE_SELF),
                     resource.getrusage(resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    wall, cpu = time.perf_counter(), _cpu_seconds()
    try:
        yield watch
    finally:
        watch.wall, watch.cpu = time.perf_counter() - wall, _cpu_seconds() - cpu


def timeshelf(config: Path, now: datetime, *args: str) -> Stopwatch:
    """Run the ``timeshelf`` CLI as a whole process with ``TIMESHELF_NOW``; its times."""
    env = {**os.environ, ENV_NOW: format_timestamp(now)}
    with stopwatch() as watch:
        done = subprocess.run(
            [sys.executable, "-m", "uploader.cli", "--config", str(config), *args],
            env=env, capture_output=True, text=True, timeout=3600, check=False,
        )
    if done.returncode != 0:
        raise BenchFailed(f"timeshelf {' '.join(args)} failed:\n{done.stderr}")
    return watch


# -- the repository and its days ---------------------------------------------------------


@dataclass(slots=True)
class Bench:
    work: Path
    projects: int
    seed: int
    config: Path = field(init=False)
    output: Path = field(init=False)
    catalog: Catalog = field(init=False)
    repo: Repo = field(init=False)
    renderer: Renderer = field(default_factory=Renderer)
    rng: random.Random = field(init=False)
    names: list[NormalizedName] = field(default_factory=list)
    serial: int = 0

    def build(self, cache: Path | None) -> dict[str, Any]:
        """A fresh installation whose repository has ``projects`` projects, added on day 0.

        With ``cache``, the imported installation (catalog only, nothing generated) is
        kept in ``cache/<projects>-<seed>/`` and copied from there on later runs.
        """
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        started = time.perf_counter()
        kept = cache / f"{self.projects}-{self.seed}" if cache else None
        if kept is not None and (kept / "done").exists():
            shutil.copytree(kept / "install", self.work / "install", symlinks=True)
            self.config = self.work / "install" / "timeshelf.toml"
            files = int((kept / "done").read_text())
        else:
            files = self._import(self.work / "install")
            if kept is not None:
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(self.work / "install", kept / "install", symlinks=True)
                (kept / "done").write_text(str(files))
        # Retention as in WRITE_RETENTION, so `timeshelf generate` writes and never prunes.
        text = self.config.read_text()
        self.config.write_text(
            text.replace("daily_days = 90", f"daily_days = {WRITE_RETENTION.daily_days}")
            .replace("monthly = true", "monthly = false")
        )
        self.output = load_config(self.config).output_path
        self.catalog = Catalog(load_config(self.config).catalog_path)
        self.repo = self.catalog.get_repo(REPO)
        self.names = [name for name, _ in self.catalog.project_names(self.repo)]
        self.rng = random.Random(self.seed)  # noqa: S311 (a seeded sample, not a secret)
        return {"files": files, "projects": len(self.names),
                "import_seconds": round(time.perf_counter() - started, 1)}

    def _import(self, directory: Path) -> int:
        os.environ[ENV_NOW] = format_timestamp(at(DAY0))  # `init` subscribes the repo now
        try:
            self.config = init_installation(directory)
        finally:
            del os.environ[ENV_NOW]
        pending = []
        files = 0
        for item in iter_dataset(self.projects * 10, self.seed):
            pending.append(item)
            if len(pending) >= IMPORT_BATCH:
                files += add_to_catalog(self.config, pending, at(DAY0, 1))
                pending = []
        return files + add_to_catalog(self.config, pending, at(DAY0, 1))

    def change_day(self, day: date) -> dict[str, int]:
        """1% of the projects change during ``day``: half get a new file, half a yank."""
        chosen = self.rng.sample(self.names, max(1, round(len(self.names) * CHANGE_SHARE)))
        new_files, yanks = chosen[: len(chosen) // 2], chosen[len(chosen) // 2 :]
        source = self.catalog.get_source(SOURCE)
        moment = at(day, 9)
        states = {p.name: p for p in self.catalog.iter_projects(self.repo, chosen)}
        entries = []
        for name in new_files:
            self.serial += 1
            # A new release keeps its project's display name (the root page is unchanged).
            display = states[name].display_name
            entries.append(FileEntry(project=name, display_name=display, summary="",
                                     record=self._new_wheel(name, moment)))
        self.catalog.add_files(source, entries, moment)
        yanked = 0
        for offset, name in enumerate(yanks):
            candidates = sorted({f.version for f in states[name].files if not f.yanked})
            if not candidates:
                continue
            when = moment + timedelta(seconds=10 + offset)
            yanked += self.catalog.set_yanked(
                source, name, self.rng.choice(candidates), True, "benchmark yank", when
            )
        return {"changed_projects": len(chosen), "new_files": len(new_files),
                "yanked_files": yanked}

    def _new_wheel(self, name: str, when: datetime) -> FileRecord:
        version = f"{9000 + self.serial}.0"
        filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        digest = f"{self.seed}:{filename}".encode()
        return FileRecord(
            filename=filename, version=version, packagetype="bdist_wheel",
            sha256=hashlib.sha256(digest + b"f").hexdigest(),
            blake2_256=hashlib.sha256(digest + b"b").hexdigest(), size=23456,
            requires_python=">=3.9", upload_time=format_timestamp(when),
            metadata_sha256=hashlib.sha256(digest + b"m").hexdigest(), has_signature=False,
            yanked=False, yanked_reason="",
        )

    def update_latest(self) -> None:
        generate_index(self.catalog, self.renderer, self.output, self.repo)

    def materializer(self, retention: Retention = WRITE_RETENTION) -> Materializer:
        return Materializer(self.catalog, self.renderer, self.output, self.repo, retention)


@contextmanager
def sidecar(config: Path, now: datetime) -> Iterator[int]:
    """``timeshelf serve`` on a free 127.0.0.1 port with ``TIMESHELF_NOW``; yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, ENV_NOW: format_timestamp(now)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uploader.cli", "--config", str(config), "serve",
         "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(port, "/")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("timeshelf serve did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def get(port: int, path: str, accept: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Accept": accept} if accept else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- the benchmark ------------------------------------------------------------------------


class BenchFailed(RuntimeError):
    """What was measured is wrong (e.g. an on-demand page differs from the written one)."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailed(message)


def run(work: Path, projects: int, days: int, full_runs: int, samples: int,
        seed: int, cache: Path | None) -> dict[str, Any]:
    bench = Bench(work=work, projects=projects, seed=seed)
    result: dict[str, Any] = {"projects": projects, "days": days, "seed": seed,
                              "kept_days": KEPT_DAYS}
    log(f"building a {projects}-project repository")
    result["dataset"] = bench.build(cache)
    log(f"dataset: {result['dataset']}")
    result["full"] = measure_full(bench, full_runs)

    # Day 0: the first snapshot has nothing to share with, so it renders every project.
    before = disk_usage(snapshot_area(bench.output))
    with stopwatch() as first:
        report = bench.materializer().run(at(DAY0 + timedelta(days=1), 0, 30))
    added = disk_usage(snapshot_area(bench.output)) - before
    result["first_day"] = {"seconds": round(first.wall, 2), "cpu_seconds": round(first.cpu, 2),
                           "bytes": added.bytes, "inodes": added.inodes,
                           "rendered": report.rendered_projects}
    log(f"first day: {result['first_day']}")

    result["new_days"] = [measure_day(bench, index) for index in range(1, days + 1)]
    result["on_demand"] = measure_on_demand(bench, days, samples)
    return result


def measure_full(bench: Bench, runs: int) -> dict[str, Any]:
    """``timeshelf generate --full`` from an empty ``latest/`` (day 0 is not over), and
    what a plain copy of ``latest/simple/`` costs."""
    times: list[Stopwatch] = []
    latest = bench.output / REPO / "latest"
    for attempt in range(runs):
        if latest.exists():  # set aside, not deleted: deleting 300k files takes minutes
            latest.rename(bench.work / f"trash-{attempt}")
        times.append(timeshelf(bench.config, at(DAY0, 12), "generate", "--full"))
        log(f"full generate {attempt + 1}/{runs}: {times[-1]}")
    usage = disk_usage([latest / "simple"])
    copy_target = bench.work / "full-copy"
    started = time.perf_counter()
    subprocess.run(["cp", "-a", str(latest / "simple"), str(copy_target)], check=True,
                   timeout=3600)
    copy_seconds = time.perf_counter() - started
    copy_target.rename(bench.work / "trash-copy")
    log(f"full copy of latest/simple: {usage}, cp -a {copy_seconds:.1f} s")
    return {"generate_seconds": summary([t.wall for t in times]),
            "generate_cpu_seconds": summary([t.cpu for t in times]),
            "copy_seconds": round(copy_seconds, 2),
            "bytes": usage.bytes, "inodes": usage.inodes}


def measure_day(bench: Bench, index: int) -> dict[str, Any]:
    """Day ``index``: 1% of the projects change, the day is written (timed, with what it
    adds to the disk), then the day that falls out of retention is pruned (timed)."""
    day = DAY0 + timedelta(days=index)
    changes = bench.change_day(day)
    mode = "in-process" if index % 2 else "timeshelf generate"
    after_day = at(day + timedelta(days=1), 0, 30)
    if mode == "in-process":
        bench.update_latest()
    before = disk_usage(snapshot_area(bench.output))
    if mode == "in-process":
        with stopwatch() as watch:
            report = bench.materializer().run(after_day)
        check(report.written == [day.isoformat()], f"wrote {report.written}, not {day}")
        rendered = report.rendered_projects
    else:
        watch = timeshelf(bench.config, after_day, "generate")
        rendered = -1
    check((bench.output / REPO / day.isoformat() / "simple").is_dir(), f"{day} not written")
    added = disk_usage(snapshot_area(bench.output)) - before
    # Where the bytes go: the day's own directories (one link per project, the root pages
    # when they changed) and the pages of the projects that changed, in .pages/.
    own = disk_usage([bench.output / REPO / day.isoformat()])
    roots = sum(  # hard links into .pages/root/, counted there when new
        page.stat().st_blocks * 512 for suffix in ("html", "json")
        if (page := stored_page(bench.output / REPO / day.isoformat() / "simple"
                                / f"index.{suffix}")) is not None
    )
    with stopwatch() as prune:
        pruned = bench.materializer(STEADY_RETENTION).run(after_day).pruned
    entry = {"day": day.isoformat(), "mode": mode, "seconds": round(watch.wall, 3),
             "cpu_seconds": round(watch.cpu, 3), "bytes": added.bytes,
             "inodes": added.inodes, "day_dir_bytes": own.bytes - roots,
             "day_dir_inodes": own.inodes, "rendered": rendered,
             "prune_seconds": round(prune.wall, 3), "prune_cpu_seconds": round(prune.cpu, 3),
             "pruned": len(pruned), **changes}
    log(f"day {entry}")
    return entry


def measure_on_demand(bench: Bench, days: int, samples: int) -> dict[str, Any]:
    """Prune every day, then render the newest one again, page by page, on demand."""
    target = DAY0 + timedelta(days=days)
    now = at(DAY0 + timedelta(days=days + 1), 6)
    day_dir = bench.output / REPO / target.isoformat() / "simple"
    pool = list(bench.names)
    random.Random(bench.seed + 1).shuffle(pool)  # noqa: S311 (a sample, not a secret)
    http_names, local_names = pool[:samples], pool[samples : 2 * samples]
    warm = pool[2 * samples]
    expected = {
        name: (read_served_page(day_dir / name / "index.json"),
               read_served_page(day_dir / name / "index.html"))
        for name in [*http_names, *local_names, warm]
    }
    expected_root = read_served_page(day_dir / "index.json")
    started = time.perf_counter()
    pruned = bench.materializer(Retention(daily_days=0, monthly=False)).run(now).pruned
    prune_seconds = time.perf_counter() - started
    check(target.isoformat() in pruned and not day_dir.exists(), f"not pruned: {pruned}")

    local = []
    for name in local_names:
        started = time.perf_counter()
        page = render_on_demand(bench.catalog, bench.renderer, bench.repo,
                                parse_day(target.isoformat()), name)
        local.append((time.perf_counter() - started) * 1000)
        check((page.json, page.html) == expected[name], f"on-demand bytes differ for {name}")

    remote = []
    with sidecar(bench.config, now) as port:
        base = f"/{REPO}/{target.isoformat()}/simple/"
        status, body = get(port, f"{base}{warm}/", PIP_ACCEPT)  # imports, connections
        check((status, body) == (200, expected[warm][0]), f"{warm}: {status}")
        for name in http_names:
            started = time.perf_counter()
            status, body = get(port, f"{base}{name}/", PIP_ACCEPT)
            remote.append((time.perf_counter() - started) * 1000)
            check((status, body) == (200, expected[name][0]), f"{name}: {status}")
        started = time.perf_counter()
        status, body = get(port, base, PIP_ACCEPT)
        root_ms = (time.perf_counter() - started) * 1000
        check((status, body) == (200, expected_root), f"root: {status}")
    return {
        "day": target.isoformat(), "pruned_days": len(pruned),
        "prune_seconds": round(prune_seconds, 2),
        "sidecar_ms": summary(remote), "in_process_ms": summary(local),
        "sidecar_root_ms": round(root_ms, 1),
    }


# -- reporting ------------------------------------------------------------------------------


def machine(work: Path) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    fs = subprocess.run(["df", "-T", str(work)], capture_output=True, text=True,
                        check=False).stdout
    return {
        "cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
        "os": platform.platform(), "sqlite": sqlite3.sqlite_version,
        "filesystem": fs.splitlines()[-1].split()[1] if fs else "unknown",
        "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def ratios(result: dict[str, Any]) -> dict[str, float]:
    full_seconds = result["full"]["generate_seconds"]["median"]
    full_cpu = result["full"]["generate_cpu_seconds"]["median"]
    days = result["new_days"]
    prunes = [d["prune_seconds"] for d in days if d["pruned"]]
    found = {
        "day_bytes_median": statistics.median(d["bytes"] for d in days),
        "day_inodes_median": statistics.median(d["inodes"] for d in days),
        "day_dir_bytes_median": statistics.median(d["day_dir_bytes"] for d in days),
        "day_pages_bytes_median": statistics.median(
            d["bytes"] - d["day_dir_bytes"] for d in days),
    }
    found["bytes_ratio"] = found["day_bytes_median"] / result["full"]["bytes"]
    # Against a whole day as this layout stores it (compressed pages, one link each).
    found["bytes_ratio_stored_day"] = found["day_bytes_median"] / result["first_day"]["bytes"]
    found["inodes_ratio"] = found["day_inodes_median"] / result["full"]["inodes"]
    for key, chosen in (("in_process", [d for d in days if d["mode"] == "in-process"]),
                        ("process", [d for d in days if d["mode"] != "in-process"])):
        if chosen:
            found[f"day_seconds_{key}"] = statistics.median(d["seconds"] for d in chosen)
            found[f"time_ratio_{key}"] = found[f"day_seconds_{key}"] / full_seconds
            found[f"day_cpu_{key}"] = statistics.median(d["cpu_seconds"] for d in chosen)
            found[f"cpu_ratio_{key}"] = found[f"day_cpu_{key}"] / full_cpu
    if prunes:
        found["prune_seconds"] = statistics.median(prunes)
        found["prune_ratio"] = found["prune_seconds"] / full_seconds
    return found


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def markdown(result: dict[str, Any], command: str) -> str:
    r = ratios(result)
    full, od, ds = result["full"], result["on_demand"], result["dataset"]
    mib = 1024 * 1024
    m = result["machine"]
    lines = [
        f"Command (under `flock /tmp/timeshelf-bench.lock`): `{command}`",
        "",
        f"Whole run {result['seconds']:.0f} s. Each new day is measured after 1% of the "
        "projects changed during it; medians over the new days (in-process and whole-process "
        "days apart), ratios against the full generate and the full copy of this same run.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['filesystem']}, Python {m['python']}, "
        f"SQLite {m['sqlite']}, load average at the end {m['load_average']}; {m['date']}.",
        "",
        f"Dataset: {ds['projects']} projects, {ds['files']} files (seed {result['seed']}); "
        f"each day 1% of the projects change (half a new wheel, half a yank); "
        f"{result['kept_days']} days kept, so each day also prunes one.",
        "",
        "| measure | value | target |",
        "| --- | --- | --- |",
        f"| full generate (`generate --full`, empty `latest/`, median of "
        f"{full['generate_seconds']['n']}) | {full['generate_seconds']['median']:.1f} s "
        f"(min {full['generate_seconds']['min']:.1f}, max {full['generate_seconds']['max']:.1f}); "
        f"CPU {full['generate_cpu_seconds']['median']:.1f} s | |",
        f"| full copy of `latest/simple/` (du) | {full['bytes'] / mib:.0f} MiB, "
        f"{full['inodes']} inodes (`cp -a` {full['copy_seconds']:.1f} s) | |",
        f"| first day (nothing to share yet) | {result['first_day']['seconds']:.1f} s "
        f"(CPU {result['first_day']['cpu_seconds']:.1f} s), "
        f"{result['first_day']['bytes'] / mib:.0f} MiB, {result['first_day']['inodes']} "
        "inodes | |",
    ]
    if "day_seconds_in_process" in r:
        lines.append(
            f"| new day, `Materializer.run` (median) | {r['day_seconds_in_process']:.2f} s = "
            f"{100 * r['time_ratio_in_process']:.1f}% of a full generate; CPU "
            f"{r['day_cpu_in_process']:.2f} s = {100 * r['cpu_ratio_in_process']:.1f}% | < 5%: "
            f"{verdict(r['time_ratio_in_process'] < TIME_TARGET)} |"
        )
    if "day_seconds_process" in r:
        lines.append(
            f"| new day, whole `timeshelf generate` process incl. `latest` (median) | "
            f"{r['day_seconds_process']:.2f} s = {100 * r['time_ratio_process']:.1f}%; CPU "
            f"{r['day_cpu_process']:.2f} s = {100 * r['cpu_ratio_process']:.1f}% | (< 5%: "
            f"{verdict(r['time_ratio_process'] < TIME_TARGET)}) |"
        )
    if "prune_seconds" in r:
        lines.append(
            f"| pruning the day that leaves retention, with page collection (median) | "
            f"{r['prune_seconds']:.2f} s = {100 * r['prune_ratio']:.1f}% | |"
        )
    lines += [
        f"| new day, bytes added (median) | {r['day_bytes_median'] / mib:.1f} MiB = "
        f"{100 * r['bytes_ratio']:.2f}% of a full copy: the day's links "
        f"{r['day_dir_bytes_median'] / mib:.1f} MiB, the changed projects' pages "
        f"{r['day_pages_bytes_median'] / mib:.1f} MiB "
        f"({100 * r['day_pages_bytes_median'] / full['bytes']:.2f}% alone); "
        f"{100 * r['bytes_ratio_stored_day']:.2f}% of the first day as stored | < 1% of a "
        f"full copy: {verdict(r['bytes_ratio'] < BYTES_TARGET)} |",
        f"| new day, inodes added (median) | {r['day_inodes_median']:.0f} = "
        f"{100 * r['inodes_ratio']:.1f}% of a full copy | |",
        f"| on-demand project page via the sidecar (HTTP, uncached, "
        f"n={od['sidecar_ms']['n']}) | median {od['sidecar_ms']['median']:.1f} ms, "
        f"p95 {od['sidecar_ms']['p95']:.1f} ms | < 50 ms: "
        f"{verdict(od['sidecar_ms']['p95'] < ON_DEMAND_TARGET_MS)} (p95) |",
        f"| on-demand project page, `render_on_demand` in-process "
        f"(n={od['in_process_ms']['n']}) | median {od['in_process_ms']['median']:.1f} ms, "
        f"p95 {od['in_process_ms']['p95']:.1f} ms | < 50 ms: "
        f"{verdict(od['in_process_ms']['p95'] < ON_DEMAND_TARGET_MS)} (p95) |",
        f"| on-demand root page via the sidecar (all projects) | {od['sidecar_root_ms']:.0f} ms"
        " | |",
        "",
        "| day | written by | seconds (CPU) | bytes added (links + pages) | inodes added "
        "| projects rendered | prune seconds (CPU) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in result["new_days"]:
        rendered = d["rendered"] if d["rendered"] >= 0 else "-"
        prune = (f"{d['prune_seconds']:.2f} ({d['prune_cpu_seconds']:.2f})" if d["pruned"]
                 else "(none)")
        lines.append(
            f"| {d['day']} | {d['mode']} | {d['seconds']:.2f} ({d['cpu_seconds']:.2f}) | "
            f"{d['bytes'] / mib:.1f} MiB ({d['day_dir_bytes'] / mib:.1f} + "
            f"{(d['bytes'] - d['day_dir_bytes']) / mib:.1f}) | "
            f"{d['inodes']} | {rendered} | {prune} |"
        )
    return "\n".join(lines) + "\n"


def write_results(report: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's block in RESULTS.md (only between its markers)."""
    write_block(report, name="snapshot_bench", title=SECTION_TITLE, path=path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=6, help="new days to simulate and measure")
    parser.add_argument("--full-runs", type=int, default=3, help="full generates to time")
    parser.add_argument("--samples", type=int, default=100,
                        help="on-demand renders to time (each way, distinct projects)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--work", type=Path, required=True, help="scratch directory (wiped)")
    parser.add_argument("--cache", type=Path,
                        help="keep the imported dataset here and reuse it on later runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--markdown", action="store_true", help="print the report (Markdown)")
    parser.add_argument("--write-results", action="store_true",
                        help=f"write the report into {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--keep", action="store_true",
                        help="keep --work afterwards (by default it is removed at the end, so "
                        "the next run does not spend its first minutes deleting it)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.work.resolve(), args.projects, args.days, args.full_runs, args.samples,
                 args.seed, args.cache.resolve() if args.cache else None)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine(args.work)
    result["ratios"] = ratios(result)
    text = json.dumps(result, indent=2, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.markdown or args.write_results:
        command = " ".join([".venv/bin/python -m bench.snapshot_bench",
                            *(sys.argv[1:] if argv is None else argv)])
        report = markdown(result, command)
        if args.markdown:
            print(report)
        if args.write_results:
            write_results(report)
            log(f"wrote {RESULTS.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
