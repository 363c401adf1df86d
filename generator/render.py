"""Rendering the Simple Repository API: records in, bytes out (no I/O, no clock).

HTML follows PEP 503 with PEP 592 (``data-yanked``), 629 (repository version), 658/714
(``data-core-metadata`` and the legacy ``data-dist-info-metadata``) and
``data-requires-python``; JSON follows PEP 691 at API version 1.1 (PEP 700 ``versions``,
``size``, ``upload-time``). Links are relative, so a site works under any prefix.

``RENDER_VERSION`` names the exact output format: change it whenever a byte of output
would change, so stored state knows its pages were made by another format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from generator.naming import version_sort_key
from generator.records import FileRecord, ProjectState
from generator.resources import templates_dir
from generator.store import file_key

RENDER_VERSION = "1"
API_VERSION = "1.1"
JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


# What ``quote(..., safe="/")`` leaves as it is: nearly every key, so the (slow) quoting
# runs only for the rare name that needs it (a third of JSON rendering time before).
_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9_.~/-]")


def file_url(files_prefix: str, record: FileRecord) -> str:
    """Relative URL of a file: ``files_prefix`` leads from the page to ``/files/``."""
    key = file_key(record.sha256, record.filename)
    if _NEEDS_QUOTING.search(key) is None:
        return files_prefix + key
    return files_prefix + quote(key, safe="/")


def _by_filename(files: Iterable[FileRecord]) -> list[FileRecord]:
    # Every list on a page has an explicit sort key: the bytes must not depend on the order
    # records arrive in (the catalog's, a snapshot replay's). Cheap on sorted input.
    return sorted(files, key=lambda f: f.filename)


def dumps(document: Any) -> bytes:
    """The one JSON serialization: sorted keys, fixed separators, trailing newline."""
    return (json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n").encode()


class Renderer:
    """Renders pages from records with the templates in ``directory``."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or templates_dir()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.directory),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        self._project = self.env.get_template("simple/project.html")
        self._root = self.env.get_template("simple/root.html")

    def project_html(self, project: ProjectState, files_prefix: str) -> bytes:
        # (record, href) pairs: the template reads the records themselves (no per-file
        # copy; a full generation renders a million of them).
        links = [
            (f, f"{file_url(files_prefix, f)}#sha256={f.sha256}")
            for f in _by_filename(project.files)
        ]
        return self._project.render(
            api_version=API_VERSION, display_name=project.display_name, files=links
        ).encode()

    def root_html(self, projects: Iterable[tuple[str, str]]) -> bytes:
        return self._root.render(api_version=API_VERSION, projects=sorted(projects)).encode()


def project_json(project: ProjectState, files_prefix: str) -> bytes:
    """The PEP 691 project detail document."""
    files = []
    for f in _by_filename(project.files):
        metadata = {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
        entry: dict[str, Any] = {
            "filename": f.filename,
            "url": file_url(files_prefix, f),
            "hashes": {"sha256": f.sha256},
            "size": f.size,
            "upload-time": f.upload_time,
            "yanked": (f.yanked_reason or True) if f.yanked else False,
            "core-metadata": metadata,
            "dist-info-metadata": metadata,
            "gpg-sig": f.has_signature,
        }
        if f.requires_python:
            entry["requires-python"] = f.requires_python
        files.append(entry)
    versions = sorted({f.version for f in project.files}, key=version_sort_key)
    return dumps(
        {
            "meta": {"api-version": API_VERSION, "_last-serial": project.serial},
            "name": project.name,
            "files": files,
            "versions": versions,
        }
    )


def root_json(projects: Sequence[tuple[str, str]]) -> bytes:
    """The PEP 691 project list."""
    return dumps(
        {
            "meta": {"api-version": API_VERSION},
            "projects": [{"name": display} for _name, display in sorted(projects)],
        }
    )
