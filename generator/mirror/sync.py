"""Mirroring an upstream index into a source (``timeshelf sync``).

One pass over a source of type ``pypi`` or ``curated-pypi``:

1. Take the source's sync lock (``flock``, non-blocking): overlapping runs from cron
   refuse at once instead of interleaving.
2. Read the upstream root (PEP 691 JSON, else PEP 503 HTML) with the validators of the
   last error-free pass; a 304 ends the pass: one request. A curated source reads no
   root: its list names the projects.
3. Choose the projects to fetch: those whose ``_last-serial`` moved since they were last
   synced, or, when the upstream gives no serials, every project with a conditional
   request (ETag/Last-Modified, so unchanged ones cost a 304). Projects that left the
   listing are removed.
4. Fetch the pages with a bounded pool of workers (``[mirror] workers``); each page
   goes through the source's filters (``generator.mirror.filters``) and is compared with
   the catalog: new files (with history backfill: on a project's first sync a file
   counts from its upstream upload time), yank changes, files gone upstream, the PEP 792
   project status (an event when it changed; a quarantined project's files are kept,
   withheld). With
   ``file_mode = "prefetch"`` new files are downloaded and verified before anything is
   recorded (files before catalog rows, as for uploads).
5. Apply the changes in batches, each one transaction that also records the projects'
   new validators: an interrupted pass keeps what it finished, and the next one redoes
   only the rest.
6. Close the pass: the watermark (the root's validators) advances only if no project
   failed, so a pass that failed midway is resumed by the next run.

The caller regenerates the repositories that subscribe to the source.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.clock import Clock
from generator.config.mirror import MirrorSettings, SourceSettings
from generator.config.pip import configured_index_url
from generator.errors import Conflict, NotFound, TimeshelfError
from generator.mirror.fetch import Fetcher
from generator.mirror.filters import (
    GONE,
    NOT_MODIFIED,
    AllowList,
    BlockList,
    CuratedFilter,
    Fetched,
    MaxFileSize,
    NewestReleases,
    ProjectSource,
    WheelTags,
)
from generator.mirror.http import HttpClient, UpstreamUnavailable, validators
from generator.mirror.plan import (
    gone_change,
    listing_serial,
    plan_project,
    projects_to_fetch,
    vanished_projects,
)
from generator.mirror.report import SyncReport, Tally
from generator.mirror.upstream import (
    ACCEPT,
    ListedProject,
    Listing,
    ProjectPage,
    UpstreamError,
    UpstreamFile,
    is_json,
    parse_count,
    parse_project_html,
    parse_project_json,
    parse_root_html,
    parse_root_json,
    parse_serial,
)
from generator.records import ACTIVE, ProjectChange, ProjectSync, Source
from generator.storage.store import BlobStore, file_key

MIRROR_TYPES = ("pypi", "curated-pypi")
# Changes applied per catalog transaction: large enough to make a first sync cheap,
# small enough that an interruption loses little.
BATCH = 200


class SyncBusy(Conflict):
    """Another sync of the same source is running."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A worker's result for one project: its changes (None: unchanged upstream)."""

    change: ProjectChange | None
    skips: tuple[str, ...] = ()
    downloaded: int = 0
    not_found: bool = False


# -- the upstream as a ProjectSource -----------------------------------------------------


