"""The progress of long commands (``generator.cli.progress``): the reporter itself with a
fake clock, then the real ``timeshelf sync`` and ``timeshelf generate --full`` as
subprocesses, on a pseudo-terminal (a bar redrawn in place) and in a pipe (plain lines)."""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.cli.progress import ProgressReporter, describe, format_duration
from generator.installation import Installation
from tests.conftest import CliRunner, Dists
from tests.generator.cli.terminal import run_in_pty
from tests.generator.mirror.test_sync import OLD, configure
from tests.servers import timeshelf_command
from tests.upstream import FakeUpstream, serve_slow_upstream

PROJECTS = 30


class Ticks:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.4, "0s"), (42, "42s"), (59.6, "1m00s"), (307, "5m07s"), (3600, "1h00m"),
    (7380, "2h03m"), (-5, "0s"),
], ids=["zero", "rounds-down", "seconds", "rounds-up-to-minute", "minutes", "hour",
        "hours", "negative"])
def test_durations_read_as_people_read_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("done", "total", "elapsed", "expected"), [
    (0, 40, 0.0, ("0/40 projects", "")),
    (12, 40, 4.0, ("12/40 projects", "3.0/s, ETA 9s")),
    (40, 40, 8.0, ("40/40 projects", "5.0/s")),
    (1500, 4000, 1.0, ("1,500/4,000 projects", "1,500/s, ETA 2s")),
    (7, None, 2.0, ("7 projects", "3.5/s")),
], ids=["nothing-yet", "midway", "finished", "thousands", "no-total"])
def test_counts_rate_and_eta(done: int, total: int | None, elapsed: float,
                             expected: tuple[str, str]) -> None:
    assert describe(done, total, "projects", elapsed) == expected


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    ticks, stream = Ticks(), FakeTerminal(tty=True)
    with ProgressReporter("syncing pypi", "projects", stream=stream, clock=ticks) as bar:
        bar.start(40)
        for _ in range(10):
            ticks.now += 0.5
            bar.advance()
    drawn = stream.getvalue()
    assert "\n" not in drawn[:-1], "a terminal line is redrawn, never scrolled"
    assert drawn.endswith("\n")
    frames = [f.removesuffix("\x1b[K") for f in drawn.rstrip("\n").split("\r") if f]
    assert frames[0] == "syncing pypi [------------------------] 0/40 projects"
    assert frames[5] == "syncing pypi [###---------------------] 5/40 projects  2.0/s  ETA 18s"
    assert frames[-1] == "syncing pypi [######------------------] 10/40 projects  2.0/s  ETA 15s"


def test_a_terminal_says_what_it_waits_for_until_the_total_is_known() -> None:
    stream = FakeTerminal(tty=True)
    with ProgressReporter("syncing pypi", "projects", stream=stream, clock=Ticks(),
                          waiting="reading the upstream's listing...") as bar:
        assert stream.getvalue() == "\rsyncing pypi: reading the upstream's listing...\x1b[K"
        bar.start(2)
    assert stream.getvalue().split("\r")[2] == "syncing pypi [------------------------] 0/2 projects\x1b[K"

    unchanged = FakeTerminal(tty=True)
    with ProgressReporter("syncing pypi", "projects", stream=unchanged, clock=Ticks(),
                          waiting="reading..."):
        pass
    assert unchanged.getvalue().endswith("\r\x1b[K"), "the line is erased when no total came"

    log = FakeTerminal(tty=False)
    with ProgressReporter("syncing pypi", "projects", stream=log, waiting="reading..."):
        pass
    assert log.getvalue() == ""


def test_a_terminal_is_redrawn_at_most_ten_times_a_second() -> None:
    ticks, stream = Ticks(), FakeTerminal(tty=True)
    bar = ProgressReporter("rendering", "projects", stream=stream, clock=ticks)
    bar.start(10_000)
    for _ in range(10_000):
        ticks.now += 0.001
        bar.advance()
    bar.close()
    # 10 s of work: the first frame, ~100 redraws and the final one.
    assert 90 <= stream.getvalue().count("\r") <= 103


def test_a_log_gets_a_plain_line_every_interval_and_a_closing_one() -> None:
    ticks, stream = Ticks(), FakeTerminal(tty=False)
    with ProgressReporter("syncing pypi", "projects", stream=stream, clock=ticks,
                          interval=5.0) as log:
        log.start(40)
        for _ in range(40):
            ticks.now += 0.5
            log.advance()
    assert stream.getvalue().splitlines() == [
        "syncing pypi: 10/40 projects (25%), 2.0/s, ETA 15s",
        "syncing pypi: 20/40 projects (50%), 2.0/s, ETA 10s",
        "syncing pypi: 30/40 projects (75%), 2.0/s, ETA 5s",
        "syncing pypi: 40/40 projects (100%), 2.0/s",
        "syncing pypi: 40/40 projects (100%), 2.0/s",
    ]


