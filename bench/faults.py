"""Fault trials at bench scale: SIGKILL ``timeshelf serve`` (under concurrent uploads),
``timeshelf generate``, ``timeshelf sync``, ``timeshelf publish`` (to moto's S3 server)
and environment builds (uv and pip, killed with their installer) at seeded random
instants, ``--trials`` times each, and check the invariants after every kill and after
the next run.

The trials are those of ``tests/reliability/harness.py`` (the CI runs a few); here each
kind runs ``--trials`` seeds (default 50) with larger installations, up to ``--budget``
seconds in all (default 1500), ``--jobs`` trials at a time. Everything runs on 127.0.0.1.

Run from the repository root::

    .venv/bin/python -m bench.faults --trials 50

It prints one line per trial and a summary table (Markdown, for RELIABILITY.md), and
writes every result to ``bench/work/faults/result.json``. Exit 1 if any trial found a
problem.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path

from tests.reliability.harness import TRIALS, TrialResult

WORK = Path(__file__).resolve().parent / "work" / "faults"
# Bench scale: more clients, more projects, kills spread over the whole run of each process.
SCALE: dict[str, dict[str, object]] = {
    "serve": {"clients": 10, "projects": 20, "max_delay": 3.0},
    "generate": {"projects": 300, "max_delay": 1.8},
    "sync": {"projects": 200, "max_delay": 1.5},
    "publish": {"projects": 100, "max_delay": 6.5},
    "environment": {},
}
# Kills land within the run: on this machine `generate --full` of 300 changed projects takes
# 0.8-2.7 s, a sync of 200 projects 0.8-2.4 s, a publish of 100 projects about 6 s, and an
# environment build about 0.6 s with uv and 5.7 s with pip (the summary counts the kills
# that came after the process had ended).
ENVIRONMENT_DELAY = {"uv": 0.7, "pip": 5.5}


def run_trial(kind: str, seed: int) -> TrialResult:
    directory = Path(tempfile.mkdtemp(prefix=f"{kind}-{seed}-", dir=WORK))
    try:
        options = dict(SCALE[kind])
        if kind == "environment":  # both installers, alternately
            installer = ("uv", "pip")[seed % 2]
            options.update(installer=installer, max_delay=ENVIRONMENT_DELAY[installer])
        return TRIALS[kind](directory, seed, **options)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="seeds per kind")
    parser.add_argument("--kinds", default=",".join(TRIALS), help="comma-separated kinds")
    parser.add_argument("--budget", type=float, default=1500, help="seconds for everything")
    parser.add_argument("--jobs", type=int, default=2, help="trials at a time")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    kinds = args.kinds.split(",")
    queue = [(kind, seed) for seed in range(args.trials) for kind in kinds]
    deadline = time.monotonic() + args.budget
    results: list[TrialResult] = []
    started = time.monotonic()
    with ProcessPoolExecutor(args.jobs) as pool:
        running: dict[Future[TrialResult], tuple[str, int]] = {}
        while queue or running:
            while queue and len(running) < args.jobs and time.monotonic() < deadline:
                kind, seed = queue.pop(0)
                running[pool.submit(run_trial, kind, seed)] = (kind, seed)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                kind, seed = running.pop(future)
                try:
                    result = future.result()
                except Exception as e:
                    result = TrialResult(kind=kind, seed=seed, kill_after=-1,
                                         problems=[f"harness failure: {e!r}"])
                results.append(result)
                print(f"{kind:11} seed {seed:3} kill {result.kill_after:5.2f}s "
                      f"{'mid-run' if result.interrupted else 'after the end'} "
                      f"(ran {result.ran_for:5.2f}s) "
                      f"acknowledged {result.acknowledged:3} problems {len(result.problems)} "
                      f"{result.problems[:2]}", flush=True)
    elapsed = time.monotonic() - started
    (WORK / "result.json").write_text(json.dumps([asdict(r) for r in results], indent=1))
    print("\n| kind | trials | killed mid-run | kill instants (s) | acknowledged uploads "
          "| trials with a problem |")
    print("|---|---:|---:|---|---:|---:|")
    for kind in kinds:
        mine = [r for r in results if r.kind == kind]
        if not mine:
            continue
        instants = [r.kill_after for r in mine]
        print(f"| {kind} | {len(mine)} | {sum(1 for r in mine if r.interrupted)} | "
              f"{min(instants):.2f}-{max(instants):.2f} | "
              f"{sum(r.acknowledged for r in mine)} | {sum(1 for r in mine if r.problems)} |")
    print(f"\nwall time {elapsed:.0f} s, {len(queue)} trials left unrun by the budget")
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
