"""Full generation in two processes (``generator.output.index``): the same site and report as
in one process, and a worker's failure reaches the caller as the same ``StoreError``."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

import generator.output.index as generate_module
from generator.errors import StoreError
from generator.installation import Installation
from generator.output.index import Report, generate_index, simple_dir
from generator.records import FileEntry, FileRecord

PROJECTS = 24


def fill(inst: Installation) -> None:
    """PROJECTS projects of two files each (catalog rows only: pages need no archives)."""
    entries = []
    for i in range(PROJECTS):
        name = NormalizedName(f"proj-{i:02d}")
        for filename in (f"proj_{i:02d}-1.0.tar.gz", f"proj_{i:02d}-1.0-py3-none-any.whl"):
            digest = hashlib.sha256(filename.encode()).hexdigest()
            entries.append(FileEntry(project=name, display_name=f"Proj-{i:02d}", summary="", record=FileRecord(
                filename=filename, version="1.0",
                packagetype="sdist" if filename.endswith(".gz") else "bdist_wheel",
                sha256=digest, blake2_256=digest, size=100, requires_python=">=3.9",
                upload_time="2026-03-01T12:00:00.000000Z", metadata_sha256=None,
                has_signature=False, yanked=i % 5 == 0, yanked_reason="bad" if i % 5 == 0 else "",
            )))
    inst.catalog.add_files(inst.catalog.get_source("local"), entries, inst.now())


def full(inst: Installation) -> Report[object]:
    return generate_index(
        inst.catalog, inst.renderer, inst.config.output_path, inst.catalog.get_repo("python"),
        store=inst.store, full=True,
    )


def pages(inst: Installation) -> dict[str, bytes]:
    base = simple_dir(inst.config.output_path, "python")
    return {
        str(path.relative_to(base)): path.read_bytes()
        for path in sorted(base.rglob("*")) if path.is_file()
    }


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


@pytest.mark.usefixtures("two_cores")
def test_two_processes_write_what_one_does(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(installation)
    base = simple_dir(installation.config.output_path, "python")
    monkeypatch.setattr(generate_module, "PARALLEL_MIN_PROJECTS", 10**9)
    shutil.rmtree(base)
    alone = full(installation)
    one = pages(installation)

    monkeypatch.setattr(generate_module, "PARALLEL_MIN_PROJECTS", 4)
    shutil.rmtree(base)
    split = full(installation)
    assert pages(installation) == one
    assert len(one) == 2 * PROJECTS + 2
    assert (split.projects, split.written, split.pages) == (
        alone.projects, alone.written, alone.pages
    )
    # Over an existing site: nothing changed, nothing written, in either part.
    again = full(installation)
    assert (again.projects, again.written) == (PROJECTS, 0)


@pytest.mark.usefixtures("two_cores")
def test_a_worker_failure_is_a_store_error(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(installation)
    base = simple_dir(installation.config.output_path, "python")
    shutil.rmtree(base)
    base.mkdir(parents=True)
    # A file where the second half's first project directory must go.
    bounds = installation.catalog.split_projects(installation.catalog.get_repo("python"), 2)
    assert bounds[1] is not None
    Path(base / bounds[1]).write_text("in the way")
    monkeypatch.setattr(generate_module, "PARALLEL_MIN_PROJECTS", 4)
    with pytest.raises(StoreError, match=f"cannot write .*{bounds[1]}"):
        full(installation)
