"""The advisories of many projects held at once, for questions asked many times (policy).

``AdvisoryIndex.load(catalog)`` reads the standing advisories once; every question after
that is pure (``generator.advisories.matching``), so a rule checked against every file
of a generation costs no query per file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.utils import NormalizedName, canonicalize_name

from generator.advisories.matching import advisories_affecting
from generator.catalog.catalog import Catalog
from generator.records import Advisory


class AdvisoryIndex:
    """Standing advisories by project name."""

    def __init__(self, by_project: Mapping[NormalizedName, tuple[Advisory, ...]]) -> None:
        self._by_project = dict(by_project)

    @classmethod
    def load(cls, catalog: Catalog, names: Iterable[str] | None = None) -> AdvisoryIndex:
        """The standing advisories of ``names`` (default: every project some advisory names)."""
        wanted = catalog.advisory_projects() if names is None else names
        return cls(catalog.advisories_for(wanted))

    def include(self, by_project: Mapping[NormalizedName, tuple[Advisory, ...]]) -> None:
        """Hold the advisories of more projects (read later than the first)."""
        self._by_project.update(by_project)

    def advisories_of(self, project: str) -> tuple[Advisory, ...]:
        """Every standing advisory naming ``project``, whatever the version, by id."""
        return self._by_project.get(canonicalize_name(project), ())

    def advisories_affecting(self, project: str, version: str) -> tuple[Advisory, ...]:
        """The standing advisories that affect ``version`` of ``project``, by id (empty
        for a version no advisory names, and for a project without advisories)."""
        return advisories_affecting(self.advisories_of(project), project, version)

    def is_affected(self, project: str, version: str) -> bool:
        return bool(self.advisories_affecting(project, version))
