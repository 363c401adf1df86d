"""What one directory entry of a snapshot day costs: a symbolic link against a hard link.

A materialized day holds one symbolic link per project (``generator.snapshots.materialize``), and
creating them is most of a new day's time. A symbolic link allocates an inode; a hard
link to an existing file only adds a directory entry. This measures both, ``--entries``
of each into a new directory of ``--work`` (the file system under test), relative to an
open directory fd as the materializer does, alternating for ``--rounds`` rounds; it
prints wall and CPU microseconds per entry (medians) and the ratio::

    flock /tmp/timeshelf-bench.lock .venv/bin/python -m bench.links_bench \\
        --work /tmp/timeshelf-links-bench --entries 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

TARGET = "../../.pages/ab/0123456789abcdef0123456789abcdef"  # a day link's length


def _timed(make: Callable[[str, int], None], names: list[str], directory: Path) -> tuple[float, float]:
    directory.mkdir()
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for name in names:
            make(name, fd)
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        os.close(fd)


def run(work: Path, entries: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) microseconds per entry, for "symlink" and "hardlink"."""
    shutil.rmtree(work, ignore_errors=True)
    sources = work / "pages"
    sources.mkdir(parents=True)
    names = [f"project-{i:07d}" for i in range(entries)]
    source_fd = os.open(sources, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in names:
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=source_fd))
        samples: dict[str, list[tuple[float, float]]] = {"symlink": [], "hardlink": []}
        for r in range(rounds):
            samples["symlink"].append(_timed(
                lambda name, fd: os.symlink(TARGET, name, dir_fd=fd), names, work / f"s{r}"))
            samples["hardlink"].append(_timed(
                lambda name, fd: os.link(name, name, src_dir_fd=source_fd, dst_dir_fd=fd),
                names, work / f"h{r}"))
    finally:
        os.close(source_fd)
        shutil.rmtree(work, ignore_errors=True)
    return {
        kind: (statistics.median(w for w, _ in runs) / entries * 1e6,
               statistics.median(c for _, c in runs) / entries * 1e6)
        for kind, runs in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True,
                        help="scratch directory on the file system to measure (wiped)")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(args.work, args.entries, args.rounds)
    for kind, (wall, cpu) in result.items():
        print(f"{kind:9} {wall:7.1f} us wall, {cpu:7.1f} us CPU per entry "
              f"(median of {args.rounds} x {args.entries})")
    ratio = result["symlink"][0] / result["hardlink"][0]
    print(f"symlink / hardlink (wall): {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