class SimpleUpstream:
    """An upstream Simple Repository API at ``base_url`` (the ``ProjectSource`` at the core
    of every filter chain)."""

    def __init__(self, client: HttpClient, base_url: str) -> None:
        self.client = client
        # Without the slash, URL joins would drop the last path segment (proxpi #91).
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.root_serial: int | None = None

    def describe(self) -> str:
        return f"upstream({self.base_url})"

    def project_url(self, name: str) -> str:
        return f"{self.base_url}{name}/"

    def list_projects(self, validators: dict[str, str]) -> Listing | None:
        response = self.client.get(self.base_url, {"Accept": ACCEPT, **validators})
        if response.status == 304:
            return None
        if response.status != 200:
            raise UpstreamUnavailable(
                f"{self.base_url}: the upstream root answered HTTP {response.status}"
            )
        if is_json(response.header("content-type")):
            listing = parse_root_json(response.body, response.url)
        else:
            listing = parse_root_html(response.body, response.url)
        serial = listing.serial
        if serial is None:
            serial = parse_serial(response.header("x-pypi-last-serial"), response.url,
                                  "X-PyPI-Last-Serial")
        return Listing(
            projects=listing.projects, serial=serial, etag=response.header("etag"),
            last_modified=response.header("last-modified"),
        )

    def fetch_project(self, listed: ListedProject, known: ProjectSync | None) -> Fetched:
        headers = {"Accept": ACCEPT}
        # With serials, the listing already said the page changed: ask unconditionally,
        # so a CDN's stale copy cannot answer 304 for a newer serial.
        if listed.serial is None and known is not None and not known.gone:
            headers.update(validators(known.etag, known.last_modified))
        url = self.project_url(listed.name)
        response = self.client.get(url, headers)
        if response.status == 304:
            return NOT_MODIFIED
        if response.status in (404, 410):
            return GONE
        if response.status != 200:
            raise UpstreamUnavailable(f"{url}: HTTP {response.status}")
        if is_json(response.header("content-type")):
            page = parse_project_json(response.body, response.url, listed.name)
        else:
            page = parse_project_html(response.body, response.url, listed.name)
        serial = page.serial
        if serial is None:
            serial = parse_serial(response.header("x-pypi-last-serial"), response.url,
                                  "X-PyPI-Last-Serial")
        return ProjectPage(
            name=page.name, files=page.files, serial=serial, etag=response.header("etag"),
            last_modified=response.header("last-modified"), skips=page.skips,
            status=page.status,
        )

    def head_size(self, url: str) -> int | None:
        """The size of a file from a ``HEAD`` (an HTML upstream lists no sizes)."""
        response = self.client.request("HEAD", url)
        length = response.header("content-length")
        return parse_count(length) if response.status == 200 and length else None


def build_chain(
    upstream: ProjectSource, source: Source, settings: SourceSettings,
    curated: tuple[str, ...] | None,
) -> ProjectSource:
    """The source's filters around ``upstream``, innermost first (the order is part of the
    contract: newest-N counts the releases that survived the other filters)."""
    chain: ProjectSource = upstream
    if source.type == "curated-pypi":
        chain = CuratedFilter(chain, curated or ())
    if settings.allow:
        chain = AllowList(chain, settings.allow)
    if settings.block:
        chain = BlockList(chain, settings.block)
    if settings.pythons or settings.platforms:
        chain = WheelTags(chain, settings.pythons, settings.platforms)
    if settings.max_file_size:
        chain = MaxFileSize(chain, settings.max_file_size)
    if settings.keep_releases:
        chain = NewestReleases(chain, settings.keep_releases)
    return chain


def curated_requirements(catalog: Catalog, source: Source) -> tuple[str, ...]:
    """What a curated source mirrors: its list, plus the recorded closure pins."""
    curated = catalog.curated_list(source)
    if curated is None:
        return ()
    return tuple(sorted({*curated.requirements, *curated.compiled}))


def upstream_of(source: Source) -> str:
    """The upstream URL of a mirror source (recorded at creation, else pip's index)."""
    return source.upstream or configured_index_url()


# -- the pass ----------------------------------------------------------------------------


@contextlib.contextmanager
def sync_lock(state_dir: Path, source: Source) -> Iterator[None]:
    """The source's sync lock (a file in ``state_dir``); ``SyncBusy`` at once when another
    run holds it."""
    path = state_dir / f".sync-{source.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(
                f"a sync of source {source.name!r} is already running (lock {path}); "
                "this run did nothing"
            ) from None
        yield
    finally:
        os.close(fd)


def make_client(settings: MirrorSettings) -> HttpClient:
    return HttpClient(timeout=settings.timeout, retries=settings.retries,
                      backoff=settings.retry_backoff)


def make_fetcher(store: BlobStore, client: HttpClient, state_dir: Path) -> Fetcher:
    """The fetcher of mirrored files into ``store``; its downloads in progress live below
    ``state_dir`` (for a store that is not a local directory)."""
    return Fetcher(store, client, state_dir / ".mirror")


