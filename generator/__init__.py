"""timeshelf: a self-hosted Python package repository rendered as static files."""

from __future__ import annotations

__version__ = "0.1.0"