def test_short_work_in_a_log_prints_nothing() -> None:
    ticks, stream = Ticks(), FakeTerminal(tty=False)
    with ProgressReporter("syncing pypi", "projects", stream=stream, clock=ticks,
                          interval=5.0) as log:
        log.start(3)
        for _ in range(3):
            ticks.now += 0.1
            log.advance()
    assert stream.getvalue() == ""


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMESHELF_PROGRESS_SECONDS", "0.5")
    assert ProgressReporter("x", "y", stream=FakeTerminal(False)).interval == 0.5
    monkeypatch.setenv("TIMESHELF_PROGRESS_SECONDS", "soon")
    assert ProgressReporter("x", "y", stream=FakeTerminal(False)).interval == 5.0


# -- the real commands -------------------------------------------------------------------


@pytest.fixture
def slow_upstream(dists: Dists) -> Iterator[FakeUpstream]:
    """``PROJECTS`` projects whose files take 40 ms each to download."""
    wheels = (dists.wheel(f"proj-{p:02d}", "1.0") for p in range(PROJECTS))
    with serve_slow_upstream(wheels, uploaded=OLD, file_delay=0.04) as served:
        yield served


@pytest.fixture
def mirrored(installation: Installation, cli: CliRunner, slow_upstream: FakeUpstream) -> Path:
    """A prefetching source ``pypi`` of ``slow_upstream`` with one worker (a sync of
    about 1.5 s), subscribed by ``python``; the configuration's path."""
    configure(installation, '\n[sources.pypi]\nfile_mode = "prefetch"\n')
    path = installation.config.file
    path.write_text(path.read_text().replace("workers = 4", "workers = 1"))
    assert cli("create", "source", "--name", "pypi", "--type", "pypi", "--upstream",
               slow_upstream.index_url).code == 0
    assert cli("subscribe", "--repo", "python", "--source", "pypi").code == 0
    return path


def frames(output: str, label: str) -> list[str]:
    """The states of the bar named ``label`` as drawn on a terminal."""
    return [f.removesuffix("\x1b[K") for f in re.split(r"\r\n|\r", output)
            if f.startswith(label + " [")]


def test_sync_on_a_terminal_draws_a_bar_with_counts_rate_and_eta(mirrored: Path) -> None:
    code, output = run_in_pty(timeshelf_command("--config", str(mirrored), "sync"),
                              env=dict(os.environ))
    assert code == 0, output
    drawn = frames(output, "syncing pypi")
    assert len(drawn) >= 5, output
    bar = re.compile(r"syncing pypi \[[#-]{24}\] (\d+)/30 projects(  [\d.]+/s(  ETA \d+s)?)?")
    assert all(bar.fullmatch(f) for f in drawn), drawn
    counts = [int(m[1]) for f in drawn if (m := bar.fullmatch(f))]
    assert counts == sorted(counts)
    assert counts[0] == 0
    assert counts[-1] == PROJECTS
    assert any("ETA" in f for f in drawn), drawn
    assert drawn[-1].startswith("syncing pypi [########################] 30/30 projects  ")
    # The summary starts on a line of its own, after the bar.
    assert "\x1b[K\r\npypi: 30 listed, 30 checked" in output


def test_sync_in_a_pipe_prints_plain_periodic_lines(mirrored: Path) -> None:
    done = subprocess.run(
        timeshelf_command("--config", str(mirrored), "sync"), capture_output=True, text=True,
        timeout=120, env={**os.environ, "TIMESHELF_PROGRESS_SECONDS": "0.2"},
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    assert "\x1b" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("syncing pypi:")]
    line = re.compile(r"syncing pypi: (\d+)/30 projects \((\d+)%\), [\d.]+/s(, ETA \d+s)?")
    assert len(lines) >= 3, done.stderr
    assert all(line.fullmatch(text) for text in lines), lines
    assert any("ETA" in text for text in lines), lines
    assert lines[-1].startswith("syncing pypi: 30/30 projects (100%), ")


def test_a_full_generate_shows_its_progress_on_a_terminal_and_in_a_pipe(
    installation: Installation, cli: CliRunner, dists: Dists,
) -> None:
    wheels = [dists.wheel(f"local-{p:02d}", "1.0") for p in range(PROJECTS)]
    assert cli("add", "--source", "local", *wheels).code == 0
    argv = timeshelf_command("--config", str(installation.config.file), "generate", "--full")

    code, output = run_in_pty(argv, env=dict(os.environ))
    assert code == 0, output
    drawn = frames(output, "rendering")
    assert drawn[0] == "rendering [------------------------] 0/30 projects", output
    assert re.fullmatch(r"rendering \[#{24}\] 30/30 projects  [\d,.]+/s", drawn[-1]), drawn
    assert "python: full generation, 30 project(s) rendered" in output

    piped = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "TIMESHELF_PROGRESS_SECONDS": "0.000001"})
    assert piped.returncode == 0, piped.stderr
    lines = [line for line in piped.stderr.splitlines() if line.startswith("rendering: ")]
    assert lines, piped.stderr
    assert all(re.fullmatch(r"rendering: \d+/30 projects \(\d+%\), [\d,.]+/s(, ETA \d+s)?", x)
               for x in lines), lines
    assert lines[-1].startswith("rendering: 30/30 projects (100%)")
    assert "\r" not in piped.stderr
