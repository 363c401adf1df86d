"""``timeshelf vulns sync``: import the OSV export of the PyPI ecosystem into the catalog.

The export is a zip at ``[vulnerabilities] url`` (fetched with the validators of the
last complete read, so an unchanged export costs one request answered 304) or a local
zip or directory. The whole export is read and checked first: a corrupt zip imports
nothing. Then only advisories whose ``modified`` moved (or that are new) are written,
``BATCH`` per transaction: a run killed midway keeps what it committed, and the next
run, comparing ``modified`` again, writes only the rest. The feed's validators are kept
last, after every batch.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from generator.advisories.export import InvalidExport, read_export
from generator.catalog.catalog import Catalog
from generator.clock import Clock
from generator.errors import ConfigError
from generator.mirror.http import HttpClient, UpstreamUnavailable, validators
from generator.records import Advisory

# Advisories written per transaction.
BATCH = 500
# The largest export downloaded (the whole PyPI export is tens of MB).
MAX_DOWNLOAD = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class VulnsReport:
    """What one import did. ``projects``: every project an added, changed or withdrawn
    advisory names (before and after the change)."""

    origin: str
    not_modified: bool = False
    read: int = 0
    added: int = 0
    changed: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    malformed: tuple[str, ...] = ()
    projects: frozenset[NormalizedName] = frozenset()
    seconds: float = 0.0


class _Limited:
    """A download file that refuses to grow past ``MAX_DOWNLOAD``."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("w+b")
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.size += len(data)
        if self.size > MAX_DOWNLOAD:
            raise InvalidExport(f"the export is larger than {MAX_DOWNLOAD} bytes; nothing "
                                "was imported")
        return self.handle.write(data)

    def seek(self, offset: int, /) -> int:
        self.size = offset
        return self.handle.seek(offset)

    def truncate(self) -> int:
        return self.handle.truncate()


class VulnsSync:
    """One import into ``catalog``; downloads go to ``state_dir``. ``on_total`` and
    ``on_progress`` count the export's members as they are read; ``timeout``, ``retries``
    and ``backoff`` are those of the download (without a ``client``)."""

    def __init__(
        self, catalog: Catalog, *, state_dir: Path, clock: Clock,
        client: HttpClient | None = None, on_total: Callable[[int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        on_write: Callable[[int], None] | None = None,
        timeout: float = 30.0, retries: int = 3, backoff: float = 1.0,
    ) -> None:
        self.catalog = catalog
        self.http = {"timeout": timeout, "retries": retries, "backoff": backoff}
        self.state_dir = state_dir
        self.clock = clock
        self.client = client
        self.on_total, self.on_progress, self.on_write = on_total, on_progress, on_write

    def from_url(self, url: str) -> VulnsReport:
        """Import the export at ``url`` unless it is unchanged since the last complete
        read. ``UpstreamUnavailable``, ``InvalidExport``."""
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"[vulnerabilities] url = {url!r} is invalid: use an http:// or "
                              "https:// URL of an OSV export zip (or pass --from PATH)")
        started = time.monotonic()
        client = self.client or HttpClient(
            timeout=self.http["timeout"], retries=int(self.http["retries"]),
            backoff=self.http["backoff"])
        etag, last_modified = self.catalog.feed_validators(url)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # A name of its own: two syncs at once must not write one file.
        handle, name = tempfile.mkstemp(prefix=".vulns-", suffix=".zip.tmp", dir=self.state_dir)
        os.close(handle)
        download = Path(name)
        sink = _Limited(download)
        try:
            try:
                response = client.get(url, validators(etag, last_modified), sink=sink)
            finally:
                sink.handle.close()
            if response.status == 304:
                return VulnsReport(origin=url, not_modified=True,
                                   seconds=time.monotonic() - started)
            if response.status != 200:
                raise UpstreamUnavailable(f"{url}: HTTP {response.status}; expected the OSV "
                                          "export zip")
            report = self._import(download, url, started)
            self.catalog.record_feed(url, response.header("etag"),
                                     response.header("last-modified"), self.clock())
            return report
        finally:
            download.unlink(missing_ok=True)
            if self.client is None:
                client.close()

    def from_path(self, path: Path) -> VulnsReport:
        """Import the zip or directory at ``path``. ``InvalidExport``."""
        return self._import(path, str(path), time.monotonic())

    def _import(self, path: Path, origin: str, started: float) -> VulnsReport:
        contents = read_export(path, on_total=self.on_total, on_progress=self.on_progress,
                               display=origin)
        held = self.catalog.advisory_versions()
        new: list[Advisory] = []
        added = changed = withdrawn = 0
        for advisory in contents.advisories:
            before = held.get(advisory.id)
            if before is not None and before[0] == advisory.modified:
                continue
            new.append(advisory)
            if advisory.withdrawn is not None and (before is None or before[1] is None):
                withdrawn += 1
            elif before is None:
                added += 1
            else:
                changed += 1
        projects = {p.name for a in new for p in a.packages}
        projects |= self.catalog.advisory_names(
            [a.id for a in new if a.id in held])
        at = self.clock()
        for start in range(0, len(new), BATCH):
            self.catalog.store_advisories(new[start:start + BATCH], at)
            if self.on_write is not None:
                self.on_write(len(new[start:start + BATCH]))
        return VulnsReport(
            origin=origin, read=contents.read, added=added, changed=changed,
            withdrawn=withdrawn, unchanged=len(contents.advisories) - len(new),
            malformed=contents.malformed, projects=frozenset(projects),
            seconds=time.monotonic() - started,
        )

