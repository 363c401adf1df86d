"""Full and incremental generation: timeshelf against dumb-pypi on the same files.

For each size (default 10k, 100k and 1M files; ``bench.dataset``, ten files per project)
the same seeded file list goes to both tools:

- **timeshelf**: an installation whose catalog holds the files (built once per size and
  dataset version, cached in ``bench/work/datasets/``, copied for the run), then
  ``timeshelf generate --full`` into an empty output (the index with PEP 691 JSON
  pages and PEP 658 ``.metadata`` links, the web UI), and ``timeshelf generate`` after
  one project changed (a new file added with ``Catalog.add_files``, untimed);
- **dumb-pypi** (pinned, in its own venv ``bench/work/venv-dumb``): a full build from
  ``--package-list-json`` into an empty directory, and its incremental mode
  (``--previous-package-list-json``) after the same one-file change, into the output
  of its last full build. It runs with ``--no-per-release-json`` (its own advice for
  large repositories, and its fastest mode) and ``--no-generate-timestamp``.

Each measurement is a whole process: wall time, CPU time (user + system, children
included), and peak RSS as the sum over the process and its children, sampled every
20 ms, or GNU time's figure for the process itself when higher. Runs alternate between
the tools; before each one the page cache is flushed to disk (``sync``) so that a run
does not pay for its predecessor's writeback. The clock of every timeshelf command is
fixed (``TIMESHELF_NOW``) inside the day the installation was created, so no dated
snapshot falls due during the runs (``bench/snapshot_bench.py`` measures those).

Every full build writes into a fresh ext4 file system (a sparse image in
``bench/work``, loop-mounted; one per tool, kept for its incremental runs), so each
tool starts from the same empty disk and a run's output goes away with one ``umount``:
deleting 1M-file outputs file by file takes longer here than the whole benchmark,
and slows the disk for everything else meanwhile. Without root (no ``mount``) the
outputs go to ``bench/work/generate`` and are deleted at the end.

Run from the repository root, as root (about 30 minutes; ``make bench`` does the
same)::

    .venv/bin/python -m bench.generate_bench --write-results

``--tools timeshelf`` leaves dumb-pypi out, ``--dataset-dir`` keeps the cached datasets
elsewhere (one copy shared by several checkouts), ``--dataset-only`` just builds them,
and ``--json PATH`` writes every sample as JSON (``bench/compare_revisions.py`` uses
all four to compare two revisions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dataset import (
    DATASET_VERSION,
    DEFAULT_SEED,
    PACKAGE_LIST,
    add_to_catalog,
    build_dataset,
    dumb_pypi_line,
    extra_files,
)
from bench.results import RESULTS, write_block
from generator.catalog.schema import SCHEMA_VERSION
from generator.clock import ENV_NOW
from generator.config.settings import load_config

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work"
DATASETS = WORK / "datasets"
RUNS_DIR = WORK / "generate"
DUMB_VENV = WORK / "venv-dumb"
DUMB_REQUIREMENT = "dumb-pypi==1.15.0"
SECTION_TITLE = "## Full and incremental generation against dumb-pypi (`bench/generate_bench.py`)"
# Every timeshelf command runs at this instant (datasets are added at DATASET_AT).
DATASET_AT = datetime(2026, 1, 1, tzinfo=UTC)
RUN_NOW = "2026-01-01T12:00:00Z"
# Targets (the issue): at the largest size, full generation at least 5x faster than
# dumb-pypi; one-project incremental under 1 s; peak RSS under 500 MB.
FULL_RATIO_TARGET = 5.0
INCREMENTAL_TARGET = 1.0
RSS_TARGET_MB = 500.0


class BenchError(RuntimeError):
    """A measured command failed; the message holds its output."""


@dataclass(slots=True)
class Sample:
    seconds: float
    cpu_seconds: float
    rss_mb: float


@dataclass(slots=True)
class Series:
    """The samples of one (tool, mode, size)."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples)

    @property
    def rss_mb(self) -> float:
        return statistics.median(s.rss_mb for s in self.samples)

    @property
    def peak_rss_mb(self) -> float:
        return max(s.rss_mb for s in self.samples)


