"""Filters of a mirror: each one a small wrapper over the one ``ProjectSource`` interface.

A ``ProjectSource`` lists an upstream's projects and fetches one project's page. The
upstream itself implements it (``generator.mirror.sync.SimpleUpstream``); every filter wraps
another ``ProjectSource`` and narrows what it answers, so filters combine by nesting and
each stays a few lines (simple-repository's components work the same way)::

    NewestReleases(MaxFileSize(WheelTags(AllowList(SimpleUpstream(...)))), 5)

A filtered file is simply not listed. ``describe`` names the whole chain: when it
changes, the next sync re-reads every project, so a narrower filter removes files and a
wider one adds them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from generator.mirror.upstream import ListedProject, Listing, ProjectPage, UpstreamFile
from generator.naming import version_sort_key
from generator.records import ProjectSync


class NotModified:
    """The upstream answered 304: the project is as last synced."""


class Gone:
    """The upstream no longer has the project (404)."""


NOT_MODIFIED = NotModified()
GONE = Gone()
Fetched = ProjectPage | NotModified | Gone


class ProjectSource(Protocol):
    """Where a mirror's projects come from (an upstream, or a filter over one)."""

    def describe(self) -> str:
        """A stable description of what this source lets through."""

    def list_projects(self, validators: dict[str, str]) -> Listing | None:
        """The projects to mirror; None when the root is unchanged (a 304 to ``validators``)."""

    def fetch_project(self, listed: ListedProject, known: ProjectSync | None) -> Fetched:
        """One project's page (``known``: what the last sync saw, for conditional requests)."""


class Filter:
    """Base of the filters: passes everything through; subclasses narrow one aspect."""

    label = "filter"

    def __init__(self, inner: ProjectSource) -> None:
        self.inner = inner

    def describe(self) -> str:
        return f"{self.inner.describe()} | {self.label}"

    def keeps_project(self, name: NormalizedName) -> bool:
        return True

    def keep_files(self, files: tuple[UpstreamFile, ...]) -> tuple[UpstreamFile, ...]:
        return files

    def list_projects(self, validators: dict[str, str]) -> Listing | None:
        listing = self.inner.list_projects(validators)
        if listing is None:
            return None
        return replace(
            listing, projects=tuple(p for p in listing.projects if self.keeps_project(p.name))
        )

    def fetch_project(self, listed: ListedProject, known: ProjectSync | None) -> Fetched:
        page = self.inner.fetch_project(listed, known)
        if isinstance(page, ProjectPage):
            return replace(page, files=self.keep_files(page.files))
        return page


def _specifiers(requirements: Iterable[str]) -> dict[NormalizedName, list[SpecifierSet]]:
    parsed: dict[NormalizedName, list[SpecifierSet]] = {}
    for text in requirements:
        requirement = Requirement(text)
        parsed.setdefault(canonicalize_name(requirement.name), []).append(requirement.specifier)
    return parsed


def _matches(version: str, specifiers: Sequence[SpecifierSet]) -> bool:
    """True when any of ``specifiers`` admits ``version`` (an empty one admits all)."""
    if any(not str(s) for s in specifiers):
        return True
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return any(s.contains(parsed, prereleases=True) for s in specifiers)


class AllowList(Filter):
    """Only the named projects, and of each only the versions its specifiers admit."""

    def __init__(self, inner: ProjectSource, requirements: Iterable[str]) -> None:
        super().__init__(inner)
        self.requirements = tuple(sorted(requirements))
        self.allowed = _specifiers(self.requirements)
        self.label = f"allow({', '.join(self.requirements)})"

    def keeps_project(self, name: NormalizedName) -> bool:
        return name in self.allowed

    def fetch_project(self, listed: ListedProject, known: ProjectSync | None) -> Fetched:
        page = self.inner.fetch_project(listed, known)
        if isinstance(page, ProjectPage):
            specifiers = self.allowed.get(page.name, [])
            files = tuple(f for f in page.files if _matches(f.version, specifiers))
            return replace(page, files=files)
        return page


