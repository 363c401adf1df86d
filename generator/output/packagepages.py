"""Writing one project's pages of the web UI: its directory below ``<out>/<repo>/project/``.

    <name>/index.html              the package page (``UiRenderer.package_html``)
    <name>/<version>/index.html    a page per version (``UiRenderer.version_pages``)
    <name>/versions/index.html     every version, when the package page lists only the newest
    <name>/.description.html       the rendered description, keyed by the described file

A new project's directory is written whole (``write_new_directory``); a changed one page
by page, each write skipped when its bytes are unchanged, and the pages of versions
that are gone removed.

Descriptions are rendered with ``readme_renderer``, which takes milliseconds per README,
in helper processes with a deadline (``generator.output.descriptions``); the cache beside
the page keeps a full regeneration from rendering them again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from generator.advisories.matching import advisories_affecting, fixed_in
from generator.advisories.severity import severity_of
from generator.errors import StoreError
from generator.output.descriptions import DescriptionPool
from generator.output.uistate import UiReport
from generator.records import Advisory, ProjectState, Repo
from generator.render.markup import MARKUP_VERSION, read_description
from generator.render.ui import (
    VERSION_LIMIT,
    VERSIONS_DIR,
    PackageRow,
    UiRenderer,
    description_file,
    latest_version,
    package_row,
    versions_of,
)
from generator.render.uiadvisories import AdvisoryView
from generator.storage.atomic import write_if_changed, write_new_directory
from generator.storage.store import BlobStore, file_key

DESCRIPTION_CACHE = ".description.html"


class PackagePages:
    """Writes the pages of projects with ``renderer``; ``store`` supplies descriptions."""

    def __init__(self, renderer: UiRenderer, base_url: str, store: BlobStore | None,
                 descriptions: DescriptionPool) -> None:
        self.renderer = renderer
        self.base_url = base_url
        self.store = store
        self.descriptions = descriptions
        # Whether the latest version of each project written is affected by an advisory
        # (the repository page counts them), since the caller last cleared it.
        self.vulnerable: dict[str, bool] = {}

    def write(self, repo: Repo, project: ProjectState, summary: str, page_dir: Path,
              is_new: bool, report: UiReport,
              advisories: tuple[Advisory, ...] = ()) -> PackageRow:
        """Write the project's pages into ``page_dir``; its row in lists and search.
        ``advisories`` are those naming the project (which versions they affect is
        decided here)."""
        latest = latest_version(project.files)
        versions = versions_of(project)
        affecting = _affecting(project, [v.version for v in versions], advisories)
        self.vulnerable[project.name] = latest in affecting
        description, cache, stale = self._description(
            project, latest, None if is_new else page_dir
        )
        files = {"index.html": self.renderer.package_html(
            repo=repo, project=project, summary=summary, description=description,
            base_url=self.base_url, latest=latest, versions=versions, advisories=affecting,
        )}
        for directory, html in self.renderer.version_pages(
            repo=repo, project=project, base_url=self.base_url, versions=versions,
            advisories=affecting,
        ):
            files[f"{directory}/index.html"] = html
        if len(versions) > VERSION_LIMIT:
            files[f"{VERSIONS_DIR}/index.html"] = self.renderer.versions_html(
                repo=repo, project=project, versions=versions, advisories=affecting)
        relative = f"{repo.name}/project/{project.name}/"
        report.packages += 1
        if is_new:
            if cache is not None:
                files[DESCRIPTION_CACHE] = cache
            write_new_directory(page_dir, files)
            report.written.append(relative + "index.html")
            return package_row(project, summary, latest)
        for name, data in files.items():
            if write_if_changed(page_dir / name, data):
                report.written.append(relative + name)
        for gone in sorted(_subdirectories(page_dir) - {n.split("/")[0] for n in files}):
            shutil.rmtree(page_dir / gone)
            report.deleted.append(relative + gone)
        if cache is not None:
            write_if_changed(page_dir / DESCRIPTION_CACHE, cache)
        elif stale:
            (page_dir / DESCRIPTION_CACHE).unlink(missing_ok=True)
        return package_row(project, summary, latest)

    def _description(
        self, project: ProjectState, latest: str, page_dir: Path | None
    ) -> tuple[str, bytes | None, bool]:
        """(sanitized HTML, cache bytes to write or None, whether an old cache exists)."""
        cached: bytes | None = None
        if page_dir is not None:
            try:
                cached = (page_dir / DESCRIPTION_CACHE).read_bytes()
            except FileNotFoundError:
                cached = None
            except OSError as e:
                raise StoreError(f"cannot read {page_dir / DESCRIPTION_CACHE}: {e}") from e
        chosen = description_file(project.files, latest)
        if chosen is None or self.store is None:
            return "", None, cached is not None
        tag = f"{chosen.sha256} {MARKUP_VERSION}\n".encode()
        if cached is not None and cached.startswith(tag):
            return cached[len(tag):].decode(), None, True
        suffix = ".metadata" if chosen.metadata_sha256 else ".pkg-info"
        data = self._read_blob(file_key(chosen.sha256, chosen.filename) + suffix)
        if data is None:
            # A mirrored file not fetched yet, or an older upload: the summary only.
            return "", None, cached is not None
        described = read_description(data)
        html = self.descriptions.render(described.text, described.content_type) if described else ""
        return html, (tag + html.encode()) if html else None, cached is not None

    def prepare_description(self, sha256: str, filename: str) -> None:
        """Render the description of a file just added (see ``WebUi.prepare_description``)."""
        for suffix in (".metadata", ".pkg-info"):
            data = self._read_blob(file_key(sha256, filename) + suffix)
            if data is not None:
                described = read_description(data)
                if described is not None:
                    self.descriptions.render(described.text, described.content_type)
                return

    def _read_blob(self, key: str) -> bytes | None:
        """The bytes of a store key, None when absent (or without a store)."""
        return None if self.store is None else self.store.read_if_stored(key)


def _affecting(
    project: ProjectState, versions: list[str], advisories: tuple[Advisory, ...]
) -> dict[str, tuple[AdvisoryView, ...]]:
    """{version: the advisories affecting it, as pages show them} (affected versions only)."""
    if not advisories:
        return {}
    views = {a.id: AdvisoryView.of(a, fixed_in(a, project.name), str(severity_of(a) or ""))
             for a in advisories}
    found = {}
    for version in versions:
        hit = advisories_affecting(advisories, project.name, version)
        if hit:
            found[version] = tuple(views[a.id] for a in hit)
    return found


def _subdirectories(page_dir: Path) -> set[str]:
    """The version page directories of a package page (not hidden ones)."""
    try:
        return {e.name for e in os.scandir(page_dir)
                if e.is_dir() and not e.name.startswith(".")}
    except FileNotFoundError:
        return set()
