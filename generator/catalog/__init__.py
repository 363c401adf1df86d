"""The catalog: owns the database of timeshelf, its schema and migrations, the SQL
dialects (SQLite, PostgreSQL) and every table: sources, repositories and subscriptions,
projects and files, the event log, generation and snapshot state, mirror state, API
tokens and PEP 792 project status. ``Catalog`` is the one object the rest of timeshelf holds; it may import only
``generator.errors``, ``generator.naming``, ``generator.records`` and ``generator.clock``
(besides its own modules, which import their siblings directly, never this face).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.catalog.catalog import Catalog
    from generator.catalog.database import Database
    from generator.catalog.dialect import is_database_url
    from generator.catalog.files import same_distribution_error
    from generator.catalog.schema import SCHEMA_VERSION
    from generator.catalog.tokens import (
        TokenCatalog,
        TokenError,
        create_token,
        parse_duration,
        verify_token,
    )

__all__ = [
    "SCHEMA_VERSION",
    "Catalog",
    "Database",
    "TokenCatalog",
    "TokenError",
    "create_token",
    "is_database_url",
    "parse_duration",
    "same_distribution_error",
    "verify_token",
]

__getattr__ = lazy_face(__name__, __file__)
