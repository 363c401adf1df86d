"""The Python installations environments are built with.

``[python] executables`` lists interpreters; each is analysed once at startup (its full
version, whether pip and venv work, which configured external packages it has). A bundle
asks for a version (``python.version`` in its manifest) or a range
(``environment.python.requires``); the default match is the same major.minor with the
highest patch, or exactly the version when configured so.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from uploader.deploy.errors import PythonError

_PROBE = r"""
import importlib.metadata as m, importlib.util as u, json, platform, sys
externals = {}
for name in sys.argv[1:]:
    try:
        externals[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
print(json.dumps({
    "version": platform.python_version(),
    "pip": u.find_spec("pip") is not None and (m.version("pip") if u.find_spec("pip") else None),
    "venv": u.find_spec("venv") is not None and u.find_spec("ensurepip") is not None,
    "bundled_pip": __import__("ensurepip").version() if u.find_spec("ensurepip") else None,
    "externals": externals,
}))
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonInstall:
    """One analysed interpreter."""

    executable: str
    version: str
    pip: str | None
    venv: bool
    # The pip that ``python -m venv`` puts into a new environment (ensurepip's).
    bundled_pip: str | None = None
    externals: tuple[tuple[NormalizedName, str], ...]

    @property
    def parsed(self) -> Version:
        return Version(self.version)

    def external_version(self, name: NormalizedName) -> str | None:
        return dict(self.externals).get(name)


def analyse(executable: str, externals: Sequence[str] = (), timeout: float = 60.0) -> PythonInstall:
    """Run the interpreter to learn its version, pip, venv and externals; ``PythonError`` if it fails."""
    try:
        done = subprocess.run(
            [executable, "-I", "-c", _PROBE, *externals],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PythonError(f"cannot run the Python {executable!r}: {e}") from e
    if done.returncode != 0:
        raise PythonError(f"the Python {executable!r} failed: {done.stderr.strip()[-300:]}")
    try:
        facts = json.loads(done.stdout)
    except ValueError as e:
        raise PythonError(f"the Python {executable!r} answered the probe with {done.stdout!r}") from e
    return PythonInstall(
        executable=executable,
        version=facts["version"],
        pip=facts["pip"] or None,
        venv=bool(facts["venv"]),
        bundled_pip=facts.get("bundled_pip"),
        externals=tuple(sorted((canonicalize_name(k), v) for k, v in facts["externals"].items())),
    )


def check_installs(installs: Sequence[PythonInstall], externals: Sequence[str]) -> list[str]:
    """Problems with the configured installations: no pip or venv, a missing external."""
    problems = []
    for install in installs:
        if not install.venv:
            problems.append(f"{install.executable} ({install.version}): the venv module is missing")
        if install.pip is None:
            problems.append(f"{install.executable} ({install.version}): pip is not installed")
        for name in externals:
            if install.external_version(canonicalize_name(name)) is None:
                problems.append(
                    f"{install.executable} ({install.version}): external package {name!r} "
                    "is not installed"
                )
    return problems


def select_python(
    installs: Sequence[PythonInstall],
    *,
    version: str | None,
    requires: str | None,
    exact: bool = False,
) -> PythonInstall:
    """The interpreter for a bundle; ``PythonError`` listing the available versions."""
    if not installs:
        raise PythonError("no Python is configured: set [python] executables in timeshelf.toml")
    available = ", ".join(f"{i.version} ({i.executable})" for i in installs)
    ordered = sorted(installs, key=lambda i: i.parsed, reverse=True)
    if requires:
        # environment.python.requires is always respected when present (Connect >= 2025.03).
        try:
            specifier = SpecifierSet(requires)
        except InvalidSpecifier as e:
            raise PythonError(f"invalid environment.python.requires {requires!r}") from e
        for install in ordered:
            if install.parsed in specifier:
                return install
        raise PythonError(f"no configured Python satisfies {requires} (available: {available})")
    if version:
        try:
            wanted = Version(version)
        except InvalidVersion as e:
            raise PythonError(f"invalid Python version {version!r} in the manifest") from e
        if exact:
            matches = [i for i in ordered if i.parsed == wanted]
        else:
            matches = [i for i in ordered if i.parsed.release[:2] == wanted.release[:2]]
        if matches:
            return matches[0]
        rule = "exactly" if exact else "the same major.minor as"
        raise PythonError(f"no configured Python matches {rule} {version} (available: {available})")
    return ordered[0]
