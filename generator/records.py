"""The records that travel between modules: frozen, typed, checked when created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from packaging.utils import NormalizedName

from generator.naming import PackageType

SourceType = Literal["local-python", "pypi", "curated-pypi"]
SOURCE_TYPES: tuple[str, ...] = get_args(SourceType)
EventKind = Literal[
    "file_added",
    "file_yanked",
    "file_unyanked",
    "file_removed",
    "file_signed",
    "subscriptions_changed",
    "project_status",
    "cooldown_changed",
    "cooldown_of_age",
    "cooldown_allowed",
    "cooldown_revoked",
    "blocklist_rule",
]
# PEP 792 project status markers; a project without one is "active".
ProjectStatusName = Literal["active", "archived", "quarantined", "deprecated"]
PROJECT_STATUSES: tuple[str, ...] = get_args(ProjectStatusName)


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A place packages come from: uploads (``local-python``) or an upstream mirror."""

    id: int
    name: str
    type: SourceType
    upstream: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Repo:
    """A published index: sources it subscribes to, highest priority first."""

    id: int
    name: str
    type: str
    description: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRecord:
    """One distribution file as the catalog knows it (``upload_time`` in ``clock`` form)."""

    filename: str
    version: str
    packagetype: PackageType
    sha256: str
    blake2_256: str
    size: int
    requires_python: str | None
    upload_time: str
    metadata_sha256: str | None
    has_signature: bool
    yanked: bool
    yanked_reason: str
    # The upstream URL of a mirrored file (None for local files). Pages never show it
    # (files are served content-addressed); it tells generation that a missing blob is
    # fetched on first request, not lost.
    url: str | None = None

    def __post_init__(self) -> None:
        if len(self.sha256) != 64:
            raise ValueError(f"{self.filename}: sha256 must be 64 hex digits, got {self.sha256!r}")
        if self.size < 0:
            raise ValueError(f"{self.filename}: size must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownFile:
    """A file a source holds under a filename, and whether it was removed (the name of a
    removed file stays taken)."""

    record: FileRecord
    removed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """A stored file to record in a batch (``Catalog.add_files``): its project, the
    project's display name and summary, and the file's record."""

    project: NormalizedName
    display_name: str
    summary: str
    record: FileRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectStatus:
    """A project's PEP 792 status and its reason ('' when none was given)."""

    status: ProjectStatusName
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in PROJECT_STATUSES:
            raise ValueError(f"unknown project status {self.status!r}")

    @property
    def is_quarantined(self) -> bool:
        return self.status == "quarantined"

    @property
    def refuses_uploads(self) -> bool:
        """PEP 792: an archived or quarantined project takes no new files."""
        return self.status in ("archived", "quarantined")


ACTIVE = ProjectStatus(status="active")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectState:
    """A project as a repository shows it: the owning source's files, sorted by filename,
    and its PEP 792 status (``ACTIVE`` unless one was set)."""

    name: NormalizedName
    display_name: str
    source: str
    serial: int
    files: tuple[FileRecord, ...]
    status: ProjectStatus = ACTIVE
    # In a cooldown repository: the versions still waiting and those let in early (the
    # web UI marks them); empty elsewhere and in dated replays.
    cooldown: tuple[CooldownMark, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationState:
    """Where a repository's last generation got to: the event serial its pages show and
    the render version that wrote them."""

    last_event_id: int
    render_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotDay:
    """A dated snapshot written to the output: the render version that wrote it, and
    whether the day is reconstructed (replayed from before the repository existed)."""

    render_version: str
    reconstructed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageSummary:
    """A project of a source, for listings."""

    source: str
    name: NormalizedName
    display_name: str
    versions: int
    files: int
    latest: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One entry of the append-only event log."""

    id: int
    at: str
    kind: EventKind
    repo: str | None
    source: str | None
    project: str | None
    filename: str | None
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity:
    """A change to one file of a repository's sources, as its activity log shows it."""

    id: int
    at: str
    kind: EventKind
    source: str
    project: NormalizedName
    display_name: str
    filename: str
    version: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """What the catalog keeps of an API token (never the token itself)."""

    id: str
    description: str
    sources: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


# -- mirrors (``generator.mirror.sync``) -----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorState:
    """A mirror source's watermark: what its last error-free pass saw of the upstream root.

    ``root_etag``/``root_last_modified`` are kept only after an error-free pass, so a
    pass that failed midway never lets the next one stop at a "304 Not Modified" root.
    """

    root_etag: str | None = None
    root_last_modified: str | None = None
    serial: int | None = None
    filters: str = ""
    synced_at: str | None = None
    last_run_at: str | None = None
    last_run_errors: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectSync:
    """What the mirror last saw of one upstream project: the validators of the next request."""

    name: NormalizedName
    serial: int | None
    etag: str | None
    last_modified: str | None
    gone: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MirroredFile:
    """A file of a mirrored project as the catalog has it, to compare with the upstream."""

    filename: str
    sha256: str
    yanked: bool
    yanked_reason: str
    removed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NewFile:
    """A file the mirror found upstream: its record, where to fetch it, and since when it
    counts (``effective_at``: the upstream upload time on a project's first sync)."""

    record: FileRecord
    url: str
    effective_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectChange:
    """What one project's sync changes; many are applied in one transaction."""

    project: NormalizedName
    display_name: str
    add: tuple[NewFile, ...] = ()
    yank: tuple[tuple[str, str], ...] = ()
    unyank: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    sync: ProjectSync
    # The PEP 792 status the upstream page declared (None: the page was not read).
    status: ProjectStatus | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.add or self.yank or self.unyank or self.remove)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamFileRef:
    """Where a mirrored file (and its PEP 658 metadata) comes from, for fetching on demand."""

    filename: str
    sha256: str
    url: str
    size: int
    metadata_sha256: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CuratedList:
    """The requirement list of a ``curated-pypi`` source, and its recorded closure.

    ``compiled`` holds the ``name==version`` pins ``pip-compile`` resolved (one set per
    Python version, merged), so the mirrored set is reproducible without re-resolving.
    """

    requirements: tuple[str, ...]
    closure: bool
    python_versions: tuple[str, ...]
    compiled: tuple[str, ...]
    tool: str
    updated_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconstruction:
    """The past of a repository before its first subscription, replayed from effective times.

    Days in ``[start, until)`` are *reconstructed*: shown with ``sources`` (the first
    subscription list that named a mirror source), each file from its effective time
    (the upstream upload time of a backfilled mirror file).
    """

    start: str
    until: str
    sources: tuple[str, ...]


# -- vulnerability advisories (``generator.advisories``) --------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AffectedPackage:
    """What one OSV advisory says of one PyPI project: ``ranges`` of ECOSYSTEM events,
    each a tuple of (``introduced`` | ``fixed`` | ``last_affected``, version) in the
    advisory's order, and the ``versions`` it names one by one."""

    name: NormalizedName
    ranges: tuple[tuple[tuple[str, str], ...], ...] = ()
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Advisory:
    """An OSV advisory of the PyPI ecosystem as the catalog keeps it.

    ``modified`` and ``withdrawn`` are in ``clock`` form (``withdrawn`` None while it
    stands); ``severity`` holds (type, score) pairs such as ("CVSS_V3", "CVSS:3.1/…")
    and ``level`` the database's own rating ("HIGH", "MODERATE", …) or "".
    """

    id: str
    modified: str
    withdrawn: str | None = None
    aliases: tuple[str, ...] = ()
    summary: str = ""
    severity: tuple[tuple[str, str], ...] = ()
    level: str = ""
    packages: tuple[AffectedPackage, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an advisory needs an id")


@dataclass(frozen=True, slots=True, kw_only=True)
class CooldownSettings:
    """A repository's cooldown: a file is listed once it is ``seconds`` old (from its
    upload time), except files of the ``exempt`` sources, listed at once."""

    seconds: int
    exempt: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"a cooldown is a positive duration, not {self.seconds} seconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class CooldownAllowance:
    """A release (``version``) or the files of a project uploaded by ``allowed_at``
    (``version`` None) let into a cooldown repository early."""

    id: int
    repo: str
    project: NormalizedName
    version: str | None
    reason: str
    allowed_by: str
    allowed_at: str
    revoked_at: str | None = None
    revoked_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CooldownMark:
    """A version of a project in a cooldown repository that is not simply of age: still
    waiting (listed from ``comes_of_age_at``), or let in early (``allowed_reason``)."""

    project: NormalizedName
    version: str
    comes_of_age_at: str | None = None
    allowed_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlocklistRule:
    """A blocklist rule (``timeshelf create blocklist-rule``), in force from ``created_at``
    until ``deleted_at`` (``clock`` form). Every condition given must hold for the rule to
    match a file; ``exception`` makes it an allow rule that wins over the block rules."""

    id: int
    created_at: str
    deleted_at: str | None = None
    package_name: NormalizedName | None = None
    version: str | None = None  # a PEP 440 specifier set
    source: str | None = None
    repo: str | None = None
    license: str | None = None  # a substring of the declared license
    license_types: tuple[str, ...] = ()  # SPDX ids, or "Unknown"
    vulns: bool = False
    min_severity: str | None = None
    exception: bool = False
    description: str = ""