class CuratedFilter(AllowList):
    """An allow-list that is the whole listing: its projects are asked for directly (each
    conditionally), without reading the upstream root (all of PyPI, for a few names)."""

    def __init__(self, inner: ProjectSource, requirements: Iterable[str]) -> None:
        super().__init__(inner, requirements)
        self.label = f"curated({', '.join(self.requirements)})"
        self.display = {canonicalize_name(Requirement(r).name): Requirement(r).name
                        for r in self.requirements}

    def list_projects(self, validators: dict[str, str]) -> Listing | None:
        return Listing(projects=tuple(
            ListedProject(name=name, display_name=self.display[name], serial=None)
            for name in sorted(self.allowed)
        ))


class BlockList(Filter):
    """Never the named projects (a bare name) or versions (a name with specifiers)."""

    def __init__(self, inner: ProjectSource, requirements: Iterable[str]) -> None:
        super().__init__(inner)
        self.requirements = tuple(sorted(requirements))
        self.blocked = _specifiers(self.requirements)
        self.label = f"block({', '.join(self.requirements)})"

    def keeps_project(self, name: NormalizedName) -> bool:
        return not any(not str(s) for s in self.blocked.get(name, []))

    def fetch_project(self, listed: ListedProject, known: ProjectSync | None) -> Fetched:
        page = self.inner.fetch_project(listed, known)
        if isinstance(page, ProjectPage) and page.name in self.blocked:
            specifiers = self.blocked[page.name]
            files = tuple(f for f in page.files if not _matches(f.version, specifiers))
            return replace(page, files=files)
        return page


def _interpreter_abis(pythons: Iterable[str]) -> frozenset[tuple[str, str]]:
    """(interpreter, abi) tag pairs some CPython of ``pythons`` (``"3.11"``) can install."""
    pairs: set[tuple[str, str]] = set()
    for text in pythons:
        major, _, minor = text.partition(".")
        version = (int(major), int(minor or 0))
        interpreter = f"cp{version[0]}{version[1]}"
        abis = [interpreter, "abi3", "none"]
        tags = [*cpython_tags(version, abis, ["any"]),
                *compatible_tags(version, interpreter, ["any"])]
        pairs.update((t.interpreter, t.abi) for t in tags)
    return frozenset(pairs)


class WheelTags(Filter):
    """Only wheels that one of ``pythons`` (CPython versions) can install, and whose
    platform tag matches one of ``platforms`` (shell patterns); sdists always pass."""

    def __init__(
        self, inner: ProjectSource, pythons: Iterable[str], platforms: Iterable[str]
    ) -> None:
        super().__init__(inner)
        self.pythons, self.platforms = tuple(pythons), tuple(platforms)
        self.pairs = _interpreter_abis(self.pythons) if self.pythons else None
        self.label = f"wheels(pythons={','.join(self.pythons)}; platforms={','.join(self.platforms)})"

    def _keeps(self, file: UpstreamFile) -> bool:
        if file.packagetype != "bdist_wheel":
            return True
        try:
            tags = parse_wheel_filename(file.filename)[3]
        except ValueError:
            return False
        return any(
            (self.pairs is None or (t.interpreter, t.abi) in self.pairs)
            and (not self.platforms or any(fnmatch.fnmatchcase(t.platform, p)
                                           for p in self.platforms))
            for t in tags
        )

    def keep_files(self, files: tuple[UpstreamFile, ...]) -> tuple[UpstreamFile, ...]:
        return tuple(f for f in files if self._keeps(f))


class MaxFileSize(Filter):
    """Only files of at most ``limit`` bytes (a file of unknown size passes)."""

    def __init__(self, inner: ProjectSource, limit: int) -> None:
        super().__init__(inner)
        self.limit = limit
        self.label = f"max-size({limit})"

    def keep_files(self, files: tuple[UpstreamFile, ...]) -> tuple[UpstreamFile, ...]:
        return tuple(f for f in files if f.size is None or f.size <= self.limit)


class NewestReleases(Filter):
    """Only the files of each project's ``count`` newest versions (PEP 440 order)."""

    def __init__(self, inner: ProjectSource, count: int) -> None:
        super().__init__(inner)
        self.count = count
        self.label = f"newest({count})"

    def keep_files(self, files: tuple[UpstreamFile, ...]) -> tuple[UpstreamFile, ...]:
        versions = sorted({f.version for f in files}, key=version_sort_key)[-self.count:]
        kept = set(versions)
        return tuple(f for f in files if f.version in kept)
