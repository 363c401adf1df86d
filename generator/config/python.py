"""Settings of the environment builder: the ``[python]`` table.

Parsed once into a frozen record, one ``ConfigError`` per bad value naming the key and
what would be valid. ``timeshelf init`` documents every key (``generator.config.settings``).
The builder itself lives in ``uploader`` (``generator`` never imports it); the default
list of prohibited packages has its one owner here (the default file spells it out, and
a test keeps the two equal), and ``uploader.deploy.requirements.DEFAULT_PROHIBITED`` is
built from it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from generator.errors import ConfigError

INSTALLERS = ("pip", "uv")
DEFAULT_PROHIBITED = (
    "appnope",
    "pyobjc",
    "pyobjc-core",
    "pyobjc-framework-cocoa",
    "pypiwin32",
    "pywin32",
    "pywinpty",
    "windows-curses",
    "winpty",
    "wmi",
)
# PEP 508 names.
_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonSettings:
    """The ``[python]`` table, resolved (paths absolute, names normalized)."""

    executables: tuple[str, ...] = (sys.executable,)
    external: tuple[str, ...] = ()
    externals_check_is_fatal: bool = True
    external_version_matching: bool = False
    exact_version_matching: bool = False
    installer: str = "pip"
    extra_packages: tuple[str, ...] = ()
    prohibited: tuple[str, ...] = DEFAULT_PROHIBITED
    allow_index_options: bool = False
    allow_editable: bool = False
    allow_direct_references: bool = False
    environments_dir: Path = Path("environments")
    snapshot: str = ""
    repository: str = "python"
    compile_unpinned: bool = False


def _strings(table: dict[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"[python] {key} = {value!r} is invalid: expected a list of strings")
    return tuple(v.strip() for v in value)


def _flag(table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"[python] {key} = {value!r} is invalid: expected true or false")
    return value


def _text(table: dict[str, Any], key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"[python] {key} = {value!r} is invalid: expected a string")
    return value.strip()


def check_snapshot_date(value: str, where: str) -> str:
    """``value`` if it is empty (latest) or a real ``YYYY-MM-DD`` date; ``ConfigError`` else."""
    if value and value != "latest":
        try:
            if not _DAY.fullmatch(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError as e:
            raise ConfigError(
                f"{where} = {value!r} is invalid: use a date YYYY-MM-DD, or empty for latest"
            ) from e
    return "" if value == "latest" else value


def parse_python_settings(table: dict[str, Any], base: Path) -> PythonSettings:
    """The ``[python]`` table of a configuration (``base``: the file's directory)."""
    section = table.get("python", {})
    executables = _strings(section, "executables", ())
    installer = _text(section, "installer", "pip")
    if installer not in INSTALLERS:
        raise ConfigError(
            f"[python] installer = {installer!r} is invalid: use one of {', '.join(INSTALLERS)}"
        )
    for key in ("external", "prohibited"):
        for name in _strings(section, key, ()):
            if not _NAME.fullmatch(name):
                raise ConfigError(
                    f"[python] {key}: {name!r} is not a project name (letters, digits, '.-_')"
                )
    extra = _strings(section, "extra_packages", ())
    for line in extra:
        try:
            Requirement(line)
        except InvalidRequirement as e:
            raise ConfigError(
                f"[python] extra_packages: {line!r} is not a requirement (e.g. 'gunicorn>=22'): {e}"
            ) from e
    directory = Path(_text(section, "environments_dir", "environments") or "environments")
    return PythonSettings(
        executables=tuple(
            str(Path(e).expanduser()) if "/" in e else e for e in executables
        ) or (sys.executable,),
        external=tuple(str(canonicalize_name(n)) for n in _strings(section, "external", ())),
        externals_check_is_fatal=_flag(section, "externals_check_is_fatal", True),
        external_version_matching=_flag(section, "external_version_matching", False),
        exact_version_matching=_flag(section, "exact_version_matching", False),
        installer=installer,
        extra_packages=extra,
        prohibited=tuple(
            str(canonicalize_name(n))
            for n in _strings(section, "prohibited", DEFAULT_PROHIBITED)
        ),
        allow_index_options=_flag(section, "allow_index_options", False),
        allow_editable=_flag(section, "allow_editable", False),
        allow_direct_references=_flag(section, "allow_direct_references", False),
        environments_dir=directory if directory.is_absolute() else base / directory,
        snapshot=check_snapshot_date(_text(section, "snapshot", ""), "[python] snapshot"),
        repository=_text(section, "repository", "python") or "python",
        compile_unpinned=_flag(section, "compile_unpinned", False),
    )
