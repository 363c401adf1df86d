"""SIGKILL during concurrent uploads to ``timeshelf serve``, ``timeshelf generate`` and
``timeshelf sync``, at seeded instants; the invariants of ``harness.check_site`` hold after
each kill and after the next run. ``bench/faults.py`` runs the same trials by the hundred.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import TRIALS

# Seeds chosen for spread: an early and a late kill of each process (kill_after in the ids).
CASES = [("serve", 1), ("serve", 0), ("generate", 1), ("generate", 0), ("sync", 1), ("sync", 0)]


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=[f"{k}-seed{s}" for k, s in CASES])
def test_killed_process_leaves_the_invariants(kind: str, seed: int, tmp_path: Path) -> None:
    projects, max_delay = {"serve": (3, 1.5), "generate": (20, 1.0), "sync": (20, 1.0)}[kind]
    result = TRIALS[kind](tmp_path, seed, projects=projects, max_delay=max_delay)
    assert result.problems == [], f"kill after {result.kill_after:.2f}s"
    if kind == "serve":
        assert result.acknowledged > 0 or result.kill_after < 0.3
