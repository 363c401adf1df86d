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

# Seeds chosen for spread: an early and a late kill of each process (kill_after in the ids).
CASES = [("serve", 1), ("serve", 0), ("generate", 1), ("generate", 0), ("sync", 1), ("sync", 0),
         ("publish", 1), ("publish", 0), ("environment", 1), ("environment", 0)]
SCALE: dict[str, dict[str, object]] = {
    "serve": {"projects": 3, "max_delay": 1.5},
    "generate": {"projects": 20, "max_delay": 1.0},
    "sync": {"projects": 20, "max_delay": 1.0},
    "publish": {"projects": 10, "max_delay": 2.0},
    "environment": {"installer": "uv", "max_delay": 0.6},
}


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=[f"{k}-seed{s}" for k, s in CASES])
def test_killed_process_leaves_the_invariants(kind: str, seed: int, tmp_path: Path) -> None:
    result = TRIALS[kind](tmp_path, seed, **SCALE[kind])
    assert result.problems == [], f"kill after {result.kill_after:.2f}s"
    if kind == "serve":
        assert result.acknowledged > 0 or result.kill_after < 0.3
