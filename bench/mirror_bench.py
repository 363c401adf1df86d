"""Mirror benchmark: `timeshelf sync` beside bandersnatch, against one local upstream.

The upstream is ``tests.upstream.FakeUpstream`` in its own process on 127.0.0.1 (so
neither tool shares a GIL with it), serving N projects of real wheels as PEP 691 JSON
with serials and ETags, and the legacy JSON API bandersnatch reads. Each tool runs as a
subprocess, twice: a first sync, then a re-sync with nothing changed upstream. For each
run: wall time, projects per second, requests the upstream answered, and the peak RSS
of the tool's process (``wait4``).

Both tools are run two ways: pages only (timeshelf ``file_mode = "lazy"``; bandersnatch
``release-files = false``) and pages plus every file (timeshelf ``"prefetch"``;
bandersnatch's default), with the same number of workers. bandersnatch is installed from
the package registry into ``bench/work/venv-bandersnatch`` (gitignored)::

    python3 -m venv bench/work/venv-bandersnatch
    bench/work/venv-bandersnatch/bin/pip install bandersnatch
    .venv/bin/python bench/mirror_bench.py --projects 5000 > bench/work/mirror.md

Runs are bounded: every subprocess has a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.factory import WheelSpec, build_wheel  # noqa: E402
from tests.upstream import FakeUpstream, serve_upstream  # noqa: E402

WORK = ROOT / "bench" / "work" / "mirror"
BANDERSNATCH = ROOT / "bench" / "work" / "venv-bandersnatch" / "bin" / "bandersnatch"
TIMESHELF = Path(sys.executable).with_name("timeshelf")
RUN_TIMEOUT = 540


@dataclass
class Run:
    tool: str
    mode: str
    sync: str
    seconds: float
    projects_per_s: float
    requests: int
    peak_rss_mb: float
    exit_code: int
    # timeshelf only: the seconds of the sync itself, before it regenerates the site
    # (its pages, snapshots and web UI); bandersnatch writes its pages as it syncs.
    sync_phase_s: float | None = None


def build_dists(directory: Path, projects: int, versions: int) -> list[Path]:
    """``projects`` x ``versions`` small real wheels (reused when already built)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(projects):
        for v in range(versions):
            spec = WheelSpec(f"bench-project-{i:05d}", f"1.{v}")
            path = directory / f"bench_project_{i:05d}-1.{v}-py3-none-any.whl"
            if not path.exists():
                build_wheel(directory, spec)
            paths.append(path)
    return paths


def serve(dists: Path, port_file: Path) -> None:
    """The upstream process: load every wheel, serve until killed."""
    upstream = FakeUpstream()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n, path in enumerate(sorted(dists.glob("*.whl"))):
        upstream.add(path, uploaded=start + timedelta(minutes=n))
    with serve_upstream(upstream):
        port_file.write_text(str(upstream.port))
        while True:
            time.sleep(3600)


def request_count(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__requests__") as reply:
        count: int = json.loads(reply.read())["count"]
        return count


def measure(argv: list[str], env: dict[str, str], port: int, cwd: Path | None = None
            ) -> tuple[float, int, float, int]:
    """(seconds, upstream requests, peak RSS in MB, exit code) of one subprocess run."""
    before = request_count(port)
    started = time.monotonic()
    log = open(WORK / "runs.log", "ab")  # noqa: SIM115
    log.write(f"\n$ {' '.join(argv)}\n".encode())
    log.flush()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=log)
    deadline = started + RUN_TIMEOUT
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.02)
    seconds = time.monotonic() - started
    log.close()
    code = os.waitstatus_to_exitcode(status)
    return seconds, request_count(port) - before, usage.ru_maxrss / 1024, code


