"""Incremental generation of a repository's static index.

``generate_index`` renders only the projects whose state changed since the watermark in
the catalog (the last event serial it rendered), never rewrites a byte-identical page, and
writes in the order that keeps the served site consistent at every instant:

    files (and .metadata, .asc)  →  project pages  →  root index
    →  deletion of pages of projects that are gone  →  watermark (in the catalog)

A crash anywhere leaves the previous pages or the new ones, each whole; since the
watermark moves last, the next run redoes the interrupted work.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.policy.listing import listed_projects
from generator.records import ProjectState, Repo
from generator.render.simple import (
    PROJECT_FILES_PREFIX,
    RENDER_VERSION,
    Renderer,
    project_json,
    root_json,
)
from generator.storage.atomic import new_directory_temp, write_if_changed, write_new_directory
from generator.storage.store import BlobStore, file_key

Progress = Callable[[int], None]
# What a companion's writer returns for its part of a full pass (the web UI's PassResult).
PartT = TypeVar("PartT")
PartT_co = TypeVar("PartT_co", covariant=True)
# A full generation of at least this many projects renders in several processes, one
# run of project names each (``Catalog.split_projects``): rendering and the file system
# calls take about the same time, so on 2 cores 1M files take about half as long.
PARALLEL_MIN_PROJECTS = 5000


class CompanionWriter(Protocol[PartT_co]):
    """Receives every project of a full pass, in name order, after its index pages."""

    def add(self, project: ProjectState) -> None: ...

    def close(self) -> PartT_co:
        """Finish the part; what it returns must be picklable (it may cross processes)."""


class Companion(Protocol[PartT_co]):
    """Other pages made from the same projects (the web UI's package pages): a full
    generation hands them each project it reads, so the catalog is read once, in every
    process of the pass. Must be picklable."""

    def open(self, catalog: Catalog) -> CompanionWriter[PartT_co]: ...


@dataclass(slots=True)
class Report(Generic[PartT_co]):
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
    # A full pass with a companion: what each part's writer returned, in name order.
    companion: tuple[PartT_co, ...] | None = None


def simple_dir(output: Path, repo: str) -> Path:
    """Where the live (``latest``) index of a repository is written."""
    return output / repo / "latest" / "simple"


def generate_index(
    catalog: Catalog,
    renderer: Renderer,
    output: Path,
    repo: Repo,
    *,
    store: BlobStore | None = None,
    full: bool = False,
    progress: Progress | None = None,
    companion: Companion[PartT] | None = None,
    now: datetime | None = None,
) -> Report[PartT]:
    """Bring ``output/<repo>/latest/simple/`` up to date with the catalog.

    The latest pages are always in the current format (``RENDER_VERSION``): the first
    generation in a new one records it in the catalog from ``now`` on (the day that is
    not over yet and every later one are rendered in it; days that ended before keep
    theirs: ``generator.snapshots.ondemand.format_at``).

    ``store``, when it ``needs_links`` into ``output/files``, is linked into it first.
    ``companion`` is given every project when the pass is a full one (then
    ``report.companion`` holds its results; else it stays None and nothing was given).
    Raises ``StoreError`` when the output cannot be written (the site stays as it was).
    """
    catalog.record_render_format(RENDER_VERSION, now or datetime.now(UTC))
    head = catalog.last_event_id()
    state = catalog.generation_state(repo)
    names: set[NormalizedName] | None = None
    if state is not None and not renders_everything(catalog, output, repo, full=full):
        names = catalog.changed_since(repo, state.last_event_id, head)
    mode = "full" if names is None else "incremental"
    report: Report[PartT] = Report(repo=repo.name, mode=mode, serial=head)
    if names is not None and not names:
        if state is not None and state.last_event_id != head:
            catalog.record_generation(repo, head, RENDER_VERSION, {})
        report.mode = "unchanged"
        return report

    base = simple_dir(output, repo.name)
    site_files = output / "files"
    link = store is not None and store.needs_links(site_files)
    # Incrementally, only the changed projects' site entries are read (all of them only
    # when the root index must be rewritten): each upload stays cheap in a large catalog.
    previous = catalog.site_projects(repo, names)
    shown: dict[NormalizedName, str | None] = {}
    # A full generation lists the output once. A project without a directory gets it
    # written whole in one step (no read, one rename: 100k new projects cost a third of
    # the system calls of page-by-page writes); the listing also finds leftovers.
    on_disk = _project_dirs(base) if names is None else None
    pages = _Pages(output, base, on_disk, store if link else None)
    bounds: list[str | None] = [None, None]
    if names is None and type(renderer) is Renderer:
        bounds = catalog.split_projects(
            repo, min(2, os.cpu_count() or 1), min_size=PARALLEL_MIN_PROJECTS // 2
        )
    if len(bounds) > 2:
        parts = [
            _Part(
                catalog=catalog.path, templates=renderer.directory, repo=repo,
                start=start, stop=stop, pages=pages.subset(start, stop), companion=companion,
            )
            for start, stop in itertools.pairwise(bounds[1:])
        ]
        # spawn, not fork: the sidecar generates from a thread of a threaded server.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(parts), mp_context=context) as pool:
            futures = [pool.submit(_render_part, part) for part in parts]
            writer = companion.open(catalog) if companion is not None else None
            pages.render(
                renderer,
                listed_projects(catalog, repo,
                                catalog.iter_projects(repo, start=None, stop=bounds[1])),
                progress,
                writer,
            )
            results = [writer.close()] if writer is not None else []
            for future in futures:
                done, result = future.result()
                pages.merge(done, progress)
                if result is not None:
                    results.append(result)
        if companion is not None:
            report.companion = tuple(results)
    else:
        writer = companion.open(catalog) if companion is not None and names is None else None
        pages.render(
            renderer,
            listed_projects(catalog, repo, catalog.iter_projects(repo, names), names=names),
            progress, writer,
        )
        if writer is not None:
            report.companion = (writer.close(),)
    shown.update(pages.shown)
    report.projects, report.written = len(pages.shown), len(pages.written)
    report.pages.extend(pages.written)

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
        # A killed run may have left the project's pages half-written; nothing rewrites them.
        shutil.rmtree(new_directory_temp(page_dir), ignore_errors=True)
    catalog.record_generation(repo, head, RENDER_VERSION, shown)
    return report


def renders_everything(catalog: Catalog, output: Path, repo: Repo, *, full: bool) -> bool:
    """True when ``generate_index`` would render every project (a full pass)."""
    if full:
        return True
    state = catalog.generation_state(repo)
    # Without a root page the output was wiped or moved: the watermark no longer
    # describes it, so render everything.
    present = (simple_dir(output, repo.name) / "index.html").is_file()
    return not present or state is None or state.render_version != RENDER_VERSION


@dataclass(slots=True)
class _Pages:
    """Writes project pages into ``base``; what it wrote, and the projects it showed.

    ``on_disk`` (a full generation's listing of ``base``, else None: look per project)
    tells new projects, written as one new directory, from existing ones, rewritten
    page by page when changed. ``store``, when set, is linked into ``output/files``.
    """

    output: Path
    base: Path
    on_disk: set[NormalizedName] | None
    store: BlobStore | None
    shown: dict[NormalizedName, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    def subset(self, start: str | None, stop: str | None) -> _Pages:
        """The same writer for the names in ``[start, stop)`` (for another process)."""
        on_disk = None if self.on_disk is None else {
            n for n in self.on_disk
            if (start is None or n >= start) and (stop is None or n < stop)
        }
        return _Pages(self.output, self.base, on_disk, self.store)

    def render(
        self, renderer: Renderer, projects: Iterable[ProjectState], progress: Progress | None,
        companion: CompanionWriter[object] | None = None,
    ) -> None:
        relative = str(self.base.relative_to(self.output))
        for project in projects:
            if self.store is not None:
                _link_files(self.store, project, self.output / "files")
            page_dir = self.base / project.name
            html = renderer.project_html(project, PROJECT_FILES_PREFIX)
            data = project_json(project, PROJECT_FILES_PREFIX)
            pages = {"index.html": html, "index.json": data}
            if self.on_disk is not None:
                is_new = project.name not in self.on_disk
            else:
                is_new = not page_dir.is_dir()
            if is_new:
                write_new_directory(page_dir, pages)
                written = list(pages)
            else:
                written = [
                    n for n, content in pages.items() if write_if_changed(page_dir / n, content)
                ]
            self.written.extend(f"{relative}/{project.name}/{page}" for page in written)
            self.shown[project.name] = project.display_name
            if companion is not None:
                companion.add(project)
            if progress is not None:
                progress(1)

    def merge(self, other: _Pages, progress: Progress | None) -> None:
        self.shown.update(other.shown)
        self.written.extend(other.written)
        if progress is not None:
            progress(len(other.shown))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Part(Generic[PartT_co]):
    """One run of project names to render in another process."""

    catalog: Path | str
    templates: Path
    repo: Repo
    start: str | None
    stop: str | None
    pages: _Pages
    companion: Companion[PartT_co] | None


def _render_part(part: _Part[PartT]) -> tuple[_Pages, PartT | None]:
    """Render one part (in a worker process); its writer with what it did, and what the
    companion's writer returned (None without one)."""
    with Catalog(part.catalog) as catalog:
        writer = part.companion.open(catalog) if part.companion is not None else None
        part.pages.render(
            Renderer(part.templates),
            listed_projects(catalog, part.repo,
                            catalog.iter_projects(part.repo, start=part.start, stop=part.stop)),
            None,
            writer,
        )
        return part.pages, writer.close() if writer is not None else None


def _link_files(store: BlobStore, project: ProjectState, site_files: Path) -> None:
    for f in project.files:
        key = file_key(f.sha256, f.filename)
        if f.url is not None and not store.exists(key):
            continue  # a mirrored file not fetched yet: the sidecar fetches it lazily
        store.link_into(key, site_files)
        for extra in (".metadata", ".asc"):
            if store.exists(key + extra):
                store.link_into(key + extra, site_files)


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
