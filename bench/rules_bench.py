"""Blocklist rules benchmark: a generation with 50 rules and 20,000 advisories against the
same generation with no rules, in the same run.

Builds a seeded installation (``bench.dataset``: ``--files`` files over a tenth as many
projects, built once and cached in ``bench/work/rules/``), generates it, and imports a
zip of ``--advisories`` synthetic OSV advisories (``bench.osv_bench.build_zip``, 30% of
them naming projects of the installation) with ``vulns sync --no-generate``. Two copies
of it are then measured side by side:

- ``no rules``: the installation as it is (the advisories held, no rule);
- ``50 rules``: the same with 50 rules: 40 ``--package-name P --version SPEC`` rules on
  projects of the installation, 4 ``--vulns`` rules (every severity threshold and none),
  2 license rules (``--license-types GPL-3.0-only,AGPL-3.0-only``, ``--license GPL``;
  the dataset's files have no stored metadata, so every license is Unknown and is read
  for, found missing and not matched), 2 ``--source`` rules scoped to another
  repository, and 2 exceptions.

Each measurement is ``Installation.generate(full=..., ui=False, snapshots=False)`` in
this process (the index pages, the withheld files: what rules change; the web UI and
dated days have the same code path with or without rules and are left out so they do
not dilute the difference), alternating between the two copies, median of
``--repeats`` (full) and ``--incremental-runs`` (incremental, each after one new file
was added to a mid-sized project, untimed). The clock is fixed inside the day the
files were added, so no dated day falls due.

    .venv/bin/python bench/rules_bench.py --write-results

Targets (issue #20, at 100k projects / 1M files): a full generation at most 10% slower
with the rules, an incremental one at most 5 ms slower.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dataset import add_to_catalog, build_dataset, extra_files, iter_dataset  # noqa: E402
from bench.osv_bench import build_zip  # noqa: E402
from bench.results import write_block  # noqa: E402
from generator.clock import ENV_NOW, parse_timestamp  # noqa: E402
from generator.installation import Installation  # noqa: E402
from generator.policy.rules import check_rule  # noqa: E402

WORK = ROOT / "bench" / "work" / "rules"
TIMESHELF = Path(sys.executable).with_name("timeshelf")
RUN_NOW = "2026-01-01T12:00:00Z"
SEED = 20


def _timeshelf(config: Path, *args: str) -> None:
    done = subprocess.run([str(TIMESHELF), "--config", str(config), *args],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, ENV_NOW: RUN_NOW}, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"timeshelf {' '.join(args)} exited {done.returncode}:\n{done.stderr}")


def template(files: int, advisories: int) -> Path:
    """The generated installation with the advisories imported (built once)."""
    directory = WORK / f"template-{files}-{advisories}"
    config = directory / "install" / "timeshelf.toml"
    if config.exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    os.environ[ENV_NOW] = RUN_NOW
    config = build_dataset(directory, files)
    _timeshelf(config, "create", "repo", "--name", "other")
    _timeshelf(config, "subscribe", "--repo", "other", "--source", "local")
    _timeshelf(config, "generate")
    export = WORK / f"export-{files}-{advisories}.zip"
    build_zip(export, advisories, files, 0.3, SEED)
    _timeshelf(config, "vulns", "sync", "--no-generate", "--from", str(export))
    return directory


def copy(source: Path, name: str) -> Path:
    target = WORK / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True)
    return target / "install" / "timeshelf.toml"


def add_rules(inst: Installation, files: int) -> int:
    """The 50 rules of the module docstring."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    names = sorted({item.project for item in iter_dataset(files)})
    rules = [
        check_rule(package_name=name, version=f"<{rng.randint(1, 5)}.{rng.randint(0, 9)}",
                   description=f"bench rule {n}")
        for n, name in enumerate(rng.sample(names, 40))
    ]
    rules += [check_rule(vulns=True, min_severity=s, description="vulnerable")
              for s in (None, "LOW", "MODERATE", "HIGH")]
    rules += [check_rule(license_types=["GPL-3.0-only", "AGPL-3.0-only"]),
              check_rule(license="GPL")]
    rules += [check_rule(source="local", repo="other", package_name=name)
              for name in rng.sample(names, 2)]
    rules += [check_rule(exception=True, package_name=name) for name in rng.sample(names, 2)]
    for rule in rules:
        inst.catalog.add_rule(rule, inst.now())
    return len(rules)


