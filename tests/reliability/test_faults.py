"""SIGKILL during concurrent uploads to ``timeshelf serve``, ``timeshelf generate``,
``timeshelf sync``, ``timeshelf publish`` (to moto's S3 server) and an environment build,
at seeded instants; the invariants of ``harness.check_site`` (``check_bucket`` for a
bucket; no half-built live environment) hold after each kill and after the next run.
``bench/faults.py`` runs the same trials by the hundred.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import TRIALS

# Seeds and windows chosen so the kills land inside each run on a machine like CI's
# (generate and sync of 20 projects take about 0.6 s, publish of 10 about 1.7 s, a uv
# build about 0.6 s): an earlier and a later kill of each.
CASES = [("serve", 1), ("serve", 0), ("generate", 5), ("generate", 0), ("sync", 5), ("sync", 0),
         ("publish", 5), ("publish", 0), ("environment", 9), ("environment", 0)]
SCALE: dict[str, dict[str, object]] = {
    "serve": {"projects": 3, "max_delay": 1.5},
    "generate": {"projects": 20, "max_delay": 0.7},
    "sync": {"projects": 20, "max_delay": 0.7},
    "publish": {"projects": 10, "max_delay": 2.0},
    "environment": {"installer": "uv", "max_delay": 0.6},
}


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=[f"{k}-seed{s}" for k, s in CASES])
def test_killed_process_leaves_the_invariants(kind: str, seed: int, tmp_path: Path) -> None:
    result = TRIALS[kind](tmp_path, seed, **SCALE[kind])
    assert result.problems == [], f"kill after {result.kill_after:.2f}s"
    if kind == "serve":
        assert result.acknowledged > 0 or result.kill_after < 0.3
