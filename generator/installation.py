"""One timeshelf installation: its configuration, catalog, store and renderer together.

The CLI and the sidecar both work through this object, so they agree on where things
are and on when pages are regenerated. Generation is serialized by a file lock in the
output directory: concurrent uploads and a cron'd ``generate`` never interleave writes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path

from generator.catalog import Catalog
from generator.clock import Clock, system_clock
from generator.config import Config, load_config
from generator.errors import StoreError
from generator.generate import Progress, Report, generate_repo
from generator.records import Repo
from generator.render import Renderer
from generator.snapshots import Materializer, Retention
from generator.store import LocalStore
from generator.webui import WebUi


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
        return Catalog(self.config.catalog_path)

    @cached_property
    def store(self) -> LocalStore:
        return LocalStore(self.config.store_path)

    @cached_property
    def renderer(self) -> Renderer:
        return Renderer()

    @cached_property
    def webui(self) -> WebUi:
        return WebUi(
            self.catalog, self.config.output_path, self.config.base_url, store=self.store
        )

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.close()

    def repos_using(self, source_names: Sequence[str]) -> list[Repo]:
        """Repositories subscribed to any of the sources."""
        wanted = set(source_names)
        return [r for r in self.catalog.list_repos() if wanted & set(r.sources)]

    @contextmanager
    def generation_lock(self) -> Iterator[None]:
        """Exclusive right to write the output directory (blocks until free)."""
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
    ) -> list[Report]:
        """Regenerate the given repositories (default: all), incrementally unless ``full``.

        With ``snapshots``, also write the dated snapshots of days that ended since; with
        ``ui``, the web UI pages of the repositories and the home page.
        """
        with self.generation_lock():
            chosen = list(repos) if repos is not None else list(self.catalog.list_repos())
            reports = []
            for repo in chosen:
                report = generate_repo(
                    self.catalog, self.renderer, self.config.output_path, repo,
                    store=self.store, full=full, progress=progress,
                )
                if snapshots:
                    days = Materializer(
                        self.catalog, self.renderer, self.config.output_path, repo,
                        self.retention,
                    ).run(self.now())
                    report.snapshots_written = days.written
                    report.snapshots_pruned = days.pruned
                if ui:
                    self.webui.generate_repo(repo, full=full)
                reports.append(report)
            if ui:
                self.webui.finish()
            return reports

    @property
    def retention(self) -> Retention:
        return Retention(
            daily_days=self.config.snapshot_daily_days, monthly=self.config.snapshot_monthly
        )