def timeshelf_runs(mode: str, port: int, projects: int, workers: int) -> list[Run]:
    home = WORK / f"timeshelf-{mode}"
    shutil.rmtree(home, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMESHELF_")}
    subprocess.run([TIMESHELF, "init", home], env=env, check=True, capture_output=True,
                   timeout=60)
    config = home / "timeshelf.toml"
    text = config.read_text().replace("workers = 8", f"workers = {workers}")
    config.write_text(text + f'\n[sources.pypi]\nfile_mode = "{mode}"\n')
    for args in (["create", "source", "--name", "pypi", "--type", "pypi", "--upstream",
                  f"http://127.0.0.1:{port}/simple/"],
                 ["subscribe", "--repo", "python", "--source", "pypi"]):
        subprocess.run([TIMESHELF, "--config", config, *args], env=env, check=True,
                       capture_output=True, timeout=60)
    runs = []
    for label in ("first", "no-op"):
        seconds, requests, rss, code = measure(
            [str(TIMESHELF), "--config", str(config), "sync"], env, port)
        summary = [line for line in (WORK / "runs.log").read_text().splitlines()
                   if line.startswith("pypi: ")][-1]
        phase = float(re.search(r"([0-9.]+)s\)?$", summary)[1])  # type: ignore[index]
        runs.append(Run(tool="timeshelf", mode=mode, sync=label, seconds=round(seconds, 2),
                        projects_per_s=round(projects / seconds, 1), requests=requests,
                        peak_rss_mb=round(rss, 1), exit_code=code, sync_phase_s=phase))
    return runs


def bandersnatch_runs(mode: str, port: int, projects: int, workers: int) -> list[Run]:
    home = WORK / f"bandersnatch-{mode}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    files = "true" if mode == "prefetch" else "false"
    conf = home / "bandersnatch.conf"
    conf.write_text(
        "[mirror]\n"
        f"directory = {home / 'mirror'}\n"
        f"master = http://127.0.0.1:{port}\n"
        "allow-non-https = true\n"
        "api-method = simple\n"
        f"workers = {min(workers, 10)}\n"
        "timeout = 30\n"
        "stop-on-error = false\n"
        f"release-files = {files}\n"
        f"root_uri = http://127.0.0.1:{port}/\n"
        "json = false\n"
        "hash-index = false\n"
    )
    env = dict(os.environ)
    runs = []
    for label in ("first", "no-op"):
        seconds, requests, rss, code = measure(
            [str(BANDERSNATCH), "-c", str(conf), "mirror"], env, port)
        runs.append(Run(tool="bandersnatch", mode=mode, sync=label, seconds=round(seconds, 2),
                        projects_per_s=round(projects / seconds, 1), requests=requests,
                        peak_rss_mb=round(rss, 1), exit_code=code))
    return runs


def table(runs: list[Run]) -> str:
    lines = [
        "| tool | files | sync | seconds | projects/s | sync phase (s) | requests "
        "| peak RSS (MB) | exit |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        files = "pages only" if r.mode == "lazy" else "pages + files"
        phase = "" if r.sync_phase_s is None else r.sync_phase_s
        lines.append(f"| {r.tool} | {files} | {r.sync} | {r.seconds} | {r.projects_per_s} | "
                     f"{phase} | {r.requests} | {r.peak_rss_mb} | {r.exit_code} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=5000)
    parser.add_argument("--versions", type=int, default=2)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--modes", default="lazy,prefetch")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port_file)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    dists = WORK / f"dists-{args.projects}x{args.versions}"
    build_dists(dists, args.projects, args.versions)
    port_file = WORK / "port"
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(dists), "--port-file",
                               str(port_file)])
    try:
        deadline = time.monotonic() + 300
        while not port_file.exists():
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the upstream did not start")
            time.sleep(0.1)
        time.sleep(0.2)
        port = int(port_file.read_text())
        runs: list[Run] = []
        for mode in args.modes.split(","):
            runs += timeshelf_runs(mode, port, args.projects, args.workers)
            if BANDERSNATCH.exists():
                runs += bandersnatch_runs(mode, port, args.projects, args.workers)
    finally:
        server.kill()
        server.wait()
    (WORK / "results.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    print(f"{args.projects} projects x {args.versions} wheels, {args.workers} workers, "
          f"{os.cpu_count()} CPUs\n")
    print(table(runs))


if __name__ == "__main__":
    main()
