"""Reading one OSV advisory (the OSV schema's JSON) into an ``Advisory``: pure, bounded.

Only what timeshelf uses is read: ``id``, ``modified``, ``withdrawn``, ``aliases``,
``summary`` (else the first line of ``details``), ``severity`` (type and score, e.g. a
CVSS vector), ``database_specific.severity`` (the database's own rating) and, of each
``affected`` entry whose ``package.ecosystem`` is ``PyPI``, the package name (normalized),
its ``ECOSYSTEM`` ranges (``introduced``/``fixed``/``last_affected`` events; ``limit``
and ``SEMVER``/``GIT`` ranges say nothing about PEP 440 versions) and its ``versions``.

A document that is not such an advisory raises ``MalformedAdvisory`` saying why: not
JSON, larger than ``MAX_DOCUMENT`` bytes, nested deeper than ``MAX_DEPTH``, a missing or
mistyped required field. Unknown fields are ignored, as the schema allows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from packaging.utils import canonicalize_name

from generator.clock import format_timestamp, parse_timestamp
from generator.errors import TimeshelfError
from generator.records import Advisory, AffectedPackage

# The largest advisory read (the biggest of the PyPI export is a few hundred kB).
MAX_DOCUMENT = 4 * 1024 * 1024
# How deep a document may nest (an advisory is about six levels deep).
MAX_DEPTH = 32
# Bounds of what is kept of one advisory.
MAX_TEXT = 1000
MAX_ITEMS = 10_000
EVENT_KINDS = ("introduced", "fixed", "last_affected")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
ECOSYSTEM = "PyPI"


class MalformedAdvisory(TimeshelfError, ValueError):
    """A document is not an OSV advisory timeshelf can read; ``name`` is where it was."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def parse_advisory(data: bytes, name: str = "advisory") -> Advisory:
    """The advisory in ``data`` (``name`` says where it came from in errors).

    Raises ``MalformedAdvisory``.
    """
    if len(data) > MAX_DOCUMENT:
        raise MalformedAdvisory(name, f"{len(data)} bytes, over the {MAX_DOCUMENT}-byte limit")
    try:
        document = json.loads(data)
    except RecursionError:
        raise MalformedAdvisory(name, f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedAdvisory(name, f"not JSON ({e})") from None
    if _depth(document) > MAX_DEPTH:
        raise MalformedAdvisory(name, f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(document, dict):
        raise MalformedAdvisory(name, "not a JSON object")
    try:
        return _advisory(document)
    except _Bad as e:
        raise MalformedAdvisory(name, str(e)) from None


class _Bad(Exception):
    pass


def _depth(document: Any) -> int:
    """How deep ``document`` nests (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _text(document: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _Bad(f"{key!r} must be a{' non-empty' if required else ''} string, got {value!r:.60}")
    return value


def _time(document: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    text = _text(document, key, required=required)
    if not text:
        return None
    try:
        return format_timestamp(parse_timestamp(text))
    except ValueError:
        raise _Bad(f"{key!r} must be an RFC 3339 time, e.g. 2026-03-01T12:00:00Z, "
                   f"got {text!r:.60}") from None


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{key!r} must be a list, got {type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise _Bad(f"{key!r} holds {len(value)} items, over the limit of {MAX_ITEMS}")
    return value


def _strings(items: list[Any], key: str) -> tuple[str, ...]:
    if not all(isinstance(item, str) for item in items):
        raise _Bad(f"{key!r} must be a list of strings")
    return tuple(items)


def _advisory(document: dict[str, Any]) -> Advisory:
    advisory_id = _text(document, "id", required=True)
    if _ID.fullmatch(advisory_id) is None:
        raise _Bad(f"'id' {advisory_id!r:.60} is not an advisory id (letters, digits, "
                   "'.', '_', ':', '-'; at most 128)")
    modified = _time(document, "modified", required=True)
    assert modified is not None
    summary = _text(document, "summary") or _text(document, "details").strip().split("\n")[0]
    severity = []
    for item in _list(document, "severity"):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str) \
                or not isinstance(item.get("score"), str):
            raise _Bad("'severity' entries must be objects with a string 'type' and 'score'")
        severity.append((item["type"][:64], item["score"][:256]))
    specific = document.get("database_specific")
    level = specific.get("severity") if isinstance(specific, dict) else None
    return Advisory(
        id=advisory_id, modified=modified, withdrawn=_time(document, "withdrawn"),
        aliases=tuple(sorted(set(_strings(_list(document, "aliases"), "aliases")))),
        summary=summary[:MAX_TEXT], severity=tuple(severity),
        level=level.upper()[:32] if isinstance(level, str) else "",
        packages=_packages(_list(document, "affected")),
    )


def _packages(affected: list[Any]) -> tuple[AffectedPackage, ...]:
    found = []
    for entry in affected:
        if not isinstance(entry, dict):
            raise _Bad("'affected' entries must be objects")
        package = entry.get("package")
        if package is None:
            continue  # an entry about something else than a package (allowed by the schema)
        if not isinstance(package, dict):
            raise _Bad("'affected[].package' must be an object")
        if package.get("ecosystem") != ECOSYSTEM:
            continue
        name = _text(package, "name", required=True)
        ranges = []
        for item in _list(entry, "ranges"):
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise _Bad("'affected[].ranges' entries must be objects with a string 'type'")
            events = _events(_list(item, "events"))
            if item["type"] == "ECOSYSTEM" and events:
                ranges.append(events)
        found.append(AffectedPackage(
            name=canonicalize_name(name), ranges=tuple(ranges),
            versions=_strings(_list(entry, "versions"), "affected[].versions"),
        ))
    return tuple(found)


def _events(items: list[Any]) -> tuple[tuple[str, str], ...]:
    events = []
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise _Bad("range events must be objects of one key (introduced, fixed, "
                       "last_affected or limit)")
        ((kind, value),) = item.items()
        if not isinstance(value, str):
            raise _Bad(f"range event {kind!r} must be a string version, got {value!r:.60}")
        if kind in EVENT_KINDS:
            events.append((kind, value))
    return tuple(events)
