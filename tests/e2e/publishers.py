"""Real publishing clients for the end-to-end upload tests, isolated from this machine.

- ``client_env``: the environment every client runs in. Every ``PIP_*``, ``UV_*``,
  ``TWINE_*`` (and poetry, pdm, flit, hatch) variable of the machine is dropped, pip
  reads no configuration file (``PIP_CONFIG_FILE=/dev/null``), nothing is cached,
  keyring is the null backend (no prompts, no stored secrets), HOME and the XDG
  directories are private. Nothing in it can send a client to the internet.
- ``install_publish_tools``: a virtual environment with poetry, pdm, flit and hatch at pinned
  versions, installed from the package registry once (setup, not a test) and kept in the
  temporary directory across runs, so only the first run pays for it.
- ``throwaway_gnupg``: a throwaway GnuPG home with one passphrase-less signing key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import client_env as installer_env

PYTHON = Path(sys.executable)
BIN = PYTHON.parent
# Pinned so that a run today and a run next year talk to the sidecar alike.
# pdm[locked]: pdm pins its own dependencies (hishel 2 breaks pdm 2.29).
TOOLS = ("poetry==2.5.1", "pdm[locked]==2.29.3", "flit==4.2.0", "hatch==1.18.2")
GPG = shutil.which("gpg") or "/usr/bin/gpg"
_DROPPED_PREFIXES = (
    "PIP_", "UV_", "TWINE_", "POETRY_", "PDM_", "FLIT_", "HATCH_", "TIMESHELF_", "GNUPG",
    "PYTHON_KEYRING", "KEYRING_", "VIRTUAL_ENV", "CONDA_", "REQUESTS_CA", "SSL_CERT",
)


def client_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for pip, uv, twine, poetry, pdm, flit and hatch (see the module doc)."""
    home.mkdir(parents=True, exist_ok=True)
    cache = home / ".cache"
    env = installer_env(home, drop=_DROPPED_PREFIXES)
    env.update(
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        UV_KEYRING_PROVIDER="disabled",
        POETRY_CONFIG_DIR=str(home / "poetry-config"),
        POETRY_CACHE_DIR=str(cache / "poetry"),
        POETRY_DATA_DIR=str(home / "poetry-data"),
        POETRY_KEYRING_ENABLED="false",
        POETRY_NO_INTERACTION="1",
        PDM_HOME=str(home / "pdm"),
        PDM_CACHE_DIR=str(cache / "pdm"),
        PDM_CONFIG_FILE=str(home / "pdm" / "config.toml"),
        PDM_CHECK_UPDATE="false",
        PDM_NON_INTERACTIVE="1",
        # Publishing needs no project environment: do not create a venv on each run.
        PDM_USE_VENV="false",
        HATCH_DATA_DIR=str(home / "hatch" / "data"),
        HATCH_CACHE_DIR=str(cache / "hatch"),
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS="200",
    )
    env.update(extra or {})
    return env


def run(args: Sequence[str | Path], env: Mapping[str, str], *, cwd: Path | None = None,
        check: bool = True, timeout: float = 180,
        secrets: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run a client without a terminal or input; fail with its whole output when ``check``.

    ``secrets`` (tokens on the command line) are masked in that failure message.
    """
    done = subprocess.run(
        [str(a) for a in args], env=dict(env), cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False, stdin=subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        message = (
            f"{' '.join(map(str, args))} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
        for secret in secrets:
            message = message.replace(secret, "<secret>")
        pytest.fail(message)
    return done


@dataclass(frozen=True, slots=True)
class Tools:
    """The publishing tools' executables."""

    bin: Path

    def __getitem__(self, name: str) -> Path:
        return self.bin / name


def _tools_dir() -> Path:
    digest = hashlib.sha256(" ".join(TOOLS).encode()).hexdigest()[:12]
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    return Path(tempfile.gettempdir()) / f"timeshelf-publish-tools-py{version}-{digest}"


def install_publish_tools() -> Tools:
    """The cached tools venv, created (with the machine's own pip setup) when missing."""
    venv = _tools_dir()
    marker = venv / ".complete"
    tools = Tools(venv / "bin")
    if marker.is_file() and all(tools[n].exists() for n in ("poetry", "pdm", "flit", "hatch")):
        return tools
    shutil.rmtree(venv, ignore_errors=True)
    steps: list[list[str]] = [
        [str(PYTHON), "-m", "venv", str(venv)],
        [str(tools["python"]), "-m", "pip", "install", "--disable-pip-version-check",
         "--quiet", *TOOLS],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"installing the publishing tools timed out: {' '.join(step)}")
        if done.returncode != 0:
            pytest.fail(
                f"could not install the publishing tools ({', '.join(TOOLS)}) from the package "
                f"registry into {venv}; the end-to-end publish tests need them.\n"
                f"{' '.join(step)} exited {done.returncode}:\n{done.stderr[-4000:]}"
            )
    marker.write_text("\n".join(TOOLS) + "\n", encoding="utf-8")
    return tools


@dataclass(frozen=True, slots=True)
class GnuPG:
    """A private GnuPG home with one signing key (no passphrase)."""

    home: Path
    fingerprint: str

    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home)}

    def sign(self, path: Path) -> Path:
        """Write ``PATH.asc``, an armored detached signature, and return it."""
        run([GPG, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "",
             "--local-user", self.fingerprint, "--detach-sign", "--armor", path],
            env={**os.environ, **self.env()})
        return path.with_name(path.name + ".asc")

    def verify(self, signature: Path, path: Path) -> bool:
        done = run([GPG, "--batch", "--verify", signature, path],
                   env={**os.environ, **self.env()}, check=False)
        return done.returncode == 0


@contextlib.contextmanager
def throwaway_gnupg() -> Iterator[GnuPG]:
    """A fresh GnuPG home with a new key; its agent is stopped and the home removed after."""
    if not Path(GPG).exists():
        pytest.fail("gpg is not installed: apt-get install gnupg")
    # Short: gpg-agent's socket path must fit in a sockaddr_un.
    home = Path(tempfile.mkdtemp(prefix="tsh-gpg-"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    try:
        run([GPG, "--batch", "--passphrase", "", "--quick-gen-key",
             "timeshelf tests <tests@timeshelf.invalid>", "ed25519", "sign", "1d"], env=env)
        listing = run([GPG, "--batch", "--with-colons", "--list-secret-keys"], env=env).stdout
        fingerprint = next(
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
        )
        yield GnuPG(home=home, fingerprint=fingerprint)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)
