"""Dated snapshots: the state of a repository at the end of each UTC day, frozen.

The snapshot of repository R for day D is R's state just before ``D+1 00:00 UTC``,
replayed from the catalog (``Catalog.iter_projects_at``). Only ended days have one.

Materialization writes ``<out>/<R>/<D>/simple/`` once and never touches it again:

    <out>/<R>/.pages/<h[0:2]>/<h>/index.html.gz|index.json.gz  a project's pages, by content
    <out>/<R>/<D>/simple/<project>  → ../../.pages/…             one symbolic link per project
    <out>/<R>/<D>/simple/index.html.gz|index.json.gz            the day's root (hard links
                                                                 to .pages/root/<h>.…)

so a page that did not change is stored once, and a new day costs what changed that day
plus one directory entry per project. Pages are stored gzip-compressed
(``generator.snapshots.frozen``: a changed project then adds one block per page, not two or three)
and served decompressed to any client that does not take gzip. It re-renders only the projects with events that
day; every other project's entry is a hard link to the previous day's symbolic link
(the same inode, so a day allocates no inode per project and reads no link target;
``generator.snapshots.daylinks``, in a helper process for a large day), and the root pages are
the previous day's when no project came, went or was renamed. A day is built under a
hidden name and renamed into place whole; the catalog records it (with the render
version) last. A day is rendered in the format in force at its end
(``generator.snapshots.ondemand.format_at``); the first day of a new format shares
nothing with the day before it.
A retention policy (``generator.snapshots.calendar``) bounds the days kept; other days
are rendered on demand by the sidecar with the same code (``generator.snapshots.ondemand``),
hence the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

from generator.catalog.catalog import Catalog
from generator.policy.listing import listed_projects
from generator.records import Repo
from generator.render.simple import Renderer, dumps
from generator.snapshots.calendar import Retention, day_end, history_days, snapshot_days
from generator.snapshots.daylinks import LinkJob, share_links
from generator.snapshots.frozen import SUFFIX, compress_page, read_served_page, stored_page
from generator.snapshots.ondemand import day_renderer, render_project, render_root
from generator.storage.atomic import write_bytes, write_if_changed, write_new_directory
from generator.workers import second_cpu

PAGES = ".pages"
# Below this, a helper process costs more than the links it would take off the day (and
# with one CPU it takes nothing off).
PARALLEL_LINKS_MIN = 20_000


@dataclass(slots=True)
class SnapshotReport:
    """What one materialization pass did for one repository."""

    repo: str
    written: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    rendered_projects: int = 0


def page_hash(html: bytes, data: bytes) -> str:
    """The name a project's pages are stored under: 128 bits of their sha256, in hex.

    Short on purpose: a day holds one symbolic link per project, and ext4 keeps a link
    whose target is under 60 bytes inside its inode ("fast symlink"). With a whole sha256
    the target (``../../.pages/xx/`` + 64) takes a 4 KiB block, per project, per day:
    for 100k projects, 400 MB a day instead of nothing.
    """
    return hashlib.sha256(html + b"\0" + data).hexdigest()[:32]


class Materializer:
    """Writes the missing days of one repository (see the module docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        renderer: Renderer,
        output: Path,
        repo: Repo,
        retention: Retention | None = None,
        *,
        parallel_links_from: int | None = None,
    ) -> None:
        self.catalog, self.renderer, self.repo = catalog, renderer, repo
        self.base = output / repo.name
        self.pages = self.base / PAGES
        self.retention = retention or Retention()
        # From this many unchanged projects on, their entries are linked by a helper
        # process while the changed ones render (generator.snapshots.daylinks); by default, only
        # with a second CPU.
        if parallel_links_from is None:
            parallel_links_from = PARALLEL_LINKS_MIN if second_cpu() else sys.maxsize
        self.parallel_links_from = parallel_links_from

    def run(self, now: datetime) -> SnapshotReport:
        report = SnapshotReport(repo=self.repo.name)
        today = now.astimezone(UTC).date()
        days = snapshot_days(self.catalog, self.repo, now)
        written = self.catalog.snapshot_days(self.repo)
        self._clean_builds()
        previous: date | None = None
        history = history_days(self.catalog, self.repo)
        observed = history[1] if history else today
        for day in days:
            name = day.isoformat()
            if day < observed:  # reconstructed: rendered on demand only
                continue
            if name in written:
                if (self.base / name).is_dir():
                    previous = day
                continue
            if not self.retention.keeps(day, today):
                continue
            renderer = day_renderer(self.catalog, self.renderer, day)
            if previous is not None and renderer.render_version != day_renderer(
                self.catalog, self.renderer, previous
            ).render_version:
                previous = None  # another format: every page differs from the day before
            report.rendered_projects += self._write_day(day, previous, renderer)
            self.catalog.record_snapshot(
                self.repo, name, renderer.render_version, now, reconstructed=False
            )
            report.written.append(name)
            previous = day
        report.pruned = self._prune(today, days)
        self._write_index(days, observed)
        return report

    def _clean_builds(self) -> None:
        if self.base.is_dir():
            for entry in self.base.iterdir():
                if entry.name.startswith(".build-"):
                    shutil.rmtree(entry, ignore_errors=True)

    def _store_pages(self, html: bytes, data: bytes) -> str:
        digest = page_hash(html, data)  # of the rendered bytes: the same however stored
        target = self.pages / digest[:2] / digest
        if stored_page(target / "index.json") is None:
            # New pages are written whole under a temporary name (one rename, no temporary
            # file per page); a directory without index.json is one a crash left.
            shutil.rmtree(target, ignore_errors=True)
            write_new_directory(target, {f"index.html{SUFFIX}": compress_page(html),
                                         f"index.json{SUFFIX}": compress_page(data)})
        return f"../../{PAGES}/{digest[:2]}/{digest}"

    def _write_day(self, day: date, previous: date | None, renderer: Renderer) -> int:
        name = day.isoformat()
        final = self.base / name
        if final.is_dir():  # renamed into place before a crash: it is complete
            return 0
        at = day_end(day)
        build = self.base / f".build-{name}"
        simple = build / "simple"
        simple.mkdir(parents=True)
        kept: set[str] = set()  # unchanged projects: their entry in the previous day
        listing: dict[NormalizedName, str] = {}
        changed: set[NormalizedName] | None = None
        prior: Path | None = None
        before: dict[NormalizedName, str | None] = {}
        if previous is not None:
            prior = self.base / previous.isoformat() / "simple"
            changed = self.catalog.changed_between(self.repo, day_end(previous), at)
            if changed is not None:
                kept, listing = _link_names(prior), _read_listing(prior / "index.json")
            if kept != listing.keys():  # the previous day is unreadable: start afresh
                changed, kept, listing = None, set(), {}
        if changed is not None:
            before = {name: listing.pop(name, None) for name in changed}
            kept.difference_update(changed)
        job = None
        if prior is not None and len(kept) >= self.parallel_links_from:
            job = LinkJob.start(prior, simple, kept)  # beside the rendering below
        links: dict[str, str] = {}
        rendered = 0
        try:
            for project in listed_projects(
                self.catalog, self.repo, self.catalog.iter_projects_at(self.repo, at, changed),
                at=at, names=changed,
            ):
                pages = render_project(renderer, project)
                links[project.name] = self._store_pages(pages.html, pages.json)
                listing[project.name] = project.display_name
                rendered += 1
            _make_links(simple, links)
            if prior is not None and job is None:
                share_links(prior, simple, kept)
        finally:
            if job is not None:
                job.wait()
        shared: list[Path | None] = []
        if prior is not None and changed is not None and all(
            listing.get(name) == shown for name, shown in before.items()
        ):
            # The same listing as the day before (no project came, went or was renamed):
            # share its root pages instead of rendering every project's name again.
            shared = [stored_page(prior / f"index.{suffix}") for suffix in ("html", "json")]
        if shared and None not in shared:
            for page in filter(None, shared):
                os.link(page, simple / page.name)
        else:
            self._write_root(simple, sorted(listing.items()), renderer)
        os.rename(build, final)
        return rendered

    def _write_root(
        self, simple: Path, listing: list[tuple[NormalizedName, str]], renderer: Renderer
    ) -> None:
        root = render_root(renderer, listing)
        for suffix, content in (("html", root.html), ("json", root.json)):
            digest = hashlib.sha256(content).hexdigest()
            stored = self.pages / "root" / f"{digest}.{suffix}{SUFFIX}"
            if not stored.exists():
                write_bytes(stored, compress_page(content))
            os.link(stored, simple / f"index.{suffix}{SUFFIX}")

    def _prune(self, today: date, days: list[date]) -> list[str]:
        """Remove the days retention no longer keeps, then the pages only they linked.

        Costs what changed, not the size of the repository: a pruned day's page can only
        be unused if its project changed before the next kept day (otherwise that day
        links the same page), and only a project's own entry in a kept day can link its
        pages (a page holds its project's name), so only those entries are read.
        """
        on_disk = [d for d in days if (self.base / d.isoformat() / "simple").is_dir()]
        doomed = [d for d in on_disk if not self.retention.keeps(d, today)]
        kept = [d for d in on_disk if self.retention.keeps(d, today)]
        candidates: dict[str, set[str]] = {}
        for day in doomed:
            after = next((k for k in kept if k > day), None)
            names = (
                None if after is None
                else self.catalog.changed_between(self.repo, day_end(day), day_end(after))
            )
            simple = self.base / day.isoformat() / "simple"
            for name, target in _read_links(simple, names).items():
                candidates.setdefault(name, set()).add(target)
        pruned = []
        for day in doomed:
            shutil.rmtree(self.base / day.isoformat())
            self.catalog.forget_snapshot(self.repo, day.isoformat())
            pruned.append(day.isoformat())
        if pruned:
            self._collect_pages(candidates, kept)
        return pruned

    def _collect_pages(self, candidates: dict[str, set[str]], kept: list[date]) -> None:
        """Delete the candidate pages (link targets, by project) no kept day links to,
        and the root pages no day links to."""
        for day in kept:
            if not candidates:
                break
            for name, target in _read_links(self.base / day.isoformat() / "simple",
                                            candidates).items():
                targets = candidates.get(name)
                if targets is not None:
                    targets.discard(target)
                    if not targets:
                        del candidates[name]
        prefix = f"../../{PAGES}/"
        for targets in candidates.values():
            for target in targets:
                if target.startswith(prefix) and ".." not in target[len(prefix):]:
                    shutil.rmtree(self.pages / target[len(prefix):], ignore_errors=True)
        roots = self.pages / "root"
        for entry in roots.iterdir() if roots.is_dir() else ():
            if entry.stat().st_nlink <= 1:
                entry.unlink()

    def _write_index(self, days: list[date], observed: date) -> None:
        written = self.catalog.snapshot_days(self.repo)
        document = {
            "repository": self.repo.name,
            "snapshots": [
                {
                    "date": d.isoformat(),
                    "url": f"{d.isoformat()}/simple/",
                    "materialized": d.isoformat() in written,
                    "reconstructed": d < observed or (
                        d.isoformat() in written and written[d.isoformat()].reconstructed
                    ),
                }
                for d in days
            ],
            "latest": "latest/simple/",
        }
        write_if_changed(self.base / "snapshots.json", dumps(document))


