"""``make venv`` and ``make run`` as a new user meets them (issue #24, items 6 and 9).

- ``make venv`` says one line while it installs (pip's output goes to
  ``VENV/install.log``) and, when pip fails, shows that log and says where it is;
- every command ``make run`` prints works as printed, from the repository's root
  (where ``make run`` was started): the token command, ``make token``, the CLI line.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import LOOPBACK, free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


# What a make running this suite (``make test``) passes to its children: a make started
# with it prints "make[1]: Entering directory …" around its output, which a user's shell
# never sees.
MAKE_VARIABLES = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")


def shell_environment() -> dict[str, str]:
    """The environment of a user's shell: no make of ours around it, no installation or
    virtualenv of the suite's chosen."""
    return {k: v for k, v in os.environ.items()
            if k not in MAKE_VARIABLES and not k.startswith(("TIMESHELF", "VIRTUAL_ENV"))}


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**shell_environment(), **(env or {})},
                          timeout=900, check=False)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv made by ``make venv`` itself (its output checked)."""
    venv = tmp_path_factory.mktemp("make") / "venv"
    done = make("venv", f"VENV={venv}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (done.stdout + done.stderr).splitlines() == [
        f"installing the Python dependencies into {venv} (log: {venv}/install.log)"
    ]
    assert "Successfully installed" in (venv / "install.log").read_text()
    again = make("venv", f"VENV={venv}")
    assert (again.returncode, again.stdout + again.stderr) == (0, "")
    return venv


def test_make_venv_shows_the_log_when_pip_fails(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    dead = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": f"http://{LOOPBACK}:1/simple/",
            "PIP_RETRIES": "0", "PIP_TIMEOUT": "1", "PIP_FIND_LINKS": ""}
    done = make("venv", f"VENV={venv}", env=dead)
    assert done.returncode != 0
    assert done.stdout.splitlines()[0].startswith("installing the Python dependencies")
    log = (venv / "install.log").read_text()
    assert log.strip()
    assert log.strip() in done.stderr
    assert (f"installing into {venv} failed: the log above is in {venv}/install.log"
            in done.stderr.splitlines())
    assert not (venv / ".installed-stamp").exists()


class Running:
    """``make run`` in the background, its output read as it comes."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env=shell_environment())
        self.text = ""

    def read_until(self, pattern: str, timeout: float = 120) -> str:
        """The output so far, once it matches ``pattern`` (read unbuffered: a buffered
        reader would hold lines the selector no longer reports)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text, re.MULTILINE):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"no {pattern!r} in the output of make run:\n{self.text}")
            if selector.select(timeout=1):
                self.text += os.read(fd, 65536).decode()
        return self.text

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def make_run(fresh_venv: Path, tmp_path: Path) -> Iterator[tuple[Running, Path]]:
    run_dir = tmp_path / "run"
    running = Running(["make", "--no-print-directory", "run", f"VENV={fresh_venv}",
                       f"RUN_DIR={run_dir}", f"LISTEN={LOOPBACK}:{free_port()}"])
    try:
        yield running, run_dir
    finally:
        running.stop()


def printed_command(text: str, pattern: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"no {pattern!r} in:\n{text}"
    return match[1]


def run_as_printed(command: str) -> subprocess.CompletedProcess[str]:
    """A printed command, typed into a shell at the repository's root."""
    return subprocess.run(["sh", "-c", command], cwd=ROOT, text=True, capture_output=True,
                          env=shell_environment(), timeout=120, check=False)


def test_every_command_make_run_prints_works_as_printed(
    make_run: tuple[Running, Path], fresh_venv: Path
) -> None:
    running, run_dir = make_run
    text = running.read_until(r"uv publish --publish-url \S+.*\n")
    cli = printed_command(text, r"its commands run as e\.g\. (.+)$")
    token_cmd = printed_command(text, r"\(token: (.+)\):$")
    make_token = printed_command(text, r"an upload token: (make token .+?) \(or the command")
    assert cli == f"{fresh_venv}/bin/timeshelf --config {run_dir}/timeshelf.toml list repos"
    assert token_cmd.startswith(f"{fresh_venv}/bin/timeshelf --config {run_dir}/timeshelf.toml ")
    listed = run_as_printed(cli)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["NAME\tSOURCES\tDESCRIPTION", "python\tlocal\tPackages uploaded here"]
    for command in (token_cmd, make_token):
        made = run_as_printed(command)
        assert made.returncode == 0, (command, made.stderr)
        assert re.fullmatch(r"tsh_eyJ[\w.-]+\n", made.stdout), made
    assert "make run" not in shlex.split(make_token)
