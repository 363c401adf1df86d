"""Rendering the Simple Repository API: records in, bytes out (no I/O, no clock).

HTML follows PEP 503 with PEP 592 (``data-yanked``), 629 (repository version), 658/714
(``data-core-metadata`` and the legacy ``data-dist-info-metadata``) and
``data-requires-python``; JSON follows PEP 691 (PEP 700 ``versions``, ``size``,
``upload-time``). Both declare API version 1.4 and carry the PEP 792 project status
(``<meta name="pypi:project-status">`` and ``pypi:project-status-reason``; JSON
``project-status`` with ``status`` and ``reason``), ``active`` included, as PyPI writes
it; a quarantined project's page lists no files (its files are withheld too:
``generator.output.withheld``). Links are relative, so a site works under any prefix.

``RENDER_VERSION`` names the exact output format: change it whenever a byte of output
would change, so stored state knows its pages were made by another format, and keep the
old one in ``FORMATS``: a dated snapshot day is rendered in the format in force at its
end (``generator.snapshots.ondemand.format_at``), so it keeps its bytes. Format "1" is
API 1.1 without any status (a quarantined project's files listed, as they were then:
the templates ``simple/format1-*.html``, frozen), "2" the one described above.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from generator.errors import StoreError
from generator.naming import version_sort_key
from generator.records import FileRecord, ProjectState, ProjectStatus
from generator.render.fasthtml import simple_anchor
from generator.resources import templates_dir
from generator.storage.store import file_key


@dataclass(frozen=True, slots=True, kw_only=True)
class SimpleFormat:
    """One exact output format of the Simple pages."""

    version: str
    api_version: str
    project_template: str
    root_template: str
    # PEP 792: the status markers, and no files listed for a quarantined project.
    has_status: bool


FORMATS: dict[str, SimpleFormat] = {
    "1": SimpleFormat(version="1", api_version="1.1", has_status=False,
                      project_template="simple/format1-project.html",
                      root_template="simple/format1-root.html"),
    # PEP 792 status markers are API version 1.4 (PEP 833: the last HTML version).
    "2": SimpleFormat(version="2", api_version="1.4", has_status=True,
                      project_template="simple/project.html",
                      root_template="simple/root.html"),
}
RENDER_VERSION = "2"
API_VERSION = FORMATS[RENDER_VERSION].api_version
JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
# From a project page of any index (/<repo>/latest/simple/<project>/ or a snapshot day's
# /<repo>/<day>/simple/<project>/) up to the site root, then into /files/.
PROJECT_FILES_PREFIX = "../../../../files/"


# What ``quote(..., safe="/")`` leaves as it is: nearly every key, so the (slow) quoting
# runs only for the rare name that needs it (a third of JSON rendering time before).
_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9_.~/-]")


def file_url(files_prefix: str, record: FileRecord) -> str:
    """Relative URL of a file: ``files_prefix`` leads from the page to ``/files/``."""
    key = file_key(record.sha256, record.filename)
    if _NEEDS_QUOTING.search(key) is None:
        return files_prefix + key
    return files_prefix + quote(key, safe="/")


def simple_format(version: str) -> SimpleFormat:
    """The format named ``version``; ``StoreError`` for one this timeshelf does not know
    (the catalog was written by a newer one)."""
    try:
        return FORMATS[version]
    except KeyError:
        raise StoreError(
            f"the catalog names Simple format {version!r}, which this timeshelf cannot "
            f"render (it renders {', '.join(FORMATS)}): upgrade timeshelf"
        ) from None


def listed_files(project: ProjectState, render_version: str = RENDER_VERSION,
                 ) -> tuple[FileRecord, ...]:
    """The files a project's Simple page lists: none while it is quarantined (PEP 792:
    the index offers none of its files; the page stays, so clients can tell why), except
    in a format without status, which lists them all, as it did."""
    if project.status.is_quarantined and FORMATS[render_version].has_status:
        return ()
    return project.files


def status_json(status: ProjectStatus) -> str:
    """The PEP 792 ``project-status`` object as ``dumps`` writes it."""
    if status.reason:
        return (f'{{"reason":{_json_string(status.reason)},'
                f'"status":{_json_string(status.status)}}}')
    return f'{{"status":{_json_string(status.status)}}}'


def _by_filename(files: Iterable[FileRecord]) -> list[FileRecord]:
    # Every list on a page has an explicit sort key: the bytes must not depend on the order
    # records arrive in (the catalog's, a snapshot replay's). Cheap on sorted input.
    return sorted(files, key=lambda f: f.filename)


# What ``json.dumps`` (ensure_ascii) writes for a string, without its dispatch.
_json_string: Callable[[str], str] = encode_basestring_ascii


@functools.lru_cache(maxsize=1 << 16)
def _version_key(version: str) -> tuple[int, Any]:
    # Cached: a full generation sorts the same few thousand version strings a million times.
    return version_sort_key(version)


def dumps(document: Any) -> bytes:
    """The one JSON serialization: sorted keys, fixed separators, trailing newline."""
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode()


class Renderer:
    """Renders pages in format ``render_version`` from records with the templates in
    ``directory`` (those of that format; ``for_format`` gives the renderer of another)."""

    def __init__(self, directory: Path | None = None, *,
                 render_version: str = RENDER_VERSION) -> None:
        self.directory = directory or templates_dir()
        self.format = simple_format(render_version)
        self.render_version = render_version
        self._others: dict[str, Renderer] = {}
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.directory),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        self._project = self.env.get_template(self.format.project_template)
        self._root = self.env.get_template(self.format.root_template)

    def for_format(self, render_version: str) -> Renderer:
        """The renderer of format ``render_version`` with the same templates directory
        (this one for its own format; each other one made once)."""
        if render_version == self.render_version:
            return self
        other = self._others.get(render_version)
        if other is None:
            other = Renderer(self.directory, render_version=render_version)
            self._others[render_version] = other
        return other

    def project_html(self, project: ProjectState, files_prefix: str) -> bytes:
        # The anchors are built by generator.render.fasthtml, not in the template: this
        # is the hot loop of a full generation (a million files).
        links = "".join(
            [simple_anchor(f, file_url(files_prefix, f))
             for f in _by_filename(listed_files(project, self.render_version))]
        )
        return self._project.render(
            api_version=self.format.api_version, display_name=project.display_name,
            status=project.status.status, status_reason=project.status.reason,
            links=Markup(links),  # noqa: S704 (every value escaped by simple_anchor)
        ).encode()

    def root_html(self, projects: Iterable[tuple[str, str]]) -> bytes:
        return self._root.render(
            api_version=self.format.api_version, projects=sorted(projects)
        ).encode()


def project_json(project: ProjectState, files_prefix: str, *,
                 render_version: str = RENDER_VERSION) -> bytes:
    """The PEP 691 project detail document in format ``render_version``, byte for byte
    what ``dumps`` makes of it (sorted keys, compact separators), written out directly:
    the hot loop of a full generation, twice as fast as building the dictionaries."""
    form = simple_format(render_version)
    files = []
    shown = listed_files(project, render_version)
    for f in _by_filename(shown):
        metadata = (
            f'{{"sha256":{_json_string(f.metadata_sha256)}}}' if f.metadata_sha256 else "false"
        )
        if f.yanked:
            yanked = _json_string(f.yanked_reason) if f.yanked_reason else "true"
        else:
            yanked = "false"
        requires = (
            f'"requires-python":{_json_string(f.requires_python)},' if f.requires_python else ""
        )
        files.append(
            f'{{"core-metadata":{metadata},"dist-info-metadata":{metadata},'
            f'"filename":{_json_string(f.filename)},'
            f'"gpg-sig":{"true" if f.has_signature else "false"},'
            f'"hashes":{{"sha256":{_json_string(f.sha256)}}},{requires}'
            f'"size":{int(f.size)},"upload-time":{_json_string(f.upload_time)},'
            f'"url":{_json_string(file_url(files_prefix, f))},"yanked":{yanked}}}'
        )
    versions = sorted({f.version for f in shown}, key=_version_key)
    return (
        f'{{"files":[{",".join(files)}],'
        f'"meta":{{"_last-serial":{int(project.serial)},"api-version":"{form.api_version}"}},'
        f'"name":{_json_string(project.name)},'
        + (f'"project-status":{status_json(project.status)},' if form.has_status else "")
        + f'"versions":[{",".join(map(_json_string, versions))}]}}\n'
    ).encode()


def root_json(projects: Sequence[tuple[str, str]], *,
              render_version: str = RENDER_VERSION) -> bytes:
    """The PEP 691 project list in format ``render_version``."""
    return dumps(
        {
            "meta": {"api-version": simple_format(render_version).api_version},
            "projects": [{"name": display} for _name, display in sorted(projects)],
        }
    )
