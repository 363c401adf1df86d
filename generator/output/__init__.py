"""The generation pipeline: what a run writes into the output directory and beyond.

Owns the incremental Simple index of each repository (``index``: ``generate_index``
and its full-pass companion protocol), the web UI beside it (``webui``, with its kept
state in ``uistate`` and the pages of each project in ``packagepages``), the helper processes that render project descriptions
(``descriptions``), the files the site withholds (``withheld``) and the publishing of a finished site to a directory or S3
(``publish``). May import ``generator.catalog``, ``generator.render``,
``generator.snapshots`` (page file names), ``generator.storage`` and the shared
vocabulary at the top of ``generator``; never ``generator.installation``, which wires
these together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.output.descriptions import DescriptionPool, default_pool
    from generator.output.index import (
        Companion,
        CompanionWriter,
        Progress,
        Report,
        generate_index,
        renders_everything,
        simple_dir,
    )
    from generator.output.publish import (
        Publisher,
        PublishReport,
        SiteObject,
        publish_site,
        scan_site,
    )
    from generator.output.uistate import UiReport, UiState, read_state
    from generator.output.webui import FullPass, PassResult, WebUi, copy_static

__all__ = [
    "Companion",
    "CompanionWriter",
    "DescriptionPool",
    "FullPass",
    "PassResult",
    "Progress",
    "PublishReport",
    "Publisher",
    "Report",
    "SiteObject",
    "UiReport",
    "UiState",
    "WebUi",
    "copy_static",
    "default_pool",
    "generate_index",
    "publish_site",
    "read_state",
    "renders_everything",
    "scan_site",
    "simple_dir",
]

__getattr__ = lazy_face(__name__, __file__)
