"""Fixtures of the catalog tests: a catalog with two upload sources, a mirror and one
repository (on SQLite and PostgreSQL), a ticking clock, and file records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp
from generator.records import FileEntry, FileRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Ticker:
    """A clock that moves one minute on every reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def tick() -> Ticker:
    return Ticker()


@pytest.fixture
def catalog(catalog_location: str | Path, tick: Ticker) -> Iterator[Catalog]:
    """Sources "a" and "b" (local-python), "mirror" (pypi); repository "python" on a, b;
    on SQLite and on PostgreSQL."""
    with Catalog(catalog_location) as cat:
        for name, kind in (("a", "local-python"), ("b", "local-python"), ("mirror", "pypi")):
            cat.create_source(name, kind, tick())
        cat.create_repo("python", tick(), description="test")
        cat.subscribe("python", "a", tick())
        cat.subscribe("python", "b", tick())
        yield cat


def record(filename: str, version: str, *, content: str = "") -> FileRecord:
    sha256 = hashlib.sha256((filename + content).encode()).hexdigest()
    return FileRecord(
        filename=filename, version=version,
        packagetype="bdist_wheel" if filename.endswith(".whl") else "sdist",
        sha256=sha256, blake2_256=sha256, size=len(filename), requires_python=None,
        upload_time=format_timestamp(T0), metadata_sha256=None, has_signature=False,
        yanked=False, yanked_reason="",
    )


def entry(project: str, display_name: str, file: FileRecord) -> FileEntry:
    return FileEntry(project=NormalizedName(project), display_name=display_name, summary="s",
                     record=file)


AddFile = Callable[..., bool]


@pytest.fixture
def add(catalog: Catalog, tick: Ticker) -> AddFile:
    def add(source: str, project: str, version: str, suffix: str = ".tar.gz",
            content: str = "") -> bool:
        src = catalog.get_source(source)
        filename = f"{project.replace('-', '_')}-{version}{suffix}"
        return catalog.add_file(src, NormalizedName(project), project, "summary",
                                record(filename, version, content=content), tick())
    return add


def shown(catalog: Catalog, repo: str = "python") -> dict[str, tuple[str, tuple[str, ...]]]:
    """project -> (owning source, filenames) as the repository shows it."""
    return {
        p.name: (p.source, tuple(f.filename for f in p.files))
        for p in catalog.iter_projects(catalog.get_repo(repo))
    }
