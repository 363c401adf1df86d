"""Generating the web UI beside the index, from the same catalog, incrementally.

For each repository (after its ``latest`` index), ``WebUi.generate_repo`` renders:

    <out>/<repo>/project/<name>/…              package and version pages, only of changed
                                               projects (``generator.output.packagepages``)
    <out>/<repo>/search/<c>.json               search shards (first character <c>)
    <out>/<repo>/packages/<p>/index.html       the package list by name prefix (bounded pages)
    <out>/<repo>/index.html                    the repository page, when anything changed

and ``WebUi.finish`` the home page ``<out>/index.html`` and the assets in
``<out>/static/``. Every write is atomic and skipped when the bytes are unchanged.

Incremental like the index: a watermark (the last event serial rendered) is kept in
``<out>/<repo>/.webui.json``, written last, so a crash makes the next run redo the
work. Each shard's rows are kept in ``<out>/<repo>/.webui/<c>.json`` so that a change
rewrites only its shard (both in ``generator.output.uistate``). Hidden files are never served (nginx and ``serve`` refuse dot
paths). The catalog is streamed (one batch of projects in memory); a full run keeps the
list row of every project (a few hundred bytes each) for the shards and lists.

A full run of the index and the UI together is one pass: the package pages are the
index pass's companion (``FullPass``, see ``generator.output.index.generate_index``), so each project is
read once and the pages are written by every process of a parallel pass.

Descriptions are rendered in helper processes with a deadline; each package page keeps
its rendered description in a hidden ``.description.html`` (``generator.output.packagepages``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.catalog.cooldown import describe_cooldown
from generator.output.descriptions import DescriptionPool, default_pool
from generator.output.packagepages import PackagePages
from generator.output.uistate import (
    DATA,
    UiReport,
    UiState,
    read_rows,
    read_state,
    write_rows,
    write_state,
)
from generator.records import Activity, Advisory, ProjectState, Repo, Source
from generator.render.fasthtml import show_time
from generator.render.markup import MARKUP_VERSION
from generator.render.ui import (
    ACTIVITY_LIMIT,
    INLINE_LIMIT,
    UI_VERSION,
    NewestUpload,
    PackageRow,
    RepoCard,
    UiRenderer,
    prefix_pages,
    search_shard,
    shard_key,
)
from generator.resources import site_dir
from generator.storage.atomic import new_directory_temp, write_if_changed
from generator.storage.store import BlobStore

# Projects per catalog round trip for summaries (well under SQLite's variable limit).
BATCH = 256


class WebUi:
    """Writes the web UI of an output directory; ``store`` supplies descriptions."""

    def __init__(
        self, catalog: Catalog, output: Path, base_url: str, *,
        store: BlobStore | None = None, renderer: UiRenderer | None = None,
        descriptions: DescriptionPool | None = None,
    ) -> None:
        self.catalog = catalog
        self.output = output
        self.base_url = base_url
        self.store = store
        self.renderer = renderer or UiRenderer()
        self.descriptions = descriptions or default_pool()
        self.pages = PackagePages(self.renderer, base_url, store, self.descriptions)
        # The advisories of the batch of projects being written, by project.
        self._advisories: dict[NormalizedName, tuple[Advisory, ...]] = {}

    # -- repositories ---------------------------------------------------------------------

    def generate_repo(self, repo: Repo, *, full: bool = False) -> UiReport:
        """Bring the UI pages of ``repo`` up to date (all of them with ``full``).

        Raises ``StoreError`` when the output cannot be written.
        """
        base = self.output / repo.name
        head = self.catalog.last_event_id()
        state = read_state(base)
        names = self._changed(repo, state, head) if not full else None
        report = UiReport(repo=repo.name, mode="full" if names is None else "incremental")
        if state is not None and names is not None and not names:
            if state.serial != head:
                write_state(base, replace(state, serial=head))
            report.mode = "unchanged"
            return report
        return self._render(repo, base, state, names, head, report)

    def refresh_projects(self, repo: Repo, names: Iterable[str]) -> UiReport:
        """Render again the pages of those of ``names`` that ``repo``'s site shows, and
        the repository page, leaving the watermark where it is: what changed is not in
        the event log (new vulnerability advisories). Everything, when the UI is not
        current."""
        base = self.output / repo.name
        state = read_state(base)
        report = UiReport(repo=repo.name, mode="refresh")
        if state is None or not state.is_current(self.base_url) \
                or not (base / "index.html").is_file():
            return self.generate_repo(repo)
        shown = set(self.catalog.site_projects(repo, names))
        return self._render(repo, base, state, shown, state.serial, report)

    def _render(
        self, repo: Repo, base: Path, state: UiState | None,
        names: set[NormalizedName] | None, head: int, report: UiReport,
    ) -> UiReport:
        """Render ``names`` (None: everything) and the repository page; watermark ``head``."""
        self.pages.vulnerable.clear()
        counts: dict[str, int] | None = None
        vulnerable: set[str] = set()
        if names is not None and state is not None:
            counts = self._incremental(repo, base, names, dict(state.shards), report)
            vulnerable = set(state.vulnerable) - names
        if counts is None:
            report.mode = "full"
            vulnerable = set()
            counts = self._full(repo, base, report)
        vulnerable |= {name for name, hit in self.pages.vulnerable.items() if hit}
        newest = self._write_repo_page(repo, base, counts, report, state, vulnerable)
        write_state(base, UiState(
            serial=head, version=UI_VERSION, markup=MARKUP_VERSION, base_url=self.base_url,
            shards=tuple(sorted(counts.items())), newest_upload=newest,
            vulnerable=tuple(sorted(vulnerable)),
        ))
        return report

    def needs_full(self, repo: Repo, full: bool = False) -> bool:
        """True when ``generate_repo`` would render every page of ``repo``."""
        if full:
            return True
        return self._changed(repo, read_state(self.output / repo.name),
                             self.catalog.last_event_id()) is None

    def _changed(
        self, repo: Repo, state: UiState | None, head: int
    ) -> set[NormalizedName] | None:
        """Projects changed since the watermark; None when everything must be rendered."""
        base = self.output / repo.name
        if state is None or not state.is_current(self.base_url):
            return None
        if not (base / "index.html").is_file():
            return None
        return self.catalog.changed_since(repo, state.serial, head)

    def _full(self, repo: Repo, base: Path, report: UiReport) -> dict[str, int]:
        on_disk = _page_dirs(base / "project")
        writer = _PackageWriter(self, repo, on_disk)
        for project in self.catalog.iter_projects(repo, None):
            writer.add(project)
        done = writer.close()
        report.packages += done.packages
        report.written.extend(done.written)
        return self._finish_full(repo, base, done.rows, on_disk, report)

    def full_pass(self, repo: Repo) -> FullPass | None:
        """The package pages of ``repo`` as a companion of the index's full pass (see
        ``generate_repo``), or None when they cannot be written from another process
        (a store that is not a local directory); then call ``generate_repo``."""
        if self.store is not None and self.store.local_root is None:
            return None
        on_disk = frozenset(_page_dirs(self.output / repo.name / "project"))
        return FullPass(output=self.output, base_url=self.base_url, store=self.store,
                        repo=repo, on_disk=on_disk,
                        description_timeout=self.descriptions.deadline)

    def complete_full(
        self, repo: Repo, full_pass: FullPass, parts: Sequence[PassResult], serial: int,
    ) -> UiReport:
        """After the index's full pass rendered the package pages (``parts``, in name
        order): the search shards, the package lists, the repository page, and the
        watermark ``serial`` (the catalog's head when the pass began)."""
        base = self.output / repo.name
        report = UiReport(repo=repo.name, mode="full")
        rows: list[PackageRow] = []
        vulnerable: set[str] = set()
        for part in parts:
            report.packages += part.packages
            report.written.extend(part.written)
            rows.extend(part.rows)
            vulnerable.update(part.vulnerable)
        counts = self._finish_full(repo, base, rows, set(full_pass.on_disk), report)
        newest = self._write_repo_page(repo, base, counts, report, read_state(base), vulnerable)
        write_state(base, UiState(
            serial=serial, version=UI_VERSION, markup=MARKUP_VERSION, base_url=self.base_url,
            shards=tuple(sorted(counts.items())), newest_upload=newest,
            vulnerable=tuple(sorted(vulnerable)),
        ))
        return report

    def _finish_full(
        self, repo: Repo, base: Path, rows: Sequence[PackageRow], on_disk: set[str],
        report: UiReport,
    ) -> dict[str, int]:
        """Everything of a full run after the package pages (``rows`` in name order)."""
        old_letters = {p.stem for p in (base / DATA).glob("*.json")}
        by_letter: dict[str, list[PackageRow]] = {}
        for row in rows:
            by_letter.setdefault(shard_key(row.name), []).append(row)
        counts = {
            letter: self._write_shard(base, letter, shard, report)
            for letter, shard in by_letter.items()
        }
        seen = {row.name for row in rows}
        for name in sorted(on_disk - seen):
            self._remove(base / "project" / name, report)
        for gone in sorted(old_letters - set(counts)):
            self._remove_shard(base, gone, report)
        letters = "".join(sorted(counts))
        for key in letters:
            self._write_list_pages(repo, base, key, by_letter[key], None, letters, report)
        return counts

    def _incremental(
        self, repo: Repo, base: Path, names: set[NormalizedName], counts: dict[str, int],
        report: UiReport,
    ) -> dict[str, int] | None:
        """Render the changed projects; None when the kept shard rows are unusable
        (then the caller renders everything)."""
        projects_dir = base / "project"
        found: dict[NormalizedName, PackageRow] = {}
        for project, summary in self._projects(repo, names):
            found[project.name] = self._write_package(
                repo, project, summary, projects_dir,
                not (projects_dir / project.name).is_dir(), report,
            )
        for name in sorted(names - set(found)):
            self._remove(projects_dir / name, report)
            # A killed run may have left its page half-written; nothing rewrites it now.
            shutil.rmtree(new_directory_temp(projects_dir / name), ignore_errors=True)
        before = "".join(sorted(counts))
        affected: dict[str, list[NormalizedName]] = {}
        for name in names:
            affected.setdefault(shard_key(name), []).append(name)
        updated: dict[str, tuple[list[PackageRow], list[PackageRow]]] = {}
        for letter, changed in sorted(affected.items()):
            kept = read_rows(base, letter)
            if kept is None:
                if counts.get(letter):
                    return None
                kept = []
            rows = {r.name: r for r in kept}
            before_rows = {name: rows.get(name) for name in changed}
            for name in changed:
                rows.pop(name, None)
                if name in found:
                    rows[name] = found[name]
            # A change that leaves the project's row as it was (a yank of an older
            # release) changes neither the shard nor the list pages.
            if all(rows.get(name) == row for name, row in before_rows.items()):
                continue
            if rows:
                ordered = [rows[n] for n in sorted(rows)]
                counts[letter] = self._write_shard(base, letter, ordered, report)
                updated[letter] = (kept, ordered)
            else:
                counts.pop(letter, None)
                self._remove_shard(base, letter, report)
        letters = "".join(sorted(counts))
        for key in letters:
            if letters != before:  # every page's letter navigation changes
                rows_now = updated[key][1] if key in updated else read_rows(base, key) or []
                self._write_list_pages(repo, base, key, rows_now, None, letters, report)
            elif key in updated:
                old, new = updated[key]
                self._write_list_pages(repo, base, key, new, old, letters, report)
        return counts

    def _projects(
        self, repo: Repo, names: Iterable[str] | None
    ) -> Iterator[tuple[ProjectState, str]]:
        """The repository's projects (only ``names``) in name order, with their summaries."""
        batch: list[ProjectState] = []
        for project in self.catalog.iter_projects(repo, names):
            batch.append(project)
            if len(batch) >= BATCH:
                yield from self._with_summaries(batch)
                batch = []
        yield from self._with_summaries(batch)

    def _with_summaries(
        self, batch: Sequence[ProjectState]
    ) -> Iterator[tuple[ProjectState, str]]:
        self._advisories = self.catalog.advisories_for([p.name for p in batch]) if batch else {}
        by_source: dict[str, list[str]] = {}
        for p in batch:
            by_source.setdefault(p.source, []).append(p.name)
        summaries = {
            (source, name): summary
            for source, wanted in by_source.items()
            for name, summary in self.catalog.project_summaries(source, wanted).items()
        }
        for p in batch:
            yield p, summaries.get((p.source, p.name), "")

    # -- pages ------------------------------------------------------------------------------

    def _write_package(
        self, repo: Repo, project: ProjectState, summary: str, projects_dir: Path,
        is_new: bool, report: UiReport,
    ) -> PackageRow:
        """Write the project's pages (``generator.output.packagepages``); its list row."""
        return self.pages.write(repo, project, summary, projects_dir / project.name,
                                is_new, report, self._advisories.get(project.name, ()))

    def prepare_description(self, sha256: str, filename: str) -> None:
        """Render the description of a file just added, before the generation lock is
        taken: the render inside it is then a lookup in the pool's cache."""
        self.pages.prepare_description(sha256, filename)

    def _write_shard(
        self, base: Path, letter: str, rows: Sequence[PackageRow], report: UiReport
    ) -> int:
        """Write one shard's kept rows and its search file; the number of rows."""
        write_rows(base, letter, rows)
        if write_if_changed(base / "search" / f"{letter}.json", search_shard(rows)):
            report.written.append(f"{base.name}/search/{letter}.json")
        return len(rows)

    def _remove_shard(self, base: Path, letter: str, report: UiReport) -> None:
        for path in (base / "search" / f"{letter}.json", base / DATA / f"{letter}.json"):
            if path.exists():
                path.unlink()
                report.deleted.append(str(path.relative_to(self.output)))
        for prefix in sorted(_list_page_dirs(base, letter)):
            self._remove(base / "packages" / prefix, report)

    def _write_list_pages(
        self, repo: Repo, base: Path, letter: str, rows: Sequence[PackageRow],
        old_rows: Sequence[PackageRow] | None, letters: str, report: UiReport,
    ) -> None:
        """Write the package-list pages of one letter. With ``old_rows`` (the rows its
        pages show now, under the same letter navigation), only the pages whose rows or
        groups differ: a changed row re-renders its own page, not the pages on the way
        to it unless a name came or went. Pages no longer needed are removed."""
        pages = prefix_pages(rows, letter)
        if old_rows is None:
            existing = _list_page_dirs(base, letter)
            chosen = pages
        else:
            before = {p.prefix: p for p in prefix_pages(old_rows, letter)}
            existing = set(before)
            chosen = [p for p in pages if before.get(p.prefix) != p]
        for page in chosen:
            html = self.renderer.prefix_html(repo, page, letters)
            if write_if_changed(base / "packages" / page.prefix / "index.html", html):
                report.written.append(f"{repo.name}/packages/{page.prefix}/index.html")
        for prefix in sorted(existing - {p.prefix for p in pages}):
            self._remove(base / "packages" / prefix, report)

    def _write_repo_page(
        self, repo: Repo, base: Path, counts: dict[str, int], report: UiReport,
        state: UiState | None, vulnerable: Set[str] = frozenset(),
    ) -> tuple[str, ...]:
        """Write the repository page; the newest upload for the home page (from the
        recent activity, else as ``state`` kept it). ``vulnerable``: the projects whose
        latest version is affected (counted once the catalog holds advisories)."""
        total = sum(counts.values())
        rows: list[PackageRow] | None = None
        if total <= INLINE_LIMIT:
            rows = [r for letter in sorted(counts) for r in read_rows(base, letter) or []]
        sources = _sources_of(self.catalog.list_sources(), repo)
        activity = self._activity(repo)
        cooldown = self.catalog.cooldown(repo)
        html = self.renderer.repo_html(
            repo=repo, sources=sources, base_url=self.base_url, projects=total,
            shards="".join(sorted(counts)), rows=rows, activity=activity,
            vulnerable=(tuple(sorted(vulnerable)) if self.catalog.has_advisories() else None),
            cooldown=describe_cooldown(cooldown) if cooldown is not None else "",
            allowances=[a for a in self.catalog.cooldown_allowances(repo) if a.revoked_at is None]
            if cooldown is not None else (),
        )
        if write_if_changed(base / "index.html", html):
            report.written.append(f"{repo.name}/index.html")
        added = next((a for a in activity if a.kind == "file_added"), None)
        if added is not None:
            return (added.at, added.project, added.display_name, added.version)
        return state.newest_upload if state is not None and total else ()

    def _activity(self, repo: Repo) -> list[Activity]:
        """Recent events of the projects as the repository shows them: an event of a
        source that another, higher-priority source shadows is left out."""
        owners: dict[str, str | None] = {}
        shown: list[Activity] = []
        events = self.catalog.recent_activity(repo, ACTIVITY_LIMIT * 3)
        if self.catalog.cooldown(repo) is not None:
            events = self._listed_activity(repo, events)
        for event in events:
            if event.project not in owners:
                holding = {s.name for s in self.catalog.sources_with_project(event.project)}
                owners[event.project] = next((s for s in repo.sources if s in holding), None)
            owner = owners[event.project]
            if owner is None or owner == event.source:
                shown.append(event)
            if len(shown) == ACTIVITY_LIMIT:
                break
        return shown

    def _listed_activity(self, repo: Repo, events: list[Activity]) -> list[Activity]:
        """``events`` without those about files a cooldown repository does not list yet
        (their pages do not exist); removals stay."""
        listed = {
            f.filename for p in self.catalog.iter_projects(repo, {e.project for e in events})
            for f in p.files
        }
        return [e for e in events if e.kind == "file_removed" or e.filename in listed]

    def _remove(self, path: Path, report: UiReport) -> None:
        if path.is_dir():
            shutil.rmtree(path)
            report.deleted.append(str(path.relative_to(self.output)))

    # -- the site ---------------------------------------------------------------------------

    def finish(self) -> list[str]:
        """Write the home page and the static assets; the paths written."""
        written = copy_static(self.output)
        sources = self.catalog.list_sources()
        cards = []
        for repo in self.catalog.list_repos():
            state = read_state(self.output / repo.name)
            newest = state.newest_upload if state else ()
            cards.append(RepoCard(
                name=repo.name, description=repo.description,
                sources=tuple(_sources_of(sources, repo)),
                projects=state.projects if state else 0,
                shards=state.letters if state else "",
                newest_upload=NewestUpload(
                    at=show_time(newest[0]), project=newest[1], display_name=newest[2],
                    version=newest[3],
                ) if len(newest) == 4 else None,
                newest_snapshot=_newest_snapshot(self.output / repo.name),
            ))
        if write_if_changed(self.output / "index.html", self.renderer.home_html(cards)):
            written.append("index.html")
        return written


@dataclass(frozen=True, slots=True, kw_only=True)
class PassResult:
    """What one part of a full pass wrote: its package rows in name order."""

    rows: tuple[PackageRow, ...]
    written: tuple[str, ...]
    packages: int
    # The projects whose latest version an advisory affects.
    vulnerable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FullPass:
    """The package pages of a repository, written during the index's full pass
    (``generator.output.index.Companion``): picklable, each process opens its own writer."""

    output: Path
    base_url: str
    store: BlobStore | None
    repo: Repo
    on_disk: frozenset[str]
    description_timeout: float

    def open(self, catalog: Catalog) -> _PackageWriter:
        ui = WebUi(catalog, self.output, self.base_url, store=self.store,
                   descriptions=default_pool(self.description_timeout))
        return _PackageWriter(ui, self.repo, self.on_disk)


class _PackageWriter:
    """Writes package pages of projects given in name order, a batch at a time (one
    catalog query for the batch's summaries); keeps their list rows."""

    def __init__(self, ui: WebUi, repo: Repo, on_disk: Set[str]) -> None:
        self.ui = ui
        self.repo = repo
        self.on_disk = on_disk
        self.directory = ui.output / repo.name / "project"
        self.batch: list[ProjectState] = []
        self.report = UiReport(repo=repo.name, mode="full")
        self.rows: list[PackageRow] = []

    def add(self, project: ProjectState) -> None:
        self.batch.append(project)
        if len(self.batch) >= BATCH:
            self._flush()

    def close(self) -> PassResult:
        self._flush()
        return PassResult(rows=tuple(self.rows), written=tuple(self.report.written),
                          packages=self.report.packages,
                          vulnerable=tuple(sorted(
                              n for n, hit in self.ui.pages.vulnerable.items() if hit)))

    def _flush(self) -> None:
        for project, summary in self.ui._with_summaries(self.batch):
            self.rows.append(self.ui._write_package(
                self.repo, project, summary, self.directory,
                project.name not in self.on_disk, self.report,
            ))
        self.batch = []


def copy_static(output: Path) -> list[str]:
    """Copy ``site/static/`` into ``<out>/static/``; the paths written."""
    written = []
    source = site_dir() / "static"
    for path in sorted(source.iterdir()):
        if (
            path.is_file() and not path.name.startswith(".")
            and write_if_changed(output / "static" / path.name, path.read_bytes())
        ):
            written.append(f"static/{path.name}")
    return written


def _list_page_dirs(base: Path, letter: str) -> set[str]:
    """The package-list page directories of one letter on disk."""
    try:
        return {e.name for e in os.scandir(base / "packages")
                if e.is_dir() and e.name.startswith(letter)}
    except FileNotFoundError:
        return set()


def _newest_snapshot(base: Path) -> str:
    """The newest day in the repository's ``snapshots.json`` ("" when none or unreadable)."""
    try:
        document = json.loads((base / "snapshots.json").read_bytes())
        days = [str(s["date"]) for s in document["snapshots"]]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return max(days, default="")


def _sources_of(sources: Iterable[Source], repo: Repo) -> list[Source]:
    by_name = {s.name: s for s in sources}
    return [by_name[name] for name in repo.sources if name in by_name]


def _page_dirs(directory: Path) -> set[str]:
    """Package page directories on disk; removes temporary ones a crashed run left."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return set()
    found: set[str] = set()
    for e in entries:
        if not e.is_dir():
            continue
        if not e.name.startswith("."):
            found.add(e.name)
        elif e.name.endswith(".tmp"):
            shutil.rmtree(e.path, ignore_errors=True)
    return found
