"""Withheld files: stored files the site must not serve, each with its one-line reason.

A file can be listed by a dated snapshot yet be unsafe to hand out (its project
quarantined, PEP 792; later, a blocklist rule): its URL, ``/files/<h[0:2]>/<h[2:4]>/
<sha256>/<filename>``, its ``.metadata`` and ``.asc`` then answer **403** with the reason,
from nginx and ``timeshelf serve`` alike, and a lazily mirrored file is never fetched.

The one mechanism: every generation writes what is withheld into the output, one marker
file per content hash,

    <output>/.withheld/files/<sha256>      the body of the 403: "403 Forbidden: <reason>\\n"

and removes the markers of files no longer withheld (``.withheld/manifest`` lists them
all, so an unchanged set costs one read). The readers:

- nginx (``site/nginx.conf.j2``, ``location /files/``): ``if (-f
  $document_root/.withheld/files/$ts_files_sha) { return 403; }`` with ``error_page 403``
  sending the marker itself as the body (an internal-only location). A marker on disk
  takes effect on the next request: an nginx ``map`` would need a reload for each change.
- the sidecar (``uploader.serving.mirror_files``, which ``timeshelf serve`` routes every
  ``/files/`` path to, and nginx its misses): ``withheld_reason`` before anything is
  served or fetched.

The markers live in a hidden directory, which neither server serves as such and
publishing skips. Content, not names, is withheld: the same bytes are refused under any
name (a copy in another source included), since they are the same file. Callers give
``sync_withheld`` every withheld file with its reason (``Withheld``); whoever decides
(the project status, the blocklist rules) only adds entries, each with the reason of
its own file: a blocked file answers its rule's description (``blocked``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.catalog.catalog import Catalog
from generator.policy.listing import blocked_files, learn_licenses
from generator.policy.rules import needs_licenses
from generator.storage.atomic import write_if_changed
from generator.storage.store import BlobStore

DIRECTORY = Path(".withheld") / "files"
# Every marker's hash and body, as the last sync left them: an unchanged set (every
# generation, every upload) costs one read instead of one per marker.
MANIFEST = Path(".withheld") / "manifest"
# What the blocklist rules withhold, by project, with the event serial it was decided at.
BLOCKED = Path(".withheld") / "blocked.json"
PREFIX = "403 Forbidden: "
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Withheld:
    """A file's content the site does not serve, and why (one line)."""

    sha256: str
    reason: str

    def __post_init__(self) -> None:
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {self.sha256!r}")


def marker_body(reason: str) -> bytes:
    """The bytes of a marker: the whole 403 body, one line."""
    return f"{PREFIX}{' '.join(reason.split())}\n".encode()


def sync_withheld(output: Path, entries: Iterable[Withheld]) -> int:
    """Make ``output/.withheld/files/`` hold exactly ``entries`` (the first reason given
    for a hash wins); return how many markers were written or removed. Markers are
    written atomically, and unchanged ones are not touched."""
    wanted: dict[str, str] = {}
    for entry in entries:
        wanted.setdefault(entry.sha256, entry.reason)
    manifest = "".join(
        f"{sha256} {marker_body(reason).decode()}" for sha256, reason in sorted(wanted.items())
    ).encode()
    try:
        if (output / MANIFEST).read_bytes() == manifest:
            return 0
    except FileNotFoundError:
        if not wanted and not (output / DIRECTORY).exists():
            return 0
    directory = output / DIRECTORY
    try:
        present = {e.name for e in os.scandir(directory) if _SHA256.fullmatch(e.name)}
    except FileNotFoundError:
        present = set()
    changed = 0
    if wanted:
        directory.mkdir(parents=True, exist_ok=True)
    for sha256, reason in sorted(wanted.items()):
        if write_if_changed(directory / sha256, marker_body(reason)):
            changed += 1
    for sha256 in sorted(present - set(wanted)):
        try:
            (directory / sha256).unlink()
            changed += 1
        except FileNotFoundError:
            pass
    (output / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(output / MANIFEST, manifest)
    return changed


def withheld_reason(output: Path, sha256: str) -> str | None:
    """The reason the file of content ``sha256`` is withheld, or None when it is not."""
    if not _SHA256.fullmatch(sha256):
        return None
    try:
        text = (output / DIRECTORY / sha256).read_bytes().decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return text.removeprefix(PREFIX).rstrip("\n")


def quarantine_reason(project: str, reason: str) -> str:
    """What a quarantined project's withheld files answer."""
    why = f": {reason}" if reason else ""
    return f"project {project!r} is quarantined (PEP 792){why}; its files are not served"


def quarantined(catalog: Catalog) -> list[Withheld]:
    """The files of every project quarantined now (removed ones too), with their reason."""
    return [
        Withheld(sha256=sha256, reason=quarantine_reason(project, reason))
        for sha256, _filename, project, reason in catalog.quarantined_files()
    ]


def blocked(catalog: Catalog, output: Path, store: BlobStore) -> list[Withheld]:
    """The files every repository listing them blocks by a rule in force, each with its
    rule's one line (``generator.policy.listing.blocked_files``).

    What the last call found is kept in ``.withheld/blocked.json`` with the event serial
    it saw: the next call decides again only the projects with events since (an upload,
    an advisory change under a ``--vulns`` rule), and everything when an event of a
    repository (a rule made or deleted, a subscription) came in between.
    """
    state_path = output / BLOCKED
    if not state_path.exists() and not catalog.has_rules():
        return []  # no rule was ever made: nothing to keep
    upto = catalog.last_event_id()
    try:
        state = json.loads(state_path.read_bytes())
        after, projects = int(state["serial"]), dict(state["projects"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        after, projects = -1, {}
    changed = None if after < 0 else catalog.changed_projects(after, upto)
    if changed is None or changed:
        # The licenses of the files about to be decided, from their stored metadata.
        rules = catalog.rules_in_force()
        if needs_licenses(rules):
            learn_licenses(catalog, store, changed)
    if changed is None:
        projects = {name: found for name, found in blocked_files(catalog).items()}
    elif changed:
        fresh = blocked_files(catalog, changed)
        for name in changed:
            projects.pop(name, None)
        projects.update(fresh)
    if changed is None or changed or after != upto:
        body = json.dumps({"serial": upto, "projects": projects}, sort_keys=True,
                          separators=(",", ":")).encode()
        state_path.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(state_path, body)
    return [
        Withheld(sha256=sha256, reason=reason)
        for _name, found in sorted(projects.items()) for sha256, reason in found
    ]
