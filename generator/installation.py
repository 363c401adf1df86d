"""One timeshelf installation: its configuration, catalog, store and renderer together.

The CLI and the sidecar both work through this object, so they agree on where things
are and on when pages are regenerated. Generation is serialized by a file lock in the
output directory (a PostgreSQL advisory lock when the catalog is shared): concurrent
uploads and a cron'd ``generate`` never interleave writes. With ``[output] target`` each
generation ends by publishing the site to S3, under the same lock.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from generator.catalog.catalog import Catalog
from generator.clock import Clock, system_clock
from generator.config.settings import Config, load_config
from generator.errors import ConfigError, StoreError, TimeshelfError
from generator.output.descriptions import default_pool
from generator.output.index import Progress, Report, generate_index, renders_everything
from generator.output.uistate import UiReport
from generator.output.webui import PassResult, WebUi
from generator.records import Repo
from generator.render.simple import Renderer
from generator.snapshots.calendar import Retention
from generator.snapshots.materialize import Materializer
from generator.storage.local import LocalStore
from generator.storage.store import BlobStore
from generator.workers import second_cpu, worker_env

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from generator.advisories.sync import VulnsSync
    from generator.mirror.http import HttpClient
    from generator.mirror.sync import Mirror
    from generator.output.publish import PublishReport
    from generator.records import Source
    from generator.storage.s3 import S3Location
    from generator.storage.s3store import S3Store

# A full re-render of a repository's web UI runs in a second process from this many
# projects on (below it, starting a Python process costs more than it saves).
PARALLEL_UI_MIN_PROJECTS = 2000


# The worker is a plain ``python -c`` process (not multiprocessing's spawn, which would
# re-run the parent's main script, e.g. any script without a ``__main__`` guard).
_UI_WORKER = (
    "import sys; from generator.installation import ui_worker_main; "
    "sys.exit(ui_worker_main(sys.argv[1:]))"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Generation:
    """What one generation did: a report per repository, in the order asked, and, with
    ``[output] target``, the publish that ended it."""

    reports: tuple[Report[PassResult], ...]
    published: PublishReport | None = None


def ui_worker_main(argv: Sequence[str]) -> int:
    """The worker process: ``CONFIG REPO [LISTEN]`` renders that repository's whole web
    UI (for the site served at ``LISTEN``, as ``serve --listen`` may have moved it);
    exits 1 with the error's one line on stderr."""
    config_file, repo_name, *listen = argv
    try:
        inst = Installation(load_config(Path(config_file)).serving_at(next(iter(listen), None)))
        try:
            inst.webui.generate_repo(inst.catalog.get_repo(repo_name), full=True)
        finally:
            inst.close()
    except TimeshelfError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


