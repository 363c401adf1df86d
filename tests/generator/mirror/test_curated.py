"""Curated lists: the closure's pip-compile run and how it fails (no pip-compile needed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.errors import Conflict
from generator.mirror import curated
from tests.upstream import FakeUpstream, serve_upstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with serve_upstream(FakeUpstream()) as served:
        yield served


@pytest.mark.parametrize(
    "script",
    ["exec sleep 30\n", "sleep 30\n", "sleep 30 &\nsleep 30\n"],
    ids=["pip-compile-itself", "a-child-holding-the-pipes", "a-background-grandchild"],
)
def test_a_closure_that_outlasts_its_timeout_is_one_line_and_kills_the_whole_run(
    upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str,
) -> None:
    slow = tmp_path / "python-slow"
    slow.write_text("#!/bin/sh\n" + script)
    slow.chmod(0o755)
    monkeypatch.setattr(curated, "_interpreter", lambda version: str(slow))
    monkeypatch.setattr(curated, "COMPILE_TIMEOUT", 0.5)
    started = time.monotonic()

    with pytest.raises(Conflict) as raised:
        curated.compile_closure(("demo",), upstream.index_url, ("3.12",))

    assert time.monotonic() - started < 10  # not the 30 s a child left running would hold
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        f"pip-compile did not resolve the closure for Python 3.12 against {upstream.index_url} "
        "within 0.5 s and was stopped: try again"
    )
