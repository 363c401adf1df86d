"""Helper Python processes that run this package's code beside the current one."""

from __future__ import annotations

import os
from pathlib import Path


def worker_env() -> dict[str, str]:
    """The environment of a ``python -m generator.…`` helper: this one, with the
    directory holding this package first on ``PYTHONPATH`` (so a source checkout that
    is not installed runs the same code)."""
    here = str(Path(__file__).resolve().parents[1])
    paths = [here, *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def second_cpu() -> bool:
    """True when a helper process can run beside this one on a CPU of its own."""
    return (os.cpu_count() or 1) >= 2