def timed(inst: Installation, full: bool) -> float:
    started = time.perf_counter()
    inst.generate(full=full, ui=False, snapshots=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100_000,
                        help="Files of the installation (a tenth as many projects).")
    parser.add_argument("--advisories", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="Full generations of each.")
    parser.add_argument("--incremental-runs", type=int, default=15)
    parser.add_argument("--write-results", action="store_true",
                        help="Write the figures into bench/RESULTS.md.")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_NOW] = RUN_NOW
    base = template(args.files, args.advisories)
    configs = {"no rules": copy(base, "plain"), "50 rules": copy(base, "ruled")}
    clock = lambda: parse_timestamp(RUN_NOW)  # noqa: E731
    insts = {name: Installation.from_config_file(config, clock=clock)
             for name, config in configs.items()}
    count = add_rules(insts["50 rules"], args.files)
    started = time.perf_counter()
    insts["50 rules"].generate(ui=False, snapshots=False)  # the rules' first generation
    first = time.perf_counter() - started
    full: dict[str, list[float]] = {name: [] for name in insts}
    incremental: dict[str, list[float]] = {name: [] for name in insts}
    for _ in range(args.repeats):
        for name, inst in insts.items():
            full[name].append(timed(inst, True))
    extras = extra_files(args.files, 20260301, args.incremental_runs)
    when = datetime(2026, 1, 1, 11, tzinfo=UTC)
    for extra in extras:
        for name, inst in insts.items():
            add_to_catalog(configs[name], [extra], when)
            incremental[name].append(timed(inst, False))
    blocked = len(list((configs["50 rules"].parent / "site" / ".withheld" / "files").iterdir()))
    report = render(args, count, first, full, incremental, blocked)
    print(report)
    for inst in insts.values():
        inst.close()
    if args.write_results:
        write_block(report, name="rules",
                    title="## Blocklist rules (`bench/rules_bench.py`)")


def render(args: argparse.Namespace, count: int, first: float, full: dict[str, list[float]],
           incremental: dict[str, list[float]], blocked: int) -> str:
    med = {name: statistics.median(v) for name, v in full.items()}
    inc = {name: statistics.median(v) for name, v in incremental.items()}
    out = [
        f"{args.files:,} files over {args.files // 10:,} projects, two repositories, "
        f"{args.advisories:,} advisories held, {count} rules ({blocked:,} files withheld); "
        f"`Installation.generate(ui=False, snapshots=False)` in-process, the two copies "
        f"alternating, {os.cpu_count()} CPUs "
        f"(`.venv/bin/python bench/rules_bench.py --files {args.files} --write-results`):",
        "",
        "| generation | no rules | 50 rules | difference |",
        "| --- | ---: | ---: | ---: |",
        f"| full (median of {args.repeats}) | {med['no rules']:.2f} s | {med['50 rules']:.2f} s "
        f"| {100 * (med['50 rules'] / med['no rules'] - 1):+.1f}% |",
        f"| incremental, one new file (median of {args.incremental_runs}) | "
        f"{1000 * inc['no rules']:.1f} ms | {1000 * inc['50 rules']:.1f} ms | "
        f"{1000 * (inc['50 rules'] - inc['no rules']):+.1f} ms |",
        "",
        f"The first generation after the rules were made (both repositories rendered whole, "
        f"every file decided for the withheld set): {first:.2f} s. Full runs: no rules "
        f"{', '.join(f'{v:.2f}' for v in full['no rules'])} s; 50 rules "
        f"{', '.join(f'{v:.2f}' for v in full['50 rules'])} s.",
        "",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
