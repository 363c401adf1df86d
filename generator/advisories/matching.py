"""Which versions an advisory affects: OSV's range evaluation over PEP 440 versions. Pure.

An advisory affects (project, version) when it is not withdrawn and one of its
``affected`` entries for the project (names normalized) either lists the version in
``versions`` (the same string, or the same PEP 440 version) or has an ``ECOSYSTEM``
range that holds it. A range's events are walked in version order, ``introduced: "0"``
first: ``introduced`` at or below the version opens it, ``fixed`` at or below the
version closes it, ``last_affected`` below the version closes it. Versions compare by
``packaging``'s PEP 440 ordering; a version that is not PEP 440 (a legacy one) matches
only a ``versions`` entry of the same string, and an event whose version is not PEP
440 is ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from generator.records import Advisory, AffectedPackage

_ZERO = Version("0")


@functools.lru_cache(maxsize=1 << 16)
def _parsed(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def in_range(version: str, events: Iterable[tuple[str, str]]) -> bool:
    """True when the ECOSYSTEM range of ``events`` holds ``version``."""
    wanted = _parsed(version)
    if wanted is None:
        return False
    opens_everything, ordered = _ordered(tuple(events))
    affected = opens_everything
    for at, _order, kind in ordered:
        if kind == "introduced":
            if wanted >= at:
                affected = True
        elif kind == "fixed":
            if wanted >= at:
                affected = False
        elif wanted > at:  # last_affected
            affected = False
    return affected


# A range is asked about every version of its project: its events are ordered once.
@functools.lru_cache(maxsize=1 << 16)
def _ordered(
    events: tuple[tuple[str, str], ...],
) -> tuple[bool, tuple[tuple[Version, bool, str], ...]]:
    # ``introduced: "0"`` is OSV's "from the very first version" (below 0a1, 0.dev0).
    opens_everything = False
    ordered: list[tuple[Version, bool, str]] = []
    for kind, value in events:
        if kind == "introduced" and value == "0":
            opens_everything = True
            continue
        at = _parsed(value)
        if at is not None:
            # At one version, ``introduced`` is evaluated before what closes the range.
            ordered.append((at, kind != "introduced", kind))
    ordered.sort()
    return opens_everything, tuple(ordered)


def package_affects(package: AffectedPackage, version: str) -> bool:
    """True when the affected entry ``package`` holds ``version``."""
    if version in package.versions:
        return True
    wanted = _parsed(version)
    if wanted is not None and any(_parsed(v) == wanted for v in package.versions):
        return True
    return any(in_range(version, events) for events in package.ranges)


def affects(advisory: Advisory, project: str, version: str) -> bool:
    """True when ``advisory`` affects ``version`` of ``project`` (see the module docstring)."""
    return _affects(advisory, canonicalize_name(project), version)


def _affects(advisory: Advisory, name: str, version: str) -> bool:
    if advisory.withdrawn is not None:
        return False
    return any(p.name == name and package_affects(p, version) for p in advisory.packages)


def advisories_affecting(
    advisories: Iterable[Advisory], project: str, version: str
) -> tuple[Advisory, ...]:
    """Those of ``advisories`` that affect ``version`` of ``project``, by id."""
    name = canonicalize_name(project)
    return tuple(sorted((a for a in advisories if _affects(a, name, version)),
                        key=lambda a: a.id))


def fixed_in(advisory: Advisory, project: str) -> tuple[str, ...]:
    """The versions ``advisory`` says fix ``project`` (its ``fixed`` events), PEP 440
    ordered, without repeats."""
    name = canonicalize_name(project)
    found = {value for p in advisory.packages if p.name == name
             for events in p.ranges for kind, value in events if kind == "fixed"}
    return tuple(sorted(found, key=lambda v: (_parsed(v) is not None, _parsed(v) or _ZERO, v)))
