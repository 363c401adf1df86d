"""The one clock of timeshelf: ``TIMESHELF_NOW`` when set, else the system's UTC time.

Times are timezone-aware UTC ``datetime``s inside the program and ISO 8601 strings with
microseconds and a ``Z`` in the catalog and in PEP 700 ``upload-time`` fields; the two
string forms sort the same as the times they denote.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from generator.errors import ConfigError

Clock = Callable[[], datetime]
ENV_NOW = "TIMESHELF_NOW"


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC.

    Raises ``ValueError`` naming the accepted shape.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError(
            f"invalid timestamp {text!r}: use ISO 8601, e.g. 2026-03-01T12:00:00Z"
        ) from e
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def system_clock() -> datetime:
    """The current time: ``TIMESHELF_NOW`` if set (tests, demonstrations), else the system's."""
    override = os.environ.get(ENV_NOW)
    if override:
        try:
            return parse_timestamp(override)
        except ValueError as e:
            raise ConfigError(f"{ENV_NOW}: {e}") from e
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    """The catalog and PEP 700 form: ``2026-03-01T12:00:00.000000Z`` (always UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
