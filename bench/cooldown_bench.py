"""What a cooldown costs a full generate: the same repository with and without one.

One catalog of ``--projects`` projects (``bench.dataset``, ten files per project, built
once and cached in ``--work``/dataset) holds two repositories subscribed to the same
source: ``python`` (no cooldown) and ``cool`` (a cooldown of ``--cooldown``, 90 days by
default, so that the files of the dataset's last 90 days wait and the rest is of age:
every file goes through the rule). Each is generated in-process with
``Installation.generate([repo], full=True, ui=False, snapshots=False)`` into an empty
output, alternating (plain, cool, plain, cool, ...), and the medians are compared. Then
the incremental run that follows a day of coming of age (``record_coming_of_age`` and
the projects it names) is timed.

Run from the repository root (about 2 minutes for 10k projects)::

    .venv/bin/python -m bench.cooldown_bench --projects 10000 --write-results
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dataset import DEFAULT_SEED, build_dataset
from bench.results import write_block
from generator.catalog.cooldown import parse_cooldown
from generator.clock import ENV_NOW, format_timestamp
from generator.config.settings import load_config
from generator.installation import Installation

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
TARGET_OVERHEAD = 0.05  # "a few %" (issue #20, cooldown part)
TITLE = "## Cooldown repositories (`bench/cooldown_bench.py`)"


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of this process and its finished children,
    the parts of a parallel pass) of ``call()``."""
    cpu, wall = _cpu(), time.perf_counter()
    call()
    return time.perf_counter() - wall, _cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cooldown", default="90d")
    parser.add_argument("--work", type=Path, default=Path("bench/work/cooldown"))
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args(argv)
    seconds = parse_cooldown(args.cooldown)
    assert seconds is not None
    os.environ[ENV_NOW] = format_timestamp(AT)  # spawned parts of a parallel pass too

    dataset = args.work / f"dataset-{args.projects}"
    if not dataset.exists():
        print(f"building a dataset of {args.projects} projects ...", file=sys.stderr)
        build_dataset(dataset, args.projects * 10, DEFAULT_SEED, at=AT - timedelta(days=1))
    config = dataset / "install" / "timeshelf.toml"
    inst = Installation(load_config(config), clock=lambda: AT)
    catalog = inst.catalog
    if "cool" not in {r.name for r in catalog.list_repos()}:
        catalog.create_repo("cool", AT - timedelta(hours=12))
        catalog.subscribe("cool", "local", AT - timedelta(hours=12))
        catalog.set_cooldown(catalog.get_repo("cool"), seconds, (), AT - timedelta(hours=12))
    plain, cool = catalog.get_repo("python"), catalog.get_repo("cool")
    files = sum(len(p.files) for p in catalog.iter_projects(plain))
    listed = sum(len(p.files) for p in catalog.iter_projects(cool))
    output = inst.config.output_path

    samples: dict[str, list[tuple[float, float]]] = {
        "plain": [], "cool": [], "plain read": [], "cool read": []}
    for _ in range(args.rounds):
        for name, repo in (("plain", plain), ("cool", cool)):
            shutil.rmtree(output / repo.name, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            samples[name].append(timed(
                lambda r=repo: inst.generate([r], full=True, ui=False, snapshots=False)))
    # The rule alone: every project read and filtered, nothing rendered or written.
    for _ in range(3 * args.rounds):
        for name, repo in (("plain", plain), ("cool", cool)):
            samples[f"{name} read"].append(timed(
                lambda r=repo: sum(1 for _ in catalog.iter_projects(r))))
    wall = {k: statistics.median(s[0] for s in v) for k, v in samples.items()}
    cpu = {k: statistics.median(s[1] for s in v) for k, v in samples.items()}
    overhead = wall["cool"] / wall["plain"] - 1
    cpu_overhead = cpu["cool"] / cpu["plain"] - 1
    read_overhead = wall["cool read"] / wall["plain read"] - 1
    # What the rule costs, as a share of a full generate: the whole runs differ by more
    # than that from one round to the next on a shared machine.
    rule_share = (cpu["cool read"] - cpu["plain read"]) / cpu["plain"]

    # A day later: the files uploaded in the dataset's day 90 days before come of age.
    later = Installation(load_config(config), clock=lambda: AT + timedelta(days=1))
    os.environ[ENV_NOW] = format_timestamp(AT + timedelta(days=1))
    inst.generate([cool], ui=False, snapshots=False)
    incremental, _ = timed(lambda: later.generate([cool], ui=False, snapshots=False))

    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip()
    verdict = "met" if overhead <= TARGET_OVERHEAD else "not met"
    report = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({platform.machine()}, "
        f"{platform.python_version()}, {os.cpu_count()} CPUs), at `{revision}`: one catalog of "
        f"{args.projects:,} projects ({files:,} files, `bench.dataset`), full generate of the "
        f"index in-process into an empty output, medians of {args.rounds} alternating rounds (reads: {3 * args.rounds}).\n\n"
        f"Command: `.venv/bin/python -m bench.cooldown_bench --projects {args.projects} "
        f"--rounds {args.rounds} --cooldown {args.cooldown} --write-results`\n\n"
        "| repository | wall | CPU |\n| --- | ---: | ---: |\n"
        f"| `python`, no cooldown | {wall['plain']:.2f} s | {cpu['plain']:.2f} s |\n"
        f"| `cool`, the same source with a {args.cooldown} cooldown ({listed:,} of "
        f"{files:,} files of age) | {wall['cool']:.2f} s | {cpu['cool']:.2f} s |\n"
        f"| reading the projects only (`Catalog.iter_projects`), no cooldown | "
        f"{wall['plain read']:.2f} s | {cpu['plain read']:.2f} s |\n"
        f"| reading the projects only, with the cooldown applied | "
        f"{wall['cool read']:.2f} s | {cpu['cool read']:.2f} s |\n\n"
        f"The cooldown adds **{overhead:+.1%}** wall time ({cpu_overhead:+.1%} CPU) to a "
        f"full generate (target: at most {TARGET_OVERHEAD:.0%}: {verdict}); the rule itself "
        f"adds {read_overhead:+.1%} to reading the catalog, "
        f"{(cpu['cool read'] - cpu['plain read']) * 1000:.0f} ms of CPU: "
        f"**{rule_share:+.1%}** of a full generate's CPU. Load average at the end: "
        f"{os.getloadavg()[0]:.1f} (other work shares the machine). "
        f"The incremental generate a day later, which writes the day's coming of age as "
        f"events and renders the projects concerned, took {incremental * 1000:.0f} ms.\n"
    )
    print(report)
    if args.write_results:
        write_block(report, name="cooldown_bench", title=TITLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
