"""The watch folder, driven for real: a Watcher thread on a real inbox and installation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from generator.config.settings import write_initial_files
from generator.installation import Installation
from generator.intake.watch import REJECTED, Outcome, Watcher
from generator.records import Source
from tests.factory import SIGNATURE, WheelSpec, build_sdist, build_wheel


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