@dataclass(slots=True)
class DatasetInfo:
    """Where a size's cached dataset is, how long building it took (its stamp), and
    whether this run built it."""

    path: str
    build_seconds: float
    built_now: bool


@dataclass(slots=True)
class Results:
    series: dict[tuple[str, str, int], Series] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    datasets: dict[int, DatasetInfo] = field(default_factory=dict)

    def add(self, tool: str, mode: str, size: int, sample: Sample) -> None:
        self.series.setdefault((tool, mode, size), Series()).samples.append(sample)


class Budget:
    """Wall-clock budget of the whole run."""

    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.seconds = seconds

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- measuring one process ----------------------------------------------------------------


def _tree_rss_kb(pid: int) -> int:
    """Resident set of ``pid`` and its descendants, in KiB (0 once it is gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as kids:
                pending.extend(int(k) for k in kids.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(
    args: Sequence[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None,
    timeout: float,
) -> tuple[Sample, str]:
    """Run a command to completion; its wall time, peak RSS and standard error."""
    stats = RUNS_DIR / ".time"
    command = ["/usr/bin/time", "-o", str(stats), "-f", "%e %U %S %M", *map(str, args)]
    subprocess.run(["sync"], check=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, _tree_rss_kb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        process.kill()
        process.communicate()
        raise BenchError(f"{shlex.join(map(str, args))} took over {timeout:.0f} s") from e
    finally:
        done.set()
        sampler.join()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise BenchError(
            f"{shlex.join(map(str, args))} exited {process.returncode}:\n{stderr[-3000:]}"
        )
    elapsed, user, system, max_rss_kb = stats.read_text(encoding="ascii").split()[-4:]
    # GNU time's wall figure excludes our fork/exec; it is the one reported.
    seconds = float(elapsed) if float(elapsed) > 0 else wall
    rss_kb = max(peak, int(max_rss_kb))
    return Sample(
        seconds=seconds, cpu_seconds=float(user) + float(system), rss_mb=rss_kb / 1024
    ), stderr


# -- the inputs ----------------------------------------------------------------------------


def ensure_dumb_pypi() -> Path:
    """dumb-pypi in its own venv (created once); the path of its command."""
    command = DUMB_VENV / "bin" / "dumb-pypi"
    if not command.exists():
        log(f"installing {DUMB_REQUIREMENT} into {DUMB_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(DUMB_VENV)], check=True)
        subprocess.run(
            [str(DUMB_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
             DUMB_REQUIREMENT],
            check=True,
        )
    return command


def dataset_directory(size: int, seed: int, root: Path = DATASETS) -> Path:
    """Where the cached dataset of a size is: named by everything its content depends on."""
    return root / f"{size}-{seed}-d{DATASET_VERSION}-s{SCHEMA_VERSION}"


def dataset(size: int, seed: int, root: Path = DATASETS) -> Path:
    """The cached dataset directory of a size (built on first use) below ``root``."""
    directory = dataset_directory(size, seed, root)
    stamp = directory / "complete"
    if stamp.exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    shown = directory.relative_to(REPO) if directory.is_relative_to(REPO) else directory
    log(f"building the {size:,}-file dataset in {shown}")
    started = time.monotonic()
    build_dataset(directory, size, seed, at=DATASET_AT)
    stamp.write_text(f"{time.monotonic() - started:.1f}\n", encoding="ascii")
    return directory


def prepare_dataset(size: int, seed: int, root: Path) -> DatasetInfo:
    """``dataset``, and what its stamp says about building it."""
    built_now = not (dataset_directory(size, seed, root) / "complete").exists()
    directory = dataset(size, seed, root)
    seconds = float((directory / "complete").read_text(encoding="ascii"))
    return DatasetInfo(path=str(directory), build_seconds=seconds, built_now=built_now)


def timeshelf_env() -> dict[str, str]:
    return {**os.environ, ENV_NOW: RUN_NOW}


class Scratch:
    """Where one tool's output goes: a fresh ext4 file system per build (a loop-mounted
    sparse image), or, without root, a new directory below ``RUNS_DIR``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.image = WORK / f"fs-{name}.img"
        self.mountpoint = WORK / f"mnt-{name}"
        self.mounted = False
        self.count = 0

    @staticmethod
    def can_mount() -> bool:
        return os.geteuid() == 0 and shutil.which("mkfs.ext4") is not None

    def fresh(self) -> Path:
        """An empty directory on a new file system (the previous one is discarded)."""
        self.close()
        self.count += 1
        if self.can_mount():
            self.image.unlink(missing_ok=True)
            with self.image.open("wb") as image:
                image.truncate(60 << 30)  # sparse: only what is written takes space
            subprocess.run(
                ["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1",
                 "-N", "8000000", str(self.image)],
                check=True,
            )
            self.mountpoint.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["mount", "-o", "loop,noatime", str(self.image), str(self.mountpoint)],
                check=True,
            )
            self.mounted = True
            return self.mountpoint
        directory = RUNS_DIR / "trash" / f"{self.name}-{self.count}"
        directory.mkdir(parents=True)
        return directory

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.mountpoint)], check=True)
            self.mounted = False
        self.image.unlink(missing_ok=True)


