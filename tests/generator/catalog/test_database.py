"""The catalog database (``generator.catalog.database``): opening, migrating from older
schemas, and refusing what is not a catalog of this version."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.catalog.database import Database
from generator.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from generator.errors import StoreError
from generator.records import PackageSummary

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# -- migrations -------------------------------------------------------------------------


def test_fresh_catalog_is_at_the_current_schema(tmp_path: Path) -> None:
    with Catalog(tmp_path / "new" / "catalog.sqlite3") as cat:
        assert cat.schema_version() == SCHEMA_VERSION
        assert cat.migrate() == SCHEMA_VERSION
        assert cat.check_integrity() == []
        assert cat.list_sources() == ()


def test_reopening_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    with Catalog(path) as cat:
        cat.create_source("a", "local-python", T0)
    for _ in range(2):
        with Catalog(path) as cat:
            assert cat.schema_version() == SCHEMA_VERSION
            assert [s.name for s in cat.list_sources()] == ["a"]


def test_upgrade_from_the_first_schema_keeps_files(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_version (version INTEGER)")
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO sources VALUES (1, 'a', 'local-python', NULL, '2026-01-01')")
    db.execute("INSERT INTO projects VALUES (1, 1, 'foo', 'Foo', '', 1)")
    sha = "a" * 64
    db.execute(
        "INSERT INTO files (id, project_id, filename, version, packagetype, sha256, blake2_256, "
        "size, requires_python, upload_time, metadata_sha256, has_signature, yanked, "
        "yanked_reason, removed_at) VALUES (1, 1, 'foo-1.0.tar.gz', '1.0', 'sdist', ?, ?, 3, "
        "NULL, '2026-01-01T00:00:00.000000Z', NULL, 0, 0, '', NULL)",
        (sha, sha),
    )
    db.execute(
        "INSERT INTO events VALUES (1, '2026-01-01T00:00:00.000000Z', 'file_added', NULL, 1, 1, "
        "1, '{\"filename\":\"foo-1.0.tar.gz\"}')"
    )
    db.commit()
    db.close()

    with Catalog(path) as cat:
        assert cat.schema_version() == SCHEMA_VERSION
        assert cat.list_packages() == [PackageSummary(
            source="a", name=NormalizedName("foo"), display_name="Foo", versions=1, files=1,
            latest="1.0")]
        assert cat.check_integrity() == []


def test_a_newer_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StoreError) as excinfo:
        Catalog(path)
    assert str(excinfo.value) == (
        f"the catalog {path} has schema version {SCHEMA_VERSION + 1}, newer than this "
        f"timeshelf understands ({SCHEMA_VERSION}): upgrade timeshelf"
    )


def test_migration_rechecks_the_version_under_the_write_lock(tmp_path: Path) -> None:
    # Another process may finish migrating between our read of the version and our write.
    class StaleReader(Database):
        def schema_version(self) -> int:
            return 0

    path = tmp_path / "catalog.sqlite3"
    Catalog(path).close()
    with StaleReader(path) as db:
        assert db.check_integrity() == []
    with Catalog(path) as cat:
        assert cat.schema_version() == SCHEMA_VERSION


def test_a_file_that_is_not_a_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.write_bytes(b"this is not a database, but it is long enough to look like one" * 20)
    with pytest.raises(StoreError) as excinfo:
        Catalog(path)
    assert str(excinfo.value) == f"cannot open the catalog {path}: file is not a database"
