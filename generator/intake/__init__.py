"""Intake: how a file becomes part of a local source.

Owns the distribution checks (``distributions``: a wheel or sdist inspected, its
metadata read, its limits enforced), the archive member rules (``members``), ingesting
checked files into the catalog and store (``ingest``) and the watch folder (``watch``).
It may import ``generator.catalog``, ``generator.storage`` and the shared vocabulary
(``errors``, ``naming``, ``records``, ``clock``); never ``generator.installation``, the
CLI, the mirror, the output pipeline or ``uploader``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.intake.distributions import (
        Distribution,
        Limits,
        check_filename,
        inspect_distribution,
    )
    from generator.intake.ingest import (
        Accepted,
        Refused,
        check_signature,
        ingest_file,
        ingest_paths,
    )
    from generator.intake.watch import Outcome, Watcher

__all__ = [
    "Accepted",
    "Distribution",
    "Limits",
    "Outcome",
    "Refused",
    "Watcher",
    "check_filename",
    "check_signature",
    "ingest_file",
    "ingest_paths",
    "inspect_distribution",
]

__getattr__ = lazy_face(__name__, __file__)
