"""The installers environments are built with: pip and uv, behind one ``Installer``.

Everything that differs between the two lives here: how a virtualenv is created, how
requirements are installed into it, how its lockfile is frozen, and which version of the
installer a build uses (it is part of the environment's cache key). Which installer a
bundle gets is decided once, by ``choose_installer``, from ``[python] installer``, the
manifest's ``python.package_manager.allow_uv`` and whether uv is installed; the rest of
the builder only calls the ``Installer`` it is given.

Both run with ``installer_env``: none of the server's ``PIP_*``/``UV_*`` settings, and
download caches of their own beside the environments.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from uploader.deploy.errors import BuildError, PythonError
from uploader.deploy.pythons import PythonInstall

Log = Callable[[str], None]


class Installer(Protocol):
    """An installer of one version: the commands that build an environment with it."""

    @property
    def name(self) -> str:
        """``pip`` or ``uv``, as ``meta.json`` and the cache key record it."""
        ...

    @property
    def version(self) -> str:
        """The version that installs (part of the cache key)."""
        ...

    def venv_command(self, python: str, venv: Path) -> list[str]:
        """The command creating the virtualenv ``venv`` for the interpreter ``python``."""
        ...

    def install_command(
        self, python: Path, *, index_url: str, requirements: Path, constraints: Path,
        env: dict[str, str],
    ) -> list[str]:
        """The command installing ``requirements`` (under ``constraints``) from ``index_url``
        into the environment whose interpreter is ``python``."""
        ...

    def freeze_command(self, python: Path) -> list[str]:
        """The command printing the environment's lockfile (``name==version`` lines)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Pip:
    """pip: ``python -m venv`` (which brings ensurepip's pip, ``version``), then that pip."""

    name: ClassVar[str] = "pip"
    version: str

    def venv_command(self, python: str, venv: Path) -> list[str]:
        return [python, "-I", "-m", "venv", str(venv)]

    def install_command(
        self, python: Path, *, index_url: str, requirements: Path, constraints: Path,
        env: dict[str, str],
    ) -> list[str]:
        return [
            str(python), "-m", "pip", "install", "--isolated", "--index-url", index_url,
            "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
            "--timeout", "60", "--retries", "2", "--cache-dir", env["PIP_CACHE_DIR"],
            "-r", str(requirements), "-c", str(constraints),
        ]

    def freeze_command(self, python: Path) -> list[str]:
        return [str(python), "-m", "pip", "freeze", "--isolated", "--disable-pip-version-check"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Uv:
    """uv, the binary at ``binary``: ``uv venv``, ``uv pip install``, ``uv pip freeze``."""

    name: ClassVar[str] = "uv"
    binary: str
    version: str

    def venv_command(self, python: str, venv: Path) -> list[str]:
        return [self.binary, "venv", "--quiet", "--python", python, str(venv)]

    def install_command(
        self, python: Path, *, index_url: str, requirements: Path, constraints: Path,
        env: dict[str, str],
    ) -> list[str]:
        return [
            self.binary, "pip", "install", "--python", str(python), "--no-config",
            "--no-progress", "--index-url", index_url, "-r", str(requirements),
            "-c", str(constraints),
        ]

    def freeze_command(self, python: Path) -> list[str]:
        return [self.binary, "pip", "freeze", "--python", str(python)]


_UV_MISSING = "uv is not installed on the server: install it or use pip"


def choose_installer(
    configured: str, *, allow_uv: bool | None, python: PythonInstall, uv: str | None,
    log: Log,
) -> Installer:
    """The installer of one bundle: ``configured`` (``[python] installer``), unless the
    manifest's ``allow_uv`` says otherwise (true: uv when it is installed; false: pip).

    Raises ``BuildError`` when uv is chosen but not installed (``uv`` is its binary, or
    None), ``PythonError`` when pip is chosen but ``python`` cannot create environments.
    """
    installer = configured
    if allow_uv is True and installer == "pip" and uv is not None:
        installer = "uv"
        log("python.package_manager.allow_uv is true: installing with uv")
    elif allow_uv is False and installer == "uv":
        installer = "pip"
        log("python.package_manager.allow_uv is false: installing with pip")
    if installer == "uv":
        if uv is None:
            raise BuildError(_UV_MISSING)
        return Uv(binary=uv, version=uv_version(uv))
    if not python.venv or python.bundled_pip is None:
        raise PythonError(
            f"the Python {python.executable} ({python.version}) cannot create environments "
            "with pip (no venv/ensurepip): install them, or use [python] installer = 'uv'"
        )
    return Pip(version=python.bundled_pip)


def installer_problem(configured: str, uv: str | None) -> str | None:
    """The startup check's problem with ``[python] installer``, or None."""
    if configured == "uv" and uv is None:
        return "[python] installer = 'uv' but uv is not installed: install it or use pip"
    return None


@functools.cache
def uv_version(binary: str) -> str:
    """``uv --version`` of ``binary`` (asked once per binary)."""
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    words = done.stdout.split()
    return words[1] if len(words) > 1 else done.stdout.strip()


def find_uv() -> str | None:
    """The uv binary: on PATH, beside this interpreter, or from the ``uv`` package."""
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found:
        return found
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    with contextlib.suppress(FileNotFoundError):
        return str(find_uv_bin())
    return None


def installer_env(cache: Path) -> dict[str, str]:
    """The installer's environment: no PIP_*/UV_* settings of whoever runs the server, and
    download caches of our own beside the environments (uv links files from its cache, so
    it must be on the same file system)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_CACHE_DIR"] = str(cache / "pip")
    env["UV_CACHE_DIR"] = str(cache / "uv")
    env["UV_NO_CONFIG"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["PYTHONNOUSERSITE"] = "1"
    return env
