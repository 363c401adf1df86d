"""Planning a sync pass (pure): what to fetch, and what a fetched page changes.

Records in, records out: the upstream's listing and pages (``generator.mirror.upstream``)
are compared with what the catalog holds (``ProjectSync``, ``MirroredFile``); the time
is an argument. ``generator.mirror.sync`` does the I/O around these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from packaging.utils import NormalizedName

from generator.clock import format_timestamp
from generator.mirror.upstream import ListedProject, Listing, ProjectPage, UpstreamFile
from generator.records import FileRecord, MirroredFile, NewFile, ProjectChange, ProjectSync


def projects_to_fetch(
    listing: Listing, known: Mapping[NormalizedName, ProjectSync]
) -> list[ListedProject]:
    """The listed projects whose page may have changed: all but those whose serial is the
    one the last sync recorded (without serials, every project: a conditional request
    then decides)."""
    return [
        p for p in listing.projects
        if not (p.serial is not None and p.name in known
                and not known[p.name].gone and known[p.name].serial == p.serial)
    ]


def vanished_projects(
    listing: Listing, known: Mapping[NormalizedName, ProjectSync]
) -> list[ListedProject]:
    """Projects the last sync saw that the listing no longer has, sorted by name."""
    listed_names = {p.name for p in listing.projects}
    return [
        ListedProject(name=name, display_name=name, serial=None)
        for name, sync in sorted(known.items())
        if not sync.gone and name not in listed_names
    ]


def listing_serial(listing: Listing) -> int | None:
    """The serial a pass over ``listing`` reached: the root's, else the highest project's."""
    if listing.serial is not None:
        return listing.serial
    serials = [p.serial for p in listing.projects if p.serial is not None]
    return max(serials) if serials else None


def plan_project(
    listed: ListedProject, page: ProjectPage, existing: Sequence[MirroredFile], *,
    first: bool, now: datetime,
) -> ProjectChange:
    """Compare an upstream page with the catalog's files of the project.

    ``first``: the project was never synced, so its files count from their upstream
    upload times (history backfill); later files count from ``now``.
    """
    stamp = format_timestamp(now)
    have = {f.filename: f for f in existing}
    listed_names = {f.filename for f in page.files}
    add: list[NewFile] = []
    yank: list[tuple[str, str]] = []
    unyank: list[str] = []
    for f in page.files:
        old = have.get(f.filename)
        if old is None:
            effective = f.upload_time if first and f.upload_time and f.upload_time < stamp \
                else stamp
            add.append(NewFile(record=_record(f, stamp), url=f.url, effective_at=effective))
        elif old.removed:
            continue
        elif f.yanked and (not old.yanked or old.yanked_reason != f.yanked_reason):
            yank.append((f.filename, f.yanked_reason))
        elif not f.yanked and old.yanked:
            unyank.append(f.filename)
    remove = tuple(f.filename for f in existing if not f.removed and f.filename not in listed_names)
    return ProjectChange(
        project=listed.name, display_name=listed.display_name, add=tuple(add),
        yank=tuple(yank), unyank=tuple(unyank), remove=remove,
        sync=ProjectSync(name=listed.name, serial=page.serial or listed.serial, etag=page.etag,
                         last_modified=page.last_modified),
    )


def _record(f: UpstreamFile, stamp: str) -> FileRecord:
    return FileRecord(
        filename=f.filename, version=f.version, packagetype=f.packagetype, sha256=f.sha256,
        blake2_256=f.blake2_256, size=f.size or 0, requires_python=f.requires_python,
        upload_time=f.upload_time or stamp, metadata_sha256=f.metadata_sha256,
        has_signature=False, yanked=f.yanked, yanked_reason=f.yanked_reason, url=f.url,
    )


def gone_change(listed: ListedProject, existing: Sequence[MirroredFile]) -> ProjectChange:
    """A project the upstream no longer has: all its files are removed."""
    return ProjectChange(
        project=listed.name, display_name=listed.display_name,
        remove=tuple(f.filename for f in existing if not f.removed),
        sync=ProjectSync(name=listed.name, serial=None, etag=None, last_modified=None,
                         gone=True),
    )