def unmount_leftovers() -> None:
    """Unmount scratch file systems an interrupted run left mounted."""
    with open("/proc/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in points:
        if point.startswith(str(WORK / "mnt-")):
            subprocess.run(["umount", point], check=False)
    for image in WORK.glob("fs-*.img"):
        image.unlink()


def point_output(config: Path, site: Path) -> None:
    """Make the installation write its site (and keep its store) in ``site``."""
    text = config.read_text(encoding="utf-8")
    for key, value in (("store", site / "files"), ("output", site)):
        start = text.index(f"[{key}]")
        line = text.index("\npath = ", start) + 1
        text = text[:line] + f'path = "{value}"' + text[text.index("\n", line):]
    config.write_text(text, encoding="utf-8")
    (site / "files").mkdir(parents=True, exist_ok=True)


def check_report(stderr: str, mode: str) -> None:
    if f"{mode} generation" not in stderr:
        raise BenchError(f"expected a {mode} generation, timeshelf said:\n{stderr[-2000:]}")


# Index only: the foundation's full generation without the web UI (Installation.generate
# with ui=False), as a whole process like the CLI.
INDEX_ONLY = (
    "import sys; from pathlib import Path; from generator.installation import Installation; "
    "inst = Installation.from_config_file(Path(sys.argv[1])); "
    "[r] = inst.generate(full=True, ui=False).reports; inst.close(); "
    "print(f'{r.repo}: {r.mode} generation, {r.projects} project(s)', file=sys.stderr)"
)


# -- one size -------------------------------------------------------------------------------


def bench_size(
    size: int, seed: int, runs: int, dumb_runs: int, results: Results, budget: Budget,
    timeout: float, *, verify: bool, datasets: Path = DATASETS,
    incremental_runs: int | None = None,
) -> None:
    incremental = runs if incremental_runs is None else incremental_runs
    info = results.datasets[size] = prepare_dataset(size, seed, datasets)
    data = Path(info.path)
    work = RUNS_DIR / str(size)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    install = work / "install"
    log(f"{size:,}: copying the installation")
    shutil.copytree(data / "install", install)
    config = install / "timeshelf.toml"
    python = REPO / ".venv" / "bin" / "python"
    timeshelf: list[str | Path] = [REPO / ".venv" / "bin" / "timeshelf", "--config", config]
    dumb = ensure_dumb_pypi() if dumb_runs else None
    listing = data / PACKAGE_LIST
    ours, theirs = Scratch("timeshelf"), Scratch("dumb-pypi")
    dumb_out: Path | None = None
    try:
        # Full builds, alternating the tools, each into an empty file system.
        for run in range(max(runs, dumb_runs)):
            if run < runs:
                point_output(config, ours.fresh() / "site")
                sample, stderr = measure([python, "-c", INDEX_ONLY, config],
                                         env=timeshelf_env(), timeout=timeout)
                check_report(stderr, "full")
                record(results, "timeshelf (index only)", "full", size, run, sample)
                point_output(config, ours.fresh() / "site")
                sample, stderr = measure(
                    [*timeshelf, "generate", "--full"], env=timeshelf_env(), timeout=timeout
                )
                check_report(stderr, "full")
                record(results, "timeshelf", "full", size, run, sample)
            if run < dumb_runs and dumb is not None:
                dumb_out = theirs.fresh() / "out"
                sample, _ = measure(
                    [dumb, "--package-list-json", listing, "--output-dir", dumb_out,
                     "--packages-url", "../../files/", "--no-per-release-json",
                     "--no-generate-timestamp"],
                    timeout=timeout,
                )
                record(results, "dumb-pypi", "full", size, run, sample)
            if budget.left() < 0:
                raise BenchError("out of time budget during the full builds")

        # Incremental: one new file in one project per run, for both tools, over the
        # output of each tool's last full build.
        previous = listing
        extras = extra_files(size, seed, max(incremental, dumb_runs))
        for run, extra in enumerate(extras):
            add_to_catalog(config, [extra], DATASET_AT)
            current = work / f"packages-{run + 1}.json"
            if dumb is not None:  # dumb-pypi's list (a copy per run: 1M lines at 1M files)
                shutil.copyfile(previous, current)
                with current.open("a", encoding="utf-8") as handle:
                    handle.write(dumb_pypi_line(extra))
            if run < incremental:
                sample, stderr = measure([*timeshelf, "generate"], env=timeshelf_env(),
                                         timeout=timeout)
                check_report(stderr, "incremental")
                record(results, "timeshelf", "incremental", size, run, sample)
            if run < dumb_runs and dumb is not None and dumb_out is not None:
                sample, _ = measure(
                    [dumb, "--package-list-json", current, "--previous-package-list-json",
                     previous, "--output-dir", dumb_out, "--packages-url", "../../files/",
                     "--no-per-release-json", "--no-generate-timestamp"],
                    timeout=timeout,
                )
                record(results, "dumb-pypi", "incremental", size, run, sample)
            if previous != listing:
                previous.unlink(missing_ok=True)
            previous = current
        if verify and runs and incremental:
            verify_incremental(install, ours, timeout)
    finally:
        ours.close()
        theirs.close()
    shutil.rmtree(work, ignore_errors=True)


def record(
    results: Results, tool: str, mode: str, size: int, run: int, sample: Sample
) -> None:
    results.add(tool, mode, size, sample)
    log(f"{size:,}: {tool} {mode} #{run + 1}: {sample.seconds:.3f} s "
        f"(cpu {sample.cpu_seconds:.1f} s), {sample.rss_mb:.0f} MB")


def verify_incremental(install: Path, ours: Scratch, timeout: float) -> None:
    """The incrementally updated index equals a full generation of the same catalog."""
    config = install / "timeshelf.toml"
    kept = install.parent / "incremental-latest"
    current = load_config(config).output_path / "python" / "latest"
    shutil.copytree(current, kept)
    point_output(config, ours.fresh() / "site")
    measure([REPO / ".venv" / "bin" / "timeshelf", "--config", config, "generate", "--full"],
            env=timeshelf_env(), timeout=timeout)
    fresh = load_config(config).output_path / "python" / "latest"
    result = subprocess.run(["diff", "-r", str(kept), str(fresh)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"incremental output differs from a full generation:\n{result.stdout[:2000]}")
    log("incremental output is byte-identical to a full generation")


# -- the report -----------------------------------------------------------------------------


def machine_facts(*, dumb: bool = True) -> dict[str, str]:
    facts = {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if dumb:
        facts["dumb-pypi"] = subprocess.run(
            [str(DUMB_VENV / "bin" / "python"), "-c",
             "import importlib.metadata as m; print(m.version('dumb-pypi'))"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
    return facts


TOOLS = ("timeshelf", "timeshelf (index only)", "dumb-pypi")


def render_report(results: Results, sizes: Sequence[int], command: str) -> str:
    def cell(tool: str, mode: str, size: int) -> Series | None:
        return results.series.get((tool, mode, size))

    lines = [
        f"Command: `{command}`",
        "",
        *(f"- {k}: {v}" for k, v in results.facts.items()),
        "",
        "Medians over the runs of whole-process wall time, CPU time (user + system) and",
        "peak RSS; the last column is dumb-pypi's median wall time over this row's.",
        "",
        "| files | projects | mode | tool | runs | wall | CPU | peak RSS | dumb-pypi / this |",
        "| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        for mode in ("full", "incremental"):
            theirs = cell("dumb-pypi", mode, size)
            for tool in TOOLS:
                series = cell(tool, mode, size)
                if series is None:
                    continue
                ratio = "—"
                if theirs is not None and tool != "dumb-pypi":
                    ratio = f"{theirs.seconds / series.seconds:.1f}x"
                lines.append(
                    f"| {size:,} | {max(1, size // 10):,} | {mode} | {tool} | "
                    f"{len(series.samples)} | {series.seconds:.3f} s | "
                    f"{series.cpu_seconds:.1f} s | {series.rss_mb:.0f} MB | {ratio} |"
                )
    largest = max(sizes)
    dumb_full = cell("dumb-pypi", "full", largest)
    lines += ["", f"Targets at {largest:,} files:", ""]
    for tool in TOOLS[:2]:
        full = cell(tool, "full", largest)
        if full is not None and dumb_full is not None:
            speedup = dumb_full.seconds / full.seconds
            lines.append(
                f"- {tool}: full generation >= {FULL_RATIO_TARGET:.0f}x faster than "
                f"dumb-pypi: {speedup:.1f}x — "
                f"{'met' if speedup >= FULL_RATIO_TARGET else 'NOT met'}"
            )
    inc = cell("timeshelf", "incremental", largest)
    if inc is not None:
        lines.append(
            f"- one-project incremental < {INCREMENTAL_TARGET:.0f} s: {inc.seconds:.3f} s "
            f"(slowest {max(s.seconds for s in inc.samples):.3f} s) — "
            f"{'met' if inc.seconds < INCREMENTAL_TARGET else 'NOT met'}"
        )
    peaks = [s.peak_rss_mb for (tool, _, _), s in results.series.items() if tool != "dumb-pypi"]
    if peaks:
        lines.append(
            f"- peak RSS < {RSS_TARGET_MB:.0f} MB: {max(peaks):.0f} MB (highest timeshelf run) — "
            f"{'met' if max(peaks) < RSS_TARGET_MB else 'NOT met'}"
        )
    if results.notes:
        lines += ["", *(f"- {note}" for note in results.notes)]
    return "\n".join(lines) + "\n"


def write_results(report: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's block in RESULTS.md (only between its markers)."""
    write_block(report, name="generate_bench", title=SECTION_TITLE, path=path)


def write_json(results: Results, command: str, path: Path) -> None:
    """Every sample, the facts and the datasets used, for tools that compare runs."""
    payload = {
        "command": command,
        "facts": results.facts,
        "notes": results.notes,
        "datasets": {str(size): asdict(info) for size, info in results.datasets.items()},
        "series": [
            {"tool": tool, "mode": mode, "size": size,
             "samples": [asdict(sample) for sample in series.samples]}
            for (tool, mode, size), series in results.series.items()
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


TOOL_CHOICES = ("timeshelf", "dumb-pypi")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated file counts (default 10000,100000,1000000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--incremental-runs", type=int,
                        help="timeshelf incremental runs per size (default: --runs)")
    parser.add_argument("--dumb-runs-largest", type=int, default=3,
                        help="dumb-pypi runs at the largest size (default 3)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="dataset seed")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one measured command may take (default 900)")
    parser.add_argument("--budget", type=float, default=2700.0,
                        help="seconds the whole run may take (default 2700)")
    parser.add_argument("--write-results", action="store_true",
                        help=f"write the figures into {RESULTS.relative_to(REPO)}")
    parser.add_argument("--tools", default=",".join(TOOL_CHOICES),
                        help="comma-separated tools to measure: timeshelf (with its index-only "
                        "row), dumb-pypi (default both)")
    parser.add_argument("--dataset-dir", type=Path, default=DATASETS,
                        help=f"where the cached datasets are (default {DATASETS.relative_to(REPO)})")
    parser.add_argument("--dataset-only", action="store_true",
                        help="build (or find) the datasets of --sizes, then stop")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip checking the incremental output against a full generation")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write every sample as JSON to PATH")
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOL_CHOICES))
    if unknown or not tools:
        parser.error(f"--tools takes {', '.join(TOOL_CHOICES)}; got {args.tools!r}")
    args.tools = frozenset(tools)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    budget = Budget(args.budget)
    command = shlex.join([".venv/bin/python", "-m", "bench.generate_bench", *raw])
    datasets = args.dataset_dir.resolve()
    if args.dataset_only:
        results = Results(facts=machine_facts(dumb=False))
        for size in sizes:
            results.datasets[size] = prepare_dataset(size, args.seed, datasets)
        results.facts["whole run"] = f"{time.monotonic() - budget.start:.0f} s"
        if args.json:
            write_json(results, command, args.json)
        return 0
    ours_on, dumb_on = "timeshelf" in args.tools, "dumb-pypi" in args.tools
    trash = RUNS_DIR / "trash"
    if Scratch.can_mount():
        unmount_leftovers()
    if trash.exists():
        log("removing the outputs of an interrupted run")
        shutil.rmtree(trash)
        time.sleep(30)  # let the file system settle before measuring
    if dumb_on:
        ensure_dumb_pypi()
    results = Results(facts=machine_facts(dumb=dumb_on))
    largest = max(sizes)
    try:
        for size in sizes:
            dumb_runs = args.runs if size != largest else args.dumb_runs_largest
            if not dumb_on:
                dumb_runs = 0
            elif dumb_runs < args.runs:
                results.notes.append(
                    f"dumb-pypi ran {dumb_runs} times at {size:,} files (the time bound)."
                )
            bench_size(size, args.seed, args.runs if ours_on else 0, dumb_runs, results,
                       budget, args.timeout, verify=size == min(sizes) and not args.no_verify,
                       datasets=datasets,
                       incremental_runs=args.incremental_runs if ours_on else 0)
    except BenchError as e:
        log(f"stopped: {e}")
        results.notes.append(f"The run stopped early: {str(e).splitlines()[0]}")
    finally:
        if trash.exists():
            started = time.monotonic()
            shutil.rmtree(trash, ignore_errors=True)
            log(f"removed the outputs in {time.monotonic() - started:.0f} s")
    results.facts["whole run"] = f"{time.monotonic() - budget.start:.0f} s"
    report = render_report(results, sizes, command)
    print(report)
    if args.json:
        write_json(results, command, args.json)
    if args.write_results:
        write_results(report)
        print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0 if not any("stopped early" in n for n in results.notes) else 1

if __name__ == "__main__":
    sys.exit(main())
