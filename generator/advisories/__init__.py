"""Vulnerability advisories: the OSV data of the PyPI ecosystem and what it affects.

Owns the reading of one OSV advisory (``osv``: pure, bounded), of an OSV export zip or
directory (``export``), the matching of advisories to versions (``matching``: OSV's
ECOSYSTEM ranges and ``versions`` lists under PEP 440 ordering; pure), the import into
the catalog (``sync``: incremental, resumable), severity on one ordered scale (``severity``:
the database's rating, else the CVSS v3 base score) and ``AdvisoryIndex`` (``index``), the
API policy code asks: ``AdvisoryIndex.load(catalog).advisories_affecting(project,
version) -> tuple[Advisory, ...]``. It may import ``generator.catalog``,
``generator.mirror.http`` (its HTTP client) and the shared vocabulary; never the output
pipeline, the CLI or ``uploader``. Advisories are not events: nothing here changes what
a repository lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.advisories.export import ExportContents, InvalidExport, read_export
    from generator.advisories.index import AdvisoryIndex
    from generator.advisories.matching import (
        advisories_affecting,
        affects,
        fixed_in,
        in_range,
        package_affects,
    )
    from generator.advisories.osv import MalformedAdvisory, parse_advisory
    from generator.advisories.severity import Severity, cvss3_score, severity_of
    from generator.advisories.sync import VulnsReport, VulnsSync

__all__ = [
    "AdvisoryIndex",
    "ExportContents",
    "InvalidExport",
    "MalformedAdvisory",
    "Severity",
    "VulnsReport",
    "VulnsSync",
    "advisories_affecting",
    "affects",
    "cvss3_score",
    "fixed_in",
    "in_range",
    "package_affects",
    "parse_advisory",
    "read_export",
    "severity_of",
]

__getattr__ = lazy_face(__name__, __file__)
