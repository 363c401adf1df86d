"""The mirror: copying an upstream Simple Repository API into a ``pypi`` or
``curated-pypi`` source.

Owns the sync pass (``sync``) and its report (``report``), the choice of sources to sync
(``sources``), its pure planning (``plan``), the parsing of upstream
pages (``upstream``), HTTP with retries and validators (``http``), the source filters
(``filters``), fetching mirrored files into the store (``fetch``), curated lists and
their closure (``curated``) and the dependency-confusion report (``confusion``). It may
import ``generator.catalog``, ``generator.storage``, ``generator.config``,
``generator.intake`` (file-name rules) and the shared vocabulary (``errors``,
``naming``, ``records``, ``clock``); never ``generator.installation``, the CLI, the
output pipeline or ``uploader``: callers pass in the catalog, store, settings and clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.mirror.confusion import Finding, confusable_projects
    from generator.mirror.curated import compile_closure, read_requirements
    from generator.mirror.fetch import Fetcher, HashMismatch
    from generator.mirror.filters import (
        AllowList,
        BlockList,
        CuratedFilter,
        Filter,
        MaxFileSize,
        NewestReleases,
        ProjectSource,
        WheelTags,
    )
    from generator.mirror.http import HttpClient, UpstreamUnavailable
    from generator.mirror.plan import gone_change, plan_project
    from generator.mirror.report import SyncReport
    from generator.mirror.sources import Chosen, check_not_self, count_projects, mirror_sources
    from generator.mirror.sync import (
        MIRROR_TYPES,
        Mirror,
        SimpleUpstream,
        SyncBusy,
        make_client,
        make_fetcher,
        upstream_of,
    )
    from generator.mirror.upstream import UpstreamError

__all__ = [
    "MIRROR_TYPES",
    "AllowList",
    "BlockList",
    "Chosen",
    "CuratedFilter",
    "Fetcher",
    "Filter",
    "Finding",
    "HashMismatch",
    "HttpClient",
    "MaxFileSize",
    "Mirror",
    "NewestReleases",
    "ProjectSource",
    "SimpleUpstream",
    "SyncBusy",
    "SyncReport",
    "UpstreamError",
    "UpstreamUnavailable",
    "WheelTags",
    "check_not_self",
    "compile_closure",
    "confusable_projects",
    "count_projects",
    "gone_change",
    "make_client",
    "make_fetcher",
    "mirror_sources",
    "plan_project",
    "read_requirements",
    "upstream_of",
]

__getattr__ = lazy_face(__name__, __file__)
