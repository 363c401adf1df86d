"""Run one benchmark by name (``make bench NAME=...``), or list them.

Each benchmark is a module of this folder with its own options and its own section in
``bench/RESULTS.md`` (written with ``--write-results`` where it supports it); this
entry point only dispatches, so ``python -m bench.<name> --help`` shows the details.
"""

from __future__ import annotations

import runpy
import sys

BENCHMARKS = {
    "generate": "bench.generate_bench",
    "upload": "bench.upload_bench",
    "snapshot": "bench.snapshot_bench",
    "mirror": "bench.mirror_bench",
    "osv": "bench.osv_bench",
    "env": "bench.env_bench",
    "webui": "bench.webui_bench",
    "publish": "bench.publish_bench",
    "compare": "bench.compare_revisions",
    "faults": "bench.faults",
    "fuzz": "bench.fuzz_upload",
    "load": "bench.load",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print("usage: make bench NAME=<name> [ARGS='...']   (or python -m bench.run NAME ...)")
        for name, module in BENCHMARKS.items():
            print(f"  {name:10} python -m {module} --help")
        return 0 if not argv else 2
    sys.argv = [BENCHMARKS[argv[0]], *argv[1:]]
    runpy.run_module(BENCHMARKS[argv[0]], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
