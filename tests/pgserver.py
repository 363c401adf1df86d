"""A private PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl start`` in a temporary
directory, reached through a unix socket in that directory (no TCP port is opened).

PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres``
user (else ``nobody``) and its commands run as that user; its directory is made outside
pytest's private (0700) temporary tree so that user can enter it. ``make test`` installs
Debian's ``postgresql`` when the binaries are missing, so these tests run on CI.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.servers import free_port


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries were found."""


def find_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are: ``$TIMESHELF_TEST_PG_BINDIR``, Debian's
    ``/usr/lib/postgresql/<newest>/bin``, else ``PATH``."""
    explicit = os.environ.get("TIMESHELF_TEST_PG_BINDIR")
    if explicit:
        return Path(explicit)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresMissing(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
        "(apt-get install postgresql) or set TIMESHELF_TEST_PG_BINDIR"
    )


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (else None)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresMissing("running as root and there is no 'postgres' or 'nobody' user")


@dataclass(slots=True)
class PostgresCluster:
    """A running cluster; ``create_database`` hands out fresh, empty databases."""

    directory: Path
    port: int
    user: str = "postgres"
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    def url(self, database: str) -> str:
        """A ``postgresql://`` URL of ``database`` (through the unix socket)."""
        return (f"postgresql://{self.user}@/{database}"
                f"?host={self.socket_dir}&port={self.port}")

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def connect(self, url: str) -> psycopg.Connection[Any]:
        return psycopg.connect(url, autocommit=True)


@contextlib.contextmanager
def run_postgres() -> Iterator[PostgresCluster]:
    """Start a private cluster (fsync off: tests need no durability); stop and delete it."""
    bindir = find_bindir()
    owner = _run_as()
    directory = Path(tempfile.mkdtemp(prefix="timeshelf-pg-"))
    data, sockets = directory / "data", directory / "socket"
    sockets.mkdir()
    kwargs: dict[str, Any] = {}
    if owner is not None:
        for path in (directory, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        kwargs = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [],
                  "cwd": directory}
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    port = free_port()
    log = directory / "server.log"

    def run(*argv: str | Path) -> None:
        done = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                              timeout=120, env=env, **kwargs)
        if done.returncode != 0:
            logged = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(map(str, argv))} failed:\n{done.stdout}\n{done.stderr}\n{logged}"
            )

    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-locale", "--no-sync")
        options = (f"-k {sockets} -p {port} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        run(bindir / "pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "-t", "60", "start")
        try:
            yield PostgresCluster(directory=directory, port=port)
        finally:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
