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
name (a copy in another source included), since they are the same file. Two writers share
the markers, each with the reason of its own files: ``sync_withheld`` is given every
file a project status withholds (``Withheld``, a small set, rewritten whole), and
``sync_blocked`` keeps the files the blocklist rules block (each answering its rule's
description), project by project, so a generation pays for what changed.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.policy.listing import blocked_files, learn_licenses
from generator.policy.rules import needs_licenses
from generator.storage.atomic import write_if_changed
from generator.storage.store import BlobStore

DIRECTORY = Path(".withheld") / "files"
# Every marker's hash and body, as the last sync left them: an unchanged set (every
# generation, every upload) costs one read instead of one per marker.
MANIFEST = Path(".withheld") / "manifest"
# What the blocklist rules withhold, one file per project, and the event serial it was
# decided at (``sync_blocked``).
RULES = Path(".withheld") / "rules"
RULES_SERIAL = Path(".withheld") / "rules.serial"
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


def sync_withheld(
    output: Path, entries: Iterable[Withheld], keep: Callable[[], set[str]] = set
) -> int:
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
    stray = present - set(wanted)
    if stray:
        stray -= keep()  # markers another writer holds (the blocklist rules)
    for sha256 in sorted(stray):
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


def rule_blocked(output: Path) -> set[str]:
    """The content hashes whose markers the blocklist rules hold (``sync_blocked``)."""
    found: set[str] = set()
    try:
        entries = list(os.scandir(output / RULES))
    except FileNotFoundError:
        return found
    for entry in entries:
        found.update(sha for sha, _reason in _read_rule_file(Path(entry.path)))
    return found


def sync_blocked(
    catalog: Catalog, output: Path, store: BlobStore, quarantined: Iterable[str] = ()
) -> int:
    """Write the markers of the files every repository listing them blocks by a rule in
    force, each with its rule's one line (``generator.policy.listing.blocked_files``), and
    remove those no longer blocked; return how many markers were written or removed.

    Incremental: ``.withheld/rules/<project>`` keeps each project's blocked files
    ("<sha256> <reason>" lines) and ``.withheld/rules.serial`` the event serial they were
    decided at; a call decides again only the projects with events since (an upload, an
    advisory change under a ``--vulns`` rule), and every project when an event of a
    repository (a rule made or deleted, a subscription) came in between, so an
    incremental generation costs what changed, not the number of blocked files. The
    markers of ``quarantined`` files are ``sync_withheld``'s and left alone.
    """
    serial_path, directory = output / RULES_SERIAL, output / RULES
    if not serial_path.exists() and not catalog.has_rules():
        return 0  # no rule was ever made: nothing to keep
    upto = catalog.last_event_id()
    try:
        after = int(serial_path.read_text())
    except (FileNotFoundError, ValueError):
        after = -1
    changed = None if after < 0 else catalog.changed_projects(after, upto)
    if changed is not None and not changed:
        if after != upto:
            write_if_changed(serial_path, f"{upto}\n".encode())
        return 0
    if needs_licenses(catalog.rules_in_force()):
        # The licenses of the files about to be decided, from their stored metadata.
        learn_licenses(catalog, store, changed)
    fresh = blocked_files(catalog, changed)
    if changed is None:
        try:
            names = {e.name for e in os.scandir(directory)} | set(fresh)
        except FileNotFoundError:
            names = set(fresh)
    else:
        names = set(changed)
    kept = set(quarantined)
    markers = output / DIRECTORY
    written = 0
    directory.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    for name in sorted(names):
        path = directory / name
        before = dict(_read_rule_file(path))
        now = dict(fresh.get(NormalizedName(name), ()))
        for sha256, reason in sorted(now.items()):
            if sha256 not in kept and write_if_changed(markers / sha256, marker_body(reason)):
                written += 1
        for sha256 in sorted(before.keys() - now.keys() - kept):
            with contextlib.suppress(FileNotFoundError):
                (markers / sha256).unlink()
                written += 1
        if now:
            write_if_changed(path, "".join(f"{k} {v}\n" for k, v in sorted(now.items())).encode())
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    write_if_changed(serial_path, f"{upto}\n".encode())
    return written


def _read_rule_file(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return []
    found = []
    for line in text.splitlines():
        sha256, _, reason = line.partition(" ")
        if _SHA256.fullmatch(sha256):
            found.append((sha256, reason))
    return found
