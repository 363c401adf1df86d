"""Settings of the mirror: the ``[mirror]`` table and one ``[sources.NAME]`` table per source.

Parsed once, into frozen records, with one ``ConfigError`` per bad value that names the
key and what would be valid. ``timeshelf init`` documents every key in the file it writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement

from generator.errors import ConfigError

FileMode = Literal["lazy", "prefetch"]
FILE_MODES: tuple[FileMode, ...] = ("lazy", "prefetch")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSettings:
    """How one mirror source syncs: file mode and filters (empty = no filter)."""

    file_mode: FileMode = "lazy"
    allow: tuple[str, ...] = ()
    block: tuple[str, ...] = ()
    pythons: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    keep_releases: int = 0
    max_file_size: int = 0
    python_versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorSettings:
    """The ``[mirror]`` table and the per-source tables."""

    workers: int = 8
    retries: int = 3
    retry_backoff: float = 1.0
    timeout: float = 30.0
    sync_schedule: str = "0 1 * * *"
    sources: Mapping[str, SourceSettings] = field(default_factory=dict)

    def for_source(self, name: str) -> SourceSettings:
        return self.sources.get(name, SourceSettings())


_SOURCE_KEYS = {
    "file_mode", "allow", "block", "pythons", "platforms", "keep_releases", "max_file_size",
    "python_versions",
}


def _number(where: str, value: Any, *, integer: bool, minimum: float) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{where} = {value!r} is invalid: expected {what} >= {minimum:g}")
    return value


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} = {value!r} is invalid: expected a list of strings")
    return tuple(value)


def _requirements(where: str, value: Any) -> tuple[str, ...]:
    items = _strings(where, value)
    for item in items:
        try:
            Requirement(item)
        except InvalidRequirement as e:
            raise ConfigError(
                f"{where}: {item!r} is not a requirement ({e}); use a name with an optional "
                "specifier, e.g. \"django\" or \"numpy>=1.26\""
            ) from e
    return items


def parse_source_settings(name: str, table: Any) -> SourceSettings:
    """One ``[sources.NAME]`` table; ``ConfigError`` for an unknown key or a bad value."""
    where = f"[sources.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} is invalid: expected a table")
    for key in table:
        if key not in _SOURCE_KEYS:
            raise ConfigError(
                f"unknown key {where} {key}: valid keys are {', '.join(sorted(_SOURCE_KEYS))}"
            )
    mode = table.get("file_mode", "lazy")
    if mode not in FILE_MODES:
        raise ConfigError(f"{where} file_mode = {mode!r} is invalid: use \"lazy\" or \"prefetch\"")
    return SourceSettings(
        file_mode=mode,
        allow=_requirements(f"{where} allow", table.get("allow", [])),
        block=_requirements(f"{where} block", table.get("block", [])),
        pythons=_strings(f"{where} pythons", table.get("pythons", [])),
        platforms=_strings(f"{where} platforms", table.get("platforms", [])),
        keep_releases=_number(f"{where} keep_releases", table.get("keep_releases", 0),
                              integer=True, minimum=0),
        max_file_size=_number(f"{where} max_file_size", table.get("max_file_size", 0),
                              integer=True, minimum=0),
        python_versions=_strings(f"{where} python_versions", table.get("python_versions", [])),
    )


def parse_mirror_settings(table: Mapping[str, Any]) -> MirrorSettings:
    """The ``[mirror]`` and ``[sources.*]`` tables of a configuration file."""
    mirror = table.get("mirror", {})
    sources = table.get("sources", {})
    if not isinstance(sources, dict):
        raise ConfigError("sources is invalid: expected tables [sources.NAME]")
    schedule = mirror.get("sync_schedule", "0 1 * * *")
    if not isinstance(schedule, str) or len(schedule.split()) != 5:
        raise ConfigError(
            f"[mirror] sync_schedule = {schedule!r} is invalid: use five crontab fields, "
            "e.g. \"0 1 * * *\" (daily at 01:00)"
        )
    return MirrorSettings(
        workers=_number("[mirror] workers", mirror.get("workers", 8), integer=True, minimum=1),
        retries=_number("[mirror] retries", mirror.get("retries", 3), integer=True, minimum=0),
        retry_backoff=float(_number("[mirror] retry_backoff", mirror.get("retry_backoff", 1.0),
                                    integer=False, minimum=0)),
        timeout=float(_number("[mirror] timeout", mirror.get("timeout", 30), integer=False,
                              minimum=0.1)),
        sync_schedule=schedule,
        sources={name: parse_source_settings(name, body) for name, body in sources.items()},
    )
