"""The ``timeshelf`` command line: a thin click shell over the library.

Owns the group and its entry point (``main``: ``make_cli``, ``cli``, ``main``), the
shared state of one invocation (``context``), how a generation is reported
(``reporting``) and one module per command family: ``setup`` (init, create, revoke,
nginx-conf), ``catalog`` (add, yank, unyank, remove, subscribe, reorder, list),
``generation`` (generate, publish, watch, snapshot), ``mirror`` (sync, update, check
confusion), ``status`` (a project's PEP 792 status), ``vulns`` (advisories) and
``cooldown`` (set repo, cooldown allow/list/revoke). It may import any part of ``generator``, ``generator.installation`` (the
wiring) included; never ``uploader``, which adds its own commands through ``make_cli``.

The entry point lives in ``generator.cli.main`` and is not re-exported here, so that
``python -m generator.cli.main`` runs that module once (runpy warns when a package
imports the module it is about to run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.cli.context import Context, info, pass_ctx
    from generator.cli.reporting import report_generation

__all__ = ["Context", "info", "pass_ctx", "report_generation"]

__getattr__ = lazy_face(__name__, __file__)
