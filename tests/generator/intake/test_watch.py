"""The watch folder, driven for real: a Watcher thread on a real inbox and installation."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from generator.cli.main import main
from generator.config.settings import write_initial_files
from generator.errors import NotFound, StoreError
from generator.installation import Installation
from generator.intake.watch import REJECTED, Outcome, Watcher, check_inbox
from generator.records import Source
from tests.factory import SIGNATURE, WheelSpec, build_sdist, build_wheel
from tests.servers import timeshelf_command


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[Installation]:
    config = write_initial_files(tmp_path / "inst")
    installation = Installation.from_config_file(config)
    now = installation.now()
    installation.catalog.create_source("local", "local-python", now)
    installation.catalog.create_repo("python", now)
    installation.catalog.subscribe("python", "local", now)
    yield installation
    installation.close()


def watcher_of(
    inst: Installation, inbox: Path, source: Source, *, settle: float,
    report: Callable[[Outcome], None] | None = None,
) -> Watcher:
    """A watcher wired to ``inst`` as ``timeshelf watch`` wires it."""
    return Watcher(
        inst.catalog, inst.store, inbox, source, clock=inst.clock,
        regenerate=lambda: inst.generate(inst.repos_using([source.name])),
        settle=settle, report=report,
    )


@pytest.fixture
def running(inst: Installation, tmp_path: Path) -> Iterator[tuple[Path, list[Outcome]]]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outcomes: list[Outcome] = []
    watcher = watcher_of(
        inst, inbox, inst.catalog.get_source("local"), settle=0.3, report=outcomes.append
    )
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    time.sleep(0.3)
    yield inbox, outcomes
    watcher.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def page(inst: Installation, project: str) -> Path:
    return inst.config.output_path / "python" / "latest" / "simple" / project / "index.html"


def test_dropped_wheel_is_ingested_and_listed(
    inst: Installation, running: tuple[Path, list[Outcome]], tmp_path: Path
) -> None:
    inbox, outcomes = running
    wheel = build_wheel(tmp_path / "d", WheelSpec("dropped", "1.0"))
    (inbox / wheel.name).write_bytes(wheel.read_bytes())
    wait_for(lambda: page(inst, "dropped").exists())
    assert wheel.name in page(inst, "dropped").read_text()
    assert not (inbox / wheel.name).exists()
    assert [o.accepted for o in outcomes] == [True]


def test_slow_writer_is_not_taken_half_written(
    inst: Installation, running: tuple[Path, list[Outcome]], tmp_path: Path
) -> None:
    inbox, outcomes = running
    data = build_sdist(tmp_path / "d", "slowpoke", "2.0").read_bytes()
    with (inbox / "slowpoke-2.0.tar.gz").open("wb") as handle:
        for start in range(0, len(data), 64):
            handle.write(data[start : start + 64])
            handle.flush()
            time.sleep(0.01)
    wait_for(lambda: page(inst, "slowpoke").exists())
    assert outcomes, "nothing was taken"
    assert all(o.accepted for o in outcomes), outcomes


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("junk.whl", b"not a zip", "Invalid wheel filename"),
        ("notes.txt", b"hello", "not a distribution"),
        ("fake-1.0-py3-none-any.whl", b"PK\x03\x04 broken", "not a zip file"),
    ],
    ids=["bad-wheel-name", "not-a-distribution", "corrupt-zip"],
)
def test_refused_files_move_to_rejected_with_reason(
    running: tuple[Path, list[Outcome]], name: str, content: bytes, message: str
) -> None:
    inbox, outcomes = running
    (inbox / name).write_bytes(content)
    error = inbox / REJECTED / f"{name}.error"
    wait_for(error.exists)
    assert message in error.read_text()
    assert (inbox / REJECTED / name).read_bytes() == content
    assert not (inbox / name).exists()
    assert [o.accepted for o in outcomes] == [False]


def test_symlink_is_refused(running: tuple[Path, list[Outcome]], tmp_path: Path) -> None:
    inbox, _ = running
    secret = tmp_path / "secret.whl"
    secret.write_bytes(b"private")
    (inbox / "link-1.0-py3-none-any.whl").symlink_to(secret)
    error = inbox / REJECTED / "link-1.0-py3-none-any.whl.error"
    wait_for(error.exists)
    assert "symbolic links are not accepted" in error.read_text()
    assert secret.read_bytes() == b"private"


def test_signature_arriving_after_its_file_is_attached(
    inst: Installation, running: tuple[Path, list[Outcome]], tmp_path: Path
) -> None:
    inbox, _ = running
    wheel = build_wheel(tmp_path / "d", WheelSpec("signedlater", "1.0"))
    (inbox / wheel.name).write_bytes(wheel.read_bytes())
    wait_for(lambda: page(inst, "signedlater").exists())
    (inbox / f"{wheel.name}.asc").write_bytes(SIGNATURE)
    wait_for(lambda: 'data-gpg-sig="true"' in page(inst, "signedlater").read_text())


def test_files_present_at_startup_are_taken(inst: Installation, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    wheel = build_wheel(inbox, WheelSpec("early", "1.0"))
    old = time.time() - 60
    import os

    os.utime(wheel, (old, old))
    watcher = watcher_of(inst, inbox, inst.catalog.get_source("local"), settle=0.2)
    outcomes = watcher.process(watcher.scan(), wait_settled=True)
    assert [o.message for o in outcomes] == [f"added: {wheel.name}"]
    assert page(inst, "early").exists()


# -- the folder itself, and the command ------------------------------------------------------


def test_a_missing_inbox_is_refused_unless_created(tmp_path: Path) -> None:
    missing = tmp_path / "nosuchdir" / "inbox"
    with pytest.raises(NotFound, match=r"no folder '.*nosuchdir/inbox' to watch: create it "
                                       r"first, or pass --create to have watch create it"):
        check_inbox(missing)
    assert not (tmp_path / "nosuchdir").exists()
    assert check_inbox(missing, create=True) is True
    assert missing.is_dir()
    assert check_inbox(missing) is False
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(StoreError, match="it is not a directory"):
        check_inbox(afile, create=True)


def test_a_watcher_of_a_missing_inbox_does_not_create_it(inst: Installation, tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    watcher = watcher_of(inst, missing, inst.catalog.get_source("local"), settle=0.1)
    with pytest.raises(NotFound, match="no folder"):
        watcher.run()
    assert not missing.exists()


def test_the_watch_command_refuses_a_missing_folder(
    inst: Installation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nosuchdir"
    code = main(["--config", str(inst.config.file), "watch", str(missing), "--source", "local"])
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: no folder {str(missing)!r} to watch: create it first, or pass --create to "
        "have watch create it"
    ]
    assert not missing.exists()


class _Lines:
    """The lines a process writes to ``stream``, read by a thread as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._stream = stream
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def close(self) -> None:
        """Once the writer has exited: the rest of its lines, and the stream closed."""
        self._thread.join(timeout=10)
        self._stream.close()
        while not self._queue.empty():
            self.seen.append(self._queue.get())

    def read_until(self, wanted: str, timeout: float = 30.0) -> None:
        """Collect lines into ``seen`` until one starts with ``wanted``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if line.startswith(wanted):
                return
        raise AssertionError(f"no line starting {wanted!r} in {self.seen}")


def test_the_watch_command_reports_each_batch_it_generates(
    inst: Installation, tmp_path: Path
) -> None:
    """``watch --create`` says it made the folder; after a batch, the generation summary."""
    inbox = tmp_path / "new" / "inbox"
    process = subprocess.Popen(
        timeshelf_command("--config", str(inst.config.file), "watch", str(inbox), "--source",
                          "local", "--create", "--settle", "0.2"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    assert process.stderr is not None
    lines = _Lines(process.stderr)
    seen = lines.seen
    try:
        lines.read_until("watching")
        assert seen == [f"created {inbox.resolve()}",
                        f"watching {inbox.resolve()} for source 'local' (Ctrl-C to stop)"]
        for name, version in (("batched", "1.0"), ("batched", "2.0")):
            wheel = build_wheel(tmp_path / "d" / version, WheelSpec(name, version))
            part = inbox / f"{wheel.name}.part"
            part.write_bytes(wheel.read_bytes())
            part.rename(inbox / wheel.name)
            lines.read_until("python: ")
        (inbox / "notes.txt").write_text("not a distribution")
        lines.read_until("refused: ")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        lines.close()
    summaries = [line for line in seen if line.startswith("python: ")]
    assert len(summaries) == 2, seen
    assert all(re.fullmatch(r"python: (full|incremental) generation, 1 project\(s\) rendered, "
                            r"\d+ page\(s\) written, 0 removed \(serial \d+\)", s)
               for s in summaries), summaries
    assert seen[2] == "added: batched-1.0-py3-none-any.whl"
    assert seen[-1].startswith("refused: notes.txt: not a distribution")
