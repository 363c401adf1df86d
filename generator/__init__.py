"""timeshelf: a self-hosted Python package repository rendered as static files.

The core and the batch side, one subpackage per concern (README.md, "How the code is
laid out"): ``config``, ``catalog`` and ``storage`` over the shared vocabulary at this
level (``errors``, ``naming``, ``records``, ``clock``, ``workers``, ``resources``,
``faces``);
``intake`` and ``mirror`` bring files in; ``render`` (pure), ``output``, ``snapshots``
and ``serving`` turn the catalog into a site; ``installation`` wires one installation
together and ``cli`` is the command line over it. Nothing here imports ``uploader``.
"""

from __future__ import annotations

__version__ = "0.1.0"
