"""Shared fixtures: a real installation made by ``timeshelf init``, a clock the test moves,
real wheels and sdists, and the CLI run in-process.

The clock is injected (``Installation(config, clock=...)``) and mirrored into
``TIMESHELF_NOW``, so the library and CLI invocations in one test agree on the time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from generator.cli.main import main
from generator.clock import ENV_NOW, format_timestamp
from generator.config.settings import ENV_CONFIG, load_config
from generator.installation import Installation
from tests.factory import WheelSpec, build_sdist, build_wheel
from tests.pgserver import PostgresCluster, run_postgres
from tests.s3server import CREDENTIALS, S3Server, run_moto

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told; it keeps ``TIMESHELF_NOW`` in step."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime = START) -> None:
        self._monkeypatch = monkeypatch
        self.now = start
        self.set(start)

    def __call__(self) -> datetime:
        return self.now

    def set(self, value: datetime) -> datetime:
        self.now = value
        self._monkeypatch.setenv(ENV_NOW, format_timestamp(value))
        return value

    def advance(self, **delta: float) -> datetime:
        return self.set(self.now + timedelta(**delta))


@dataclass(frozen=True, slots=True)
class CliResult:
    """Exit code and captured output of one in-process ``timeshelf`` run."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


class CliRunner:
    """Runs ``generator.cli.main.main`` in-process, capturing its output with ``capsys``."""

    def __init__(self, capsys: pytest.CaptureFixture[str], prefix: Sequence[str] = ()) -> None:
        self._capsys = capsys
        self._prefix = list(prefix)

    def __call__(self, *args: str | Path) -> CliResult:
        self._capsys.readouterr()
        code = main([*self._prefix, *(str(a) for a in args)])
        captured = self._capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)


class Dists:
    """Builds real wheels and sdists below one directory of ``tmp_path``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._count = 0

    def fresh_dir(self) -> Path:
        """A new, empty directory (for files that must share a name with another)."""
        self._count += 1
        path = self.directory / f"d{self._count}"
        path.mkdir(parents=True)
        return path

    def wheel(self, name: str, version: str, *, directory: Path | None = None,
              **spec: Any) -> Path:
        return build_wheel(directory or self.directory, WheelSpec(name, version, **spec))

    def sdist(self, name: str, version: str, *, directory: Path | None = None,
              **options: Any) -> Path:
        return build_sdist(directory or self.directory, name, version, **options)


@dataclass(frozen=True, slots=True)
class Footprint:
    """Everything an ``add`` can leave behind: blobs, catalog rows and events."""

    blobs: frozenset[str]
    files: int
    projects: int
    events: int


def footprint_of(inst: Installation) -> Footprint:
    store = inst.config.store_path
    blobs = frozenset(
        str(p.relative_to(store)) for p in store.rglob("*") if p.is_file()
    ) if store.exists() else frozenset()
    with sqlite3.connect(inst.config.catalog_path) as db:
        files = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        projects = db.execute("SELECT COUNT(*) FROM projects").fetchone()[0]
        events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    db.close()
    return Footprint(blobs=blobs, files=files, projects=projects, events=events)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return FakeClock(monkeypatch)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """The CLI without a ``--config`` option."""
    return CliRunner(capsys)


@pytest.fixture
def installation(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, run: CliRunner
) -> Iterator[Installation]:
    """A fresh installation made by ``timeshelf init`` (source "local", repository "python")."""
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    directory = tmp_path / "inst"
    result = run("init", directory)
    assert result.code == 0, result.err
    inst = Installation(load_config(directory / "timeshelf.toml"), clock=clock)
    yield inst
    inst.close()


@pytest.fixture
def cli(installation: Installation, capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """The CLI with ``--config`` pointing at the ``installation``."""
    return CliRunner(capsys, ["--config", str(installation.config.file)])


@pytest.fixture
def dists(tmp_path: Path) -> Dists:
    return Dists(tmp_path / "dists")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster for the whole session (started on first use)."""
    with run_postgres() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a fresh catalog goes, on each engine: a SQLite path or a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "catalog.sqlite3"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 for the whole session, with dummy credentials in the
    environment (so subprocesses and boto3 clients of the tests use them)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        with run_moto() as server:
            yield server
