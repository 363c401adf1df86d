"""Incremental generation of a repository's static index.

``generate_repo`` renders only the projects whose state changed since the watermark in
the catalog (the last event serial it rendered), never rewrites a byte-identical page, and
writes in the order that keeps the served site consistent at every instant:

    files (and .metadata, .asc)  →  project pages  →  root index
    →  deletion of pages of projects that are gone  →  watermark (in the catalog)

A crash anywhere leaves the previous pages or the new ones, each whole; since the
watermark moves last, the next run redoes the interrupted work.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName

from generator.catalog import Catalog
from generator.fsutil import write_if_changed, write_new_directory
from generator.records import Repo
from generator.render import RENDER_VERSION, Renderer, project_json, root_json
from generator.store import LocalStore, file_key

# From /<repo>/latest/simple/<project>/ up to the site root, then into /files/.
PROJECT_FILES_PREFIX = "../../../../files/"
Progress = Callable[[int], None]


@dataclass(slots=True)
class Report:
    """What one generation of one repository did."""

    repo: str
    mode: str
    projects: int = 0
    written: int = 0
    deleted: int = 0
    root_written: bool = False
    serial: int = 0
    pages: list[str] = field(default_factory=list)
    snapshots_written: list[str] = field(default_factory=list)
    snapshots_pruned: list[str] = field(default_factory=list)


def simple_dir(output: Path, repo: str) -> Path:
    """Where the live (``latest``) index of a repository is written."""
    return output / repo / "latest" / "simple"


def generate_repo(
    catalog: Catalog,
    renderer: Renderer,
    output: Path,
    repo: Repo,
    *,
    store: LocalStore | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Bring ``output/<repo>/latest/simple/`` up to date with the catalog.

    ``store``, when its directory is not ``output/files``, is linked into it first.
    Raises ``StoreError`` when the output cannot be written (the site stays as it was).
    """
    head = catalog.last_event_id()
    state = catalog.generation_state(repo)
    names: set[NormalizedName] | None = None
    # Without a root page the output was wiped or moved: the watermark no longer
    # describes it, so render everything.
    present = (simple_dir(output, repo.name) / "index.html").is_file()
    if not full and present and state is not None and state[1] == RENDER_VERSION:
        names = catalog.changed_since(repo, state[0], head)
    mode = "full" if names is None else "incremental"
    report = Report(repo=repo.name, mode=mode, serial=head)
    if names is not None and not names:
        if state is not None and state[0] != head:
            catalog.record_generation(repo, head, RENDER_VERSION, {})
        report.mode = "unchanged"
        return report

    base = simple_dir(output, repo.name)
    site_files = output / "files"
    link = store is not None and store.root.resolve() != site_files.resolve()
    # Incrementally, only the changed projects' site entries are read (all of them only
    # when the root index must be rewritten): each upload stays cheap in a large catalog.
    previous = catalog.site_projects(repo, names)
    shown: dict[NormalizedName, str | None] = {}
    # A full generation lists the output once. A project without a directory gets it
    # written whole in one step (no read, one rename: 100k new projects cost a third of
    # the system calls of page-by-page writes); the listing also finds leftovers.
    on_disk = _project_dirs(base) if names is None else None
    relative = str(base.relative_to(output))

    for project in catalog.iter_projects(repo, names):
        if link and store is not None:
            for f in project.files:
                key = file_key(f.sha256, f.filename)
                if f.url is not None and not store.exists(key):
                    continue  # a mirrored file not fetched yet: the sidecar fetches it lazily
                store.link_into(key, site_files)
                for extra in (".metadata", ".asc"):
                    if store.exists(key + extra):
                        store.link_into(key + extra, site_files)
        page_dir = base / project.name
        html = renderer.project_html(project, PROJECT_FILES_PREFIX)
        data = project_json(project, PROJECT_FILES_PREFIX)
        pages = {"index.html": html, "index.json": data}
        is_new = project.name not in on_disk if on_disk is not None else not page_dir.is_dir()
        if is_new:
            write_new_directory(page_dir, pages)
            written = list(pages)
        else:
            written = [n for n, content in pages.items() if write_if_changed(page_dir / n, content)]
        for page in written:
            report.written += 1
            report.pages.append(f"{relative}/{project.name}/{page}")
        shown[project.name] = project.display_name
        report.projects += 1
        if progress is not None:
            progress(1)

    if names is None:
        current = dict(shown)
        gone = {name for name in previous if name not in current}
        gone |= {name for name in on_disk or () if name not in current}
    else:
        gone = {name for name in names if name not in shown}
    for name in gone:
        shown[name] = None

    root_changed = names is None or any(
        previous.get(n) != shown.get(n) for n in shown
    )
    if root_changed:
        if names is not None:
            current = {n: d for n, d in catalog.site_projects(repo).items() if n not in gone}
            current.update({n: d for n, d in shown.items() if d is not None})
        listing = sorted((n, d) for n, d in current.items() if d is not None)
        html_root = renderer.root_html(listing)
        json_root = root_json(listing)
        for path, content in ((base / "index.html", html_root), (base / "index.json", json_root)):
            if write_if_changed(path, content):
                report.written += 1
                report.root_written = True
                report.pages.append(str(path.relative_to(output)))

    for name in sorted(gone):
        page_dir = base / name
        if page_dir.is_dir():
            shutil.rmtree(page_dir)
            report.deleted += 1
    catalog.record_generation(repo, head, RENDER_VERSION, shown)
    return report


def _project_dirs(base: Path) -> set[NormalizedName]:
    """The project directories on disk; removes temporary ones a crashed run left.

    Runs under the generation lock, so every hidden ``.tmp`` directory is a leftover.
    """
    try:
        entries = list(os.scandir(base))
    except FileNotFoundError:
        return set()
    found: set[NormalizedName] = set()
    for e in entries:
        if not e.is_dir():
            continue
        if not e.name.startswith("."):
            found.add(NormalizedName(e.name))
        elif e.name.endswith(".tmp"):
            shutil.rmtree(e.path, ignore_errors=True)
    return found
