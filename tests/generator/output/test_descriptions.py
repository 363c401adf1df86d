"""The description pool: real helper processes, a deadline, recovery, the cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.output.descriptions import WORKER_MEMORY, DescriptionPool, _Worker

NOTE = '<p class="description-note">This description is shown as plain text: '
# About 450 kB of ordinary reStructuredText that docutils needs seconds for.
SLOW_RST = "\n\n".join(["A paragraph with *emphasis* in it."] * 12_000)


@pytest.fixture
def pool() -> Iterator[DescriptionPool]:
    made = DescriptionPool(deadline=30.0, max_workers=2)
    yield made
    made.close()


def test_descriptions_render_in_a_helper(pool: DescriptionPool) -> None:
    assert pool.render("Some **bold**", "text/markdown") == "<p>Some <strong>bold</strong></p>\n"
    assert pool.render("  \n", "text/markdown") == ""


def test_a_render_past_the_deadline_is_plain_text_and_the_helper_is_replaced() -> None:
    quick = DescriptionPool(deadline=0.2)
    try:
        started = time.monotonic()
        rendered = quick.render(SLOW_RST, "text/x-rst")
        assert time.monotonic() - started < 5
        assert rendered.startswith(NOTE[:-2])
        assert ": formatting it took longer than 0.2 seconds.</p>" in rendered[:200]
        assert "A paragraph with *emphasis* in it." in rendered
        assert quick.render("*next*", "text/markdown") == "<p><em>next</em></p>\n"
    finally:
        quick.close()


def test_a_helper_that_dies_is_replaced(pool: DescriptionPool) -> None:
    assert pool.render("*one*", "text/markdown") == "<p><em>one</em></p>\n"
    (idle,) = pool._idle
    idle.process.kill()
    idle.process.wait()
    assert pool.render("*two*", "text/markdown") == "<p><em>two</em></p>\n"

    # A helper killed in the middle of a render (as the memory limit or a crash would).
    original = pool._acquire

    def kill_soon() -> _Worker:
        worker = original()
        threading.Timer(0.3, worker.process.kill).start()
        return worker

    pool._acquire = kill_soon  # type: ignore[method-assign]
    rendered = pool.render(SLOW_RST, "text/x-rst")
    pool._acquire = original  # type: ignore[method-assign]
    assert rendered.startswith(NOTE[:-2]), rendered[:200]
    assert ": the formatter stopped while formatting it.</p>" in rendered[:200], rendered[:200]
    assert pool.render("*three*", "text/markdown") == "<p><em>three</em></p>\n"


def test_a_slow_render_does_not_hold_up_another(pool: DescriptionPool) -> None:
    pool.render("*warm*", "text/markdown")
    slow = threading.Thread(target=pool.render, args=(SLOW_RST, "text/x-rst"))
    slow.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert pool.render("*fast*", "text/markdown") == "<p><em>fast</em></p>\n"
        # A second helper starts (a fraction of a second) while the first is busy.
        assert time.monotonic() - started < 5
        assert slow.is_alive()
    finally:
        slow.join()


def test_results_are_kept_by_content(pool: DescriptionPool) -> None:
    first = pool.render(SLOW_RST, "text/x-rst")
    started = time.monotonic()
    assert pool.render(SLOW_RST, "text/x-rst") == first
    assert time.monotonic() - started < 0.5
    # Another content type is another description.
    assert pool.render(SLOW_RST[:100], "text/plain") != pool.render(SLOW_RST[:100], "text/x-rst")


def test_the_cache_is_bounded() -> None:
    small = DescriptionPool(max_cached=3, max_cached_bytes=10_000)
    try:
        for n in range(10):
            small.render(f"*{n}*", "text/markdown")
        assert len(small._cache) == 3
        small.render("x" * 20_000, "text/plain")
        assert small._cached_bytes <= 10_000
    finally:
        small.close()


def test_no_more_helpers_than_the_bound() -> None:
    two = DescriptionPool(deadline=30.0, max_workers=2)
    try:
        threads = [threading.Thread(target=two.render, args=(SLOW_RST + str(n), "text/x-rst"))
                   for n in range(4)]
        for thread in threads:
            thread.start()
        peak = 0
        while any(t.is_alive() for t in threads):
            with two._lock:
                peak = max(peak, two._running)
            time.sleep(0.01)
        for thread in threads:
            thread.join()
        assert peak == 2
        assert len(two._idle) <= 2
    finally:
        two.close()


def test_a_helper_has_a_memory_limit(pool: DescriptionPool) -> None:
    pool.render("*warm*", "text/markdown")
    (worker,) = pool._idle
    limits = Path(f"/proc/{worker.process.pid}/limits").read_text()
    line = next(row for row in limits.splitlines() if row.startswith("Max address space"))
    assert line.split()[3] == str(WORKER_MEMORY), line


def test_a_helper_that_never_starts_gives_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("generator.output.descriptions._WORKER", "import time; time.sleep(30)")
    monkeypatch.setattr("generator.output.descriptions.STARTUP_TIMEOUT", 0.5)
    stuck = DescriptionPool()
    try:
        rendered = stuck.render("*x*", "text/markdown")
        assert rendered.startswith(NOTE + "the formatter is not available"), rendered
        assert stuck._running == 0
    finally:
        stuck.close()