class Installation:
    """Lazily opened parts of an installation; call ``close`` when done."""

    def __init__(self, config: Config, clock: Clock = system_clock) -> None:
        self.config = config
        self.clock = clock

    @classmethod
    def from_config_file(cls, path: Path | None = None, clock: Clock = system_clock) -> Installation:
        return cls(load_config(path), clock)

    def now(self) -> datetime:
        return self.clock()

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.config.catalog_url or self.config.catalog_path, self.clock)

    @cached_property
    def store(self) -> BlobStore:
        """The blob store: ``[store] url`` (S3) if set, else the ``[store] path`` directory.
        The one place the backend is chosen."""
        bucket = self.s3_store
        return bucket if bucket is not None else LocalStore(self.config.store_path)

    @cached_property
    def s3_store(self) -> S3Store | None:
        """The store when ``[store] url`` names a bucket, else None: publishing copies its
        files into the site server-side (a local store's are in the output already)."""
        if not self.config.store_url:
            return None
        from generator.storage.s3 import S3Location
        from generator.storage.s3store import S3Store

        return S3Store(S3Location.from_url(self.config.store_url), self.s3_client)

    @cached_property
    def s3_client(self) -> S3Client:
        """One S3 client (thread-safe) for the store and publishing, from ``[s3]``."""
        from generator.storage.s3 import make_client

        return make_client(self.config.s3)

    def publish(
        self, target: S3Location | None = None, state: S3Location | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> PublishReport:
        """Publish the output directory to ``target`` (default ``[output] target``);
        the caller holds the generation lock. ``ConfigError`` when there is no target."""
        from generator.output.publish import publish_site
        from generator.storage.s3 import S3Location

        if target is None:
            if not self.config.output_target:
                raise ConfigError(
                    "no publish target: pass --to s3://BUCKET/PREFIX or set [output] target"
                )
            target = S3Location.from_url(self.config.output_target, "[output] target")
        if state is None and self.config.output_state:
            state = S3Location.from_url(self.config.output_state, "[output] state")
        return publish_site(self.config.output_path, self.s3_client, target, state,
                            store=self.s3_store, progress=progress)

    @property
    def mirror_dir(self) -> Path:
        """Where the mirror keeps its sync locks and downloads in progress: beside the
        catalog."""
        return self.config.catalog_path.parent

    def mirror(
        self, source: Source, *, client: HttpClient | None = None,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Mirror:
        """A sync pass of the mirror ``source`` into this installation's catalog and store."""
        from generator.mirror.sync import Mirror

        return Mirror(
            self.catalog, self.store, source, settings=self.config.mirror,
            state_dir=self.mirror_dir, clock=self.clock, client=client,
            on_total=on_total, on_progress=on_progress,
        )

    def vulns_sync(
        self, *, client: HttpClient | None = None,
        on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> VulnsSync:
        """An import of OSV advisories into this installation's catalog; downloads use
        ``[mirror]``'s timeout and retries."""
        from generator.advisories.sync import VulnsSync

        return VulnsSync(self.catalog, state_dir=self.mirror_dir, clock=self.clock,
                         client=client, on_total=on_total, on_progress=on_progress,
                         timeout=self.config.mirror.timeout, retries=self.config.mirror.retries,
                         backoff=self.config.mirror.retry_backoff)

    def refresh_advisories(self, names: Sequence[str]) -> list[UiReport]:
        """Render again, in every repository, the web UI pages of the projects of
        ``names`` (their advisories changed) and the repository pages; the index and
        dated pages are not touched. Publishes with ``[output] target``."""
        with self.generation_lock():
            reports = [self.webui.refresh_projects(repo, names)
                       for repo in self.catalog.list_repos()]
            if self.config.output_target:
                self.publish()
            return reports

    @cached_property
    def renderer(self) -> Renderer:
        return Renderer()

    @cached_property
    def webui(self) -> WebUi:
        return WebUi(
            self.catalog, self.config.output_path, self.config.base_url, store=self.store,
            descriptions=default_pool(self.config.description_timeout),
        )

    def serve_at(self, listen: str | None) -> None:
        """Take ``timeshelf serve --listen LISTEN`` (None: ``[server] listen``) as where
        the site is: every URL derived from ``config.base_url`` follows it. Called before
        the web UI is first used."""
        self.config = self.config.serving_at(listen)
        self.__dict__.pop("webui", None)

    def pages_made_elsewhere(self) -> dict[str, str]:
        """Repository → the site address its web UI pages were generated for, for each
        repository whose pages name another address than ``config.base_url``."""
        from generator.output.uistate import read_state

        made = {}
        for repo in self.catalog.list_repos():
            state = read_state(self.config.output_path / repo.name)
            if state is not None and state.base_url != self.config.base_url:
                made[repo.name] = state.base_url
        return made

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.close()

    def repos_using(self, source_names: Sequence[str]) -> list[Repo]:
        """Repositories subscribed to any of the sources."""
        wanted = set(source_names)
        return [r for r in self.catalog.list_repos() if wanted & set(r.sources)]

    @contextmanager
    def generation_lock(self) -> Iterator[None]:
        """Exclusive right to write the output directory (blocks until free); with a
        shared (PostgreSQL) catalog, an advisory lock every host of the installation sees."""
        if self.catalog.is_shared:
            with self.catalog.exclusive("generate"):
                yield
            return
        output = self.config.output_path
        try:
            output.mkdir(parents=True, exist_ok=True)
            fd = os.open(output / ".generate.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"cannot write the output directory {output}: {e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def generate(
        self,
        repos: Sequence[Repo] | None = None,
        *,
        full: bool = False,
        progress: Progress | None = None,
        snapshots: bool = True,
        ui: bool = True,
    ) -> Generation:
        """Regenerate the given repositories (default: all), incrementally unless ``full``.

        With ``snapshots``, also write the dated snapshots of days that ended since; with
        ``ui``, the web UI pages of the repositories and the home page. With ``[output]
        target``, publish the site afterwards, under the same lock.
        """
        with self.generation_lock():
            # Withheld files first: a file is refused before a page stops listing it.
            self.withhold()
            chosen = list(repos) if repos is not None else list(self.catalog.list_repos())
            reports = tuple(
                self._generate_one(repo, full, progress, snapshots, ui) for repo in chosen
            )
            if ui:
                self.webui.finish()
            published = self.publish() if self.config.output_target else None
            return Generation(reports=reports, published=published)

    def withhold(self) -> int:
        """Write the withheld files (``generator.output.withheld``) into the output; the
        caller holds the generation lock. Returns the markers written or removed."""
        from generator.output.withheld import (
            quarantined,
            rule_blocked,
            sync_blocked,
            sync_withheld,
        )

        output = self.config.output_path
        held = quarantined(self.catalog)
        changed = sync_withheld(output, held, keep=lambda: rule_blocked(output))
        return changed + sync_blocked(
            self.catalog, output, self.store, {e.sha256 for e in held}
        )

    def _generate_one(
        self, repo: Repo, full: bool, progress: Progress | None, snapshots: bool, ui: bool,
    ) -> Report[PassResult]:
        """The index, the dated snapshots and the web UI of one repository.

        When both must be rendered whole, the web UI's package pages are written in the
        index's pass (each project read from the catalog once, in every process of a
        parallel pass); else the UI renders on its own (in a second process, beside the
        index, when it is large)."""
        companion = None
        output = self.config.output_path
        now = self.now()
        # A cooldown repository's files that came of age since the last run become events
        # first, so the index, its snapshot days and the web UI all see them as changes.
        self.catalog.record_coming_of_age(repo, now)
        if (
            ui and self.webui.needs_full(repo, full)
            and renders_everything(self.catalog, output, repo, full=full)
        ):
            companion = self.webui.full_pass(repo)
        background = self._start_ui_worker(repo, full) if ui and companion is None else None
        try:
            report = generate_index(
                self.catalog, self.renderer, output, repo,
                store=self.store,
                full=full, progress=progress, companion=companion, now=self.now(),
            )
            if snapshots:
                days = Materializer(
                    self.catalog, self.renderer, output, repo, self.retention
                ).run(now)
                report.snapshots_written = days.written
                report.snapshots_pruned = days.pruned
            if companion is not None and report.companion is not None:
                self.webui.complete_full(repo, companion, report.companion, report.serial)
                # Anything that changed since the pass began (a concurrent upload).
                self.webui.generate_repo(repo)
            elif ui:
                self._generate_ui(repo, full, background)
        finally:
            if background is not None and background.poll() is None:
                background.kill()
                background.wait()
        return report

    def _start_ui_worker(self, repo: Repo, full: bool) -> subprocess.Popen[bytes] | None:
        """Start a whole re-render of ``repo``'s web UI in another process, when it is
        large and there is a second CPU: it then runs beside the index's generation
        instead of after it (both read the catalog; they write different folders)."""
        if not second_cpu() or not self.webui.needs_full(repo, full):
            return None
        if len(self.catalog.project_names(repo)) < PARALLEL_UI_MIN_PROJECTS:
            return None
        return subprocess.Popen(
            [sys.executable, "-c", _UI_WORKER, str(self.config.file), repo.name,
             self.config.listen],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=worker_env(),
        )

    def _generate_ui(
        self, repo: Repo, full: bool, background: subprocess.Popen[bytes] | None
    ) -> None:
        if background is None:
            self.webui.generate_repo(repo, full=full)
            return
        _, errors = background.communicate()
        if background.returncode != 0:
            lines = errors.decode(errors="replace").strip().splitlines()
            raise StoreError(
                f"the web UI of {repo.name!r} could not be generated: "
                f"{lines[-1] if lines else f'the worker exited {background.returncode}'}"
            )
        # Anything that changed while the worker ran (a concurrent upload) is caught up.
        self.webui.generate_repo(repo)

    @property
    def retention(self) -> Retention:
        return Retention(
            daily_days=self.config.snapshot_daily_days, monthly=self.config.snapshot_monthly
        )
