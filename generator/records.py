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
]


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

    def __post_init__(self) -> None:
        if len(self.sha256) != 64:
            raise ValueError(f"{self.filename}: sha256 must be 64 hex digits, got {self.sha256!r}")
        if self.size < 0:
            raise ValueError(f"{self.filename}: size must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectState:
    """A project as a repository shows it: the owning source's files, sorted by filename."""

    name: NormalizedName
    display_name: str
    source: str
    serial: int
    files: tuple[FileRecord, ...]


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