def _make_links(simple: Path, links: dict[str, str]) -> None:
    """One symbolic link per project in the directory ``simple`` (names relative to it:
    100k links a day, so no path is built or resolved per link)."""
    fd = os.open(simple, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name, target in links.items():
            os.symlink(target, name, dir_fd=fd)
    finally:
        os.close(fd)


def _link_names(simple: Path) -> set[str]:
    """The projects of a day's ``simple/``: its symbolic links."""
    with contextlib.suppress(FileNotFoundError), os.scandir(simple) as entries:
        return {entry.name for entry in entries if entry.is_symlink()}
    return set()


def _read_links(simple: Path, names: Iterable[str] | None = None) -> dict[str, str]:
    """Project → link target of a day's ``simple/`` (only ``names``, when given)."""
    links: dict[str, str] = {}
    if names is None:
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(simple):
                if entry.is_symlink():
                    links[entry.name] = os.readlink(entry.path)
        return links
    for name in names:
        with contextlib.suppress(OSError):  # not in that day (or not a link)
            links[name] = os.readlink(simple / name)
    return links


def _read_listing(path: Path) -> dict[NormalizedName, str]:
    try:
        document = json.loads(read_served_page(path))
    except (OSError, ValueError):
        return {}
    shown = [p["name"] for p in document.get("projects", ())]
    # One call for the whole list (100k names: 20 ms instead of 200): normalizing leaves
    # a newline alone, and no project name holds one (else: one call per name).
    names = [NormalizedName(n) for n in canonicalize_name("\n".join(shown)).split("\n")]
    if len(names) != len(shown):
        names = [canonicalize_name(display) for display in shown]
    return dict(zip(names, shown, strict=True))