class Mirror:
    """One sync pass of one mirror source (see the module docstring).

    ``catalog`` and ``store`` receive what the pass finds; ``settings`` are the
    ``[mirror]`` tables; ``state_dir`` holds the sync locks and partial downloads;
    ``clock`` says when the pass ran. ``Conflict`` for a source that is not a mirror.
    """

    def __init__(
        self, catalog: Catalog, store: BlobStore, source: Source, *,
        settings: MirrorSettings, state_dir: Path, clock: Clock,
        client: HttpClient | None = None,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        if source.type not in MIRROR_TYPES:
            raise Conflict(
                f"source {source.name!r} is of type {source.type!r}: only pypi and "
                "curated-pypi sources are synced"
            )
        self.catalog, self.source, self.state_dir, self.clock = catalog, source, state_dir, clock
        self.settings = settings
        self.source_settings = settings.for_source(source.name)
        self.client = client or make_client(self.settings)
        self.upstream = SimpleUpstream(self.client, upstream_of(source))
        curated = curated_requirements(catalog, source) if source.type == "curated-pypi" else None
        self.chain = build_chain(self.upstream, source, self.source_settings, curated)
        self.fetcher = make_fetcher(store, self.client, state_dir)
        self.on_total, self.on_progress = on_total, on_progress

    def sync(self) -> SyncReport:
        """Run one pass; ``SyncBusy`` if another is running. Project failures are in the
        report (the watermark then stays); an unreadable root raises ``UpstreamUnavailable``.

        Ctrl-C (``KeyboardInterrupt``) ends the pass early but still returns: what the
        workers finished is committed, and the report says ``interrupted`` and how many
        projects remain for the next run (which resumes: it skips what was committed).
        """
        try:
            with sync_lock(self.state_dir, self.source):
                return self._sync()
        finally:
            self.client.close()

    def _sync(self) -> SyncReport:
        started = time.monotonic()
        catalog, source = self.catalog, self.source
        report = Tally(source=source.name, upstream=self.upstream.base_url)
        digest = self.chain.describe()
        state = catalog.mirror_state(source)
        if state.filters != digest:
            catalog.change_mirror_filters(source, digest)
            state = catalog.mirror_state(source)
        root_validators = validators(state.root_etag, state.root_last_modified)
        before = self.client.counters.requests
        now = self.clock()
        try:
            listing = self.chain.list_projects(root_validators)
        except UpstreamError as e:
            raise UpstreamUnavailable(str(e)) from e
        except KeyboardInterrupt:
            # Nothing is written yet: the next run starts this pass afresh.
            report.interrupted = True
            report.counts["requests"] = self.client.counters.requests - before
            report.seconds = time.monotonic() - started
            return report.report()
        if listing is None:
            report.root_unchanged = True
            report.counts["requests"] = self.client.counters.requests - before
            catalog.record_mirror_run(
                source, now, errors=0, root_etag=state.root_etag,
                root_last_modified=state.root_last_modified, serial=state.serial,
                filters=digest,
            )
            report.seconds = time.monotonic() - started
            return report.report()
        known = catalog.mirror_projects(source)
        report.counts["listed"] = len(listing.projects)
        todo = projects_to_fetch(listing, known)
        vanished = vanished_projects(listing, known)
        report.counts["to_do"] = len(todo) + len(vanished)
        if self.on_total is not None:
            self.on_total(len(todo) + len(vanished))
        pending: list[ProjectChange] = []
        try:
            for listed in vanished:
                existing = catalog.mirrored_files(source, listed.name)
                pending.append(gone_change(listed, existing))
                self._progress()
            self._fetch_all(todo, known, now, report, pending)
        except KeyboardInterrupt:
            # Ctrl-C: commit what the workers finished (below) and return the report; the
            # projects not committed keep their old validators, so the next run redoes
            # only them.
            report.interrupted = True
        finally:
            self._flush(pending, now, report)
            serial = listing_serial(listing)
            report.counts["requests"] = self.client.counters.requests - before
            # Without serials an unchanged root says nothing about the projects: keep
            # no validators for it, so every pass reads it and asks each project.
            has_serials = serial is not None
            catalog.record_mirror_run(
                source, now, errors=len(report.errors) + report.interrupted,
                root_etag=listing.etag if has_serials else None,
                root_last_modified=listing.last_modified if has_serials else None,
                serial=serial, filters=digest,
            )
            report.seconds = time.monotonic() - started
        return report.report()

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(1)

    def _fetch_all(
        self, todo: list[ListedProject], known: dict[NormalizedName, ProjectSync],
        now: datetime, report: Tally, pending: list[ProjectChange],
    ) -> None:
        workers = max(1, self.settings.workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
            queue = iter(todo)
            running: dict[Future[_Outcome], ListedProject] = {}
            try:
                # A bounded window of submitted work: memory stays flat for a whole-PyPI
                # listing, and Ctrl-C cancels at most `workers * 2` projects in flight.
                for listed in queue:
                    running[pool.submit(self._one, listed, known.get(listed.name), now)] = listed
                    if len(running) >= workers * 2:
                        self._collect(running, report, pending, now)
                while running:
                    self._collect(running, report, pending, now)
            except BaseException as e:
                for future in running:
                    future.cancel()
                if not isinstance(e, KeyboardInterrupt):
                    report.errors.append(f"interrupted ({e!r}): the next run resumes where "
                                         "this one stopped")
                raise

    def _collect(
        self, running: dict[Future[_Outcome], ListedProject], report: Tally,
        pending: list[ProjectChange], now: datetime,
    ) -> None:
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in done:
            listed = running.pop(future)
            try:
                outcome = future.result()
            except (TimeshelfError, OSError) as e:
                report.counts["checked"] += 1
                report.errors.append(f"{listed.name}: {e}")
                self._progress()
                continue
            report.counts["checked"] += 1
            report.counts["skipped"] += len(outcome.skips)
            for reason in outcome.skips:
                report.skips[reason] += 1
            report.counts["downloaded"] += outcome.downloaded
            if outcome.not_found:
                report.not_found.append(listed.display_name)
            change = outcome.change
            if change is None:
                report.counts["not_modified"] += 1
                report.counts["done"] += 1
                self._progress()
                continue
            pending.append(change)
            # Told once it is pending: what the progress shows, an interruption commits.
            self._progress()
            if len(pending) >= BATCH:
                self._flush(pending, now, report)

    def _one(
        self, listed: ListedProject, known: ProjectSync | None, now: datetime
    ) -> _Outcome:
        """Fetch, filter and plan one project (in a worker thread)."""
        fetched = self.chain.fetch_project(listed, known)
        if fetched is NOT_MODIFIED:
            return _Outcome(change=None)
        existing = self.catalog.mirrored_files(self.source, listed.name) \
            if known is not None else []
        if not isinstance(fetched, ProjectPage):
            # A curated list names its projects: one the upstream lacks is a mistake to
            # report, where a listed pypi project gone since the listing is a removal.
            return _Outcome(change=gone_change(listed, existing),
                            not_found=self.source.type == "curated-pypi")
        if listed.serial is not None and fetched.serial is not None \
                and fetched.serial < listed.serial:
            raise UpstreamUnavailable(
                f"stale page: serial {fetched.serial}, the listing says {listed.serial} "
                "(a cache in front of the upstream); retried by the next run"
            )
        first = known is None
        have = {f.filename for f in existing}
        files = []
        for f in fetched.files:
            if f.size is None and f.filename not in have:
                f = _with_size(f, self.upstream.head_size(f.url))
            files.append(f)
        page = ProjectPage(name=fetched.name, files=tuple(files), serial=fetched.serial,
                           etag=fetched.etag, last_modified=fetched.last_modified,
                           status=fetched.status)
        change = plan_project(listed, page, existing, first=first, now=now)
        # PEP 792: the mirror keeps the upstream's status (a page that declares none is
        # active). A quarantined upstream lists no files: they are kept here, listed by
        # no page and withheld (generator.output.withheld), not removed, so the project
        # stays with its status and comes back whole if the upstream lifts it.
        status = fetched.status or ACTIVE
        change = replace(change, status=status,
                         remove=() if status.is_quarantined else change.remove)
        downloaded = 0
        if self.source_settings.file_mode == "prefetch":
            for new in change.add:
                key = file_key(new.record.sha256, new.record.filename)
                downloaded += self.fetcher.ensure(key, new.url, new.record.sha256)
                if new.record.metadata_sha256 and not self.fetcher.adopt_metadata(
                    key, new.record.metadata_sha256
                ):
                    downloaded += self.fetcher.ensure(
                        key + ".metadata", new.url + ".metadata", new.record.metadata_sha256
                    )
        return _Outcome(change=change, skips=fetched.skips, downloaded=downloaded)

    def _flush(self, pending: list[ProjectChange], now: datetime, report: Tally) -> None:
        if not pending:
            return
        refused = self.catalog.apply_mirror_changes(self.source, pending, now)
        # Counted once committed: an interrupted pass tells exactly what it kept.
        report.counts["done"] += len(pending)
        for change in pending:
            if not change.is_empty:
                report.counts["changed"] += 1
            report.counts["added"] += len(change.add)
            report.counts["yanked"] += len(change.yank)
            report.counts["unyanked"] += len(change.unyank)
            report.counts["removed"] += len(change.remove)
        report.counts["added"] -= len(refused)
        report.counts["refused"] += len(refused)
        pending.clear()


def _with_size(f: UpstreamFile, size: int | None) -> UpstreamFile:
    if size is None:
        raise NotFound(f"{f.url}: the upstream gives no size for this file (HEAD failed)")
    return replace(f, size=size)
