"""The sidecar's app-scoped services: what its views use, kept on the app.

``init_app`` stores the installation an app serves (configuration, catalog, store,
clock) on the app, with the services made from it on first use: the environment
builder and its task registry (bundles) and the fetcher of lazily mirrored files. Views
read them through ``installation()`` and ``services()``, which look at the current app,
so no view imports the factory back.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from generator.installation import Installation
from generator.mirror.fetch import Fetcher
from generator.mirror.sync import make_client, make_fetcher
from uploader.deploy.builder import Builder
from uploader.deploy.tasks import TaskRegistry

_EXTENSION = "timeshelf"


class Services:
    """An installation, and the services an app makes from it once, on first use."""

    def __init__(self, inst: Installation, *, builder: Builder | None = None) -> None:
        self.installation = inst
        self._builder = builder
        self._tasks: TaskRegistry | None = None
        self._fetcher: Fetcher | None = None
        # Under a lock: two threads each making a fetcher would each lock only their own
        # requests, and concurrent first requests would download once per fetcher.
        self._lock = threading.Lock()

    def builder(self) -> Builder:
        """The environment builder (made from the configuration when ``serve`` did not
        give one after its startup check)."""
        with self._lock:
            if self._builder is None:
                self._builder = Builder.for_config(self.installation.config)
            return self._builder

    def tasks(self) -> TaskRegistry:
        """The registry of build tasks, kept under the environments directory."""
        with self._lock:
            if self._tasks is None:
                self._tasks = TaskRegistry(
                    self.installation.config.python.environments_dir / "tasks"
                )
            return self._tasks

    def fetcher(self) -> Fetcher:
        """The one fetcher of mirrored files (one lock table for all the app's threads)."""
        with self._lock:
            if self._fetcher is None:
                inst = self.installation
                self._fetcher = make_fetcher(
                    inst.store, make_client(inst.config.mirror), inst.mirror_dir
                )
            return self._fetcher


def init_app(app: Flask, inst: Installation, *, builder: Builder | None = None) -> None:
    """Keep ``inst`` (and ``builder``, when the caller made one) on ``app``."""
    app.extensions[_EXTENSION] = Services(inst, builder=builder)


def services() -> Services:
    """The services of the current app."""
    found = current_app.extensions[_EXTENSION]
    assert isinstance(found, Services)
    return found


def installation() -> Installation:
    """The installation the current app serves."""
    return services().installation
