"""The catalog: sources, repositories, projects, files and the event log.

All SQL of timeshelf lives in this package (and what differs between engines in
``dialect``). The default backend is one SQLite file in WAL mode; a ``postgresql://``
URL selects PostgreSQL. Statements stick to the SQL both share; the dialect translates
placeholders and DDL and serializes writers on either.

``Catalog`` is the one object callers hold: one ``Database`` and a part per table
concern (``sources``, ``files``, ``live``, ``history``, ``mirrors``, ``tokens``,
``listings``, ``status``, ``advisories``, ``cooldowns``, ``rules``), each reachable as an attribute, with every method also on the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from packaging.utils import NormalizedName

from generator.catalog.advisories import Advisories
from generator.catalog.cooldown import Cooldowns
from generator.catalog.database import Database
from generator.catalog.files import Files
from generator.catalog.formats import RenderFormat, RenderFormats
from generator.catalog.history import History
from generator.catalog.listings import Listings
from generator.catalog.live import Live
from generator.catalog.mirrors import Mirrors
from generator.catalog.rules import Rules
from generator.catalog.sources import Sources
from generator.catalog.status import Statuses, StatusKey
from generator.catalog.tokens import Tokens
from generator.clock import Clock, system_clock
from generator.records import (
    Activity,
    Advisory,
    BlocklistRule,
    CooldownAllowance,
    CooldownMark,
    CooldownSettings,
    CuratedList,
    Event,
    FileEntry,
    FileRecord,
    GenerationState,
    KnownFile,
    MirroredFile,
    MirrorState,
    PackageSummary,
    ProjectChange,
    ProjectState,
    ProjectStatus,
    ProjectSync,
    Reconstruction,
    Repo,
    SnapshotDay,
    Source,
    TokenRecord,
    UpstreamFileRef,
)


class Catalog:
    """A connection to the catalog. Safe to share between threads (calls are serialized).

    Raises ``NotFound`` for unknown names, ``Conflict`` for contradictions,
    ``FileAlreadyExists``/``FileRemoved`` for reused filenames. The methods are those of
    the parts, whose docstrings state their contracts.
    """

    def __init__(self, path: Path | str, clock: Clock = system_clock) -> None:
        """Open (and migrate) the catalog at ``path``: a SQLite file, or a
        ``postgresql://`` URL. ``StoreError`` when it cannot be opened. ``clock`` is
        "now" for the listings that depend on it (a cooldown repository's)."""
        self.db = Database(path)
        self.path = path
        self.dialect = self.db.dialect
        self.sources = Sources(self.db)
        self.files = Files(self.db)
        self.cooldowns = Cooldowns(self.db, self.sources)
        self.live = Live(self.db, self.cooldowns, clock)
        self.history = History(self.db, self.sources, self.cooldowns)
        self.mirrors = Mirrors(self.db)
        self.tokens = Tokens(self.db)
        self.listings = Listings(self.db)
        self.status = Statuses(self.db)
        self.advisories = Advisories(self.db)
        self.rules = Rules(self.db)
        self.formats = RenderFormats(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the database (``database.Database``) ------------------------------------------

    @property
    def is_shared(self) -> bool:
        return self.db.is_shared

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        return self.db.exclusive(name)

    def schema_version(self) -> int:
        return self.db.schema_version()

    def migrate(self) -> int:
        return self.db.migrate()

    def check_integrity(self) -> list[str]:
        return self.db.check_integrity()

    # -- sources and repositories (``sources.Sources``) --------------------------------

    def create_source(
        self, name: str, type: str, at: datetime, upstream: str | None = None
    ) -> Source:
        return self.sources.create_source(name, type, at, upstream)

    def get_source(self, name: str) -> Source:
        return self.sources.get_source(name)

    def list_sources(self) -> tuple[Source, ...]:
        return self.sources.list_sources()

    def sources_with_project(self, project: str) -> tuple[Source, ...]:
        return self.sources.sources_with_project(project)

    def create_repo(
        self, name: str, at: datetime, type: str = "python", description: str = ""
    ) -> Repo:
        return self.sources.create_repo(name, at, type, description)

    def get_repo(self, name: str) -> Repo:
        return self.sources.get_repo(name)

    def list_repos(self) -> tuple[Repo, ...]:
        return self.sources.list_repos()

    def subscribe(self, repo_name: str, source_name: str, at: datetime) -> Repo:
        return self.sources.subscribe(repo_name, source_name, at)

    def unsubscribe(self, repo_name: str, source_name: str, at: datetime) -> Repo:
        return self.sources.unsubscribe(repo_name, source_name, at)

    def reorder(self, repo_name: str, sources: Sequence[str], at: datetime) -> Repo:
        return self.sources.reorder(repo_name, sources, at)

    # -- files (``files.Files``) ---------------------------------------------------------

    def find_file(self, source: Source, filename: str) -> KnownFile | None:
        return self.files.find_file(source, filename)

    def find_same_distribution(
        self, source: Source, project: NormalizedName, filename: str, packagetype: str
    ) -> KnownFile | None:
        return self.files.find_same_distribution(source, project, filename, packagetype)

    def add_file(
        self, source: Source, project: NormalizedName, display_name: str, summary: str,
        record: FileRecord, at: datetime,
    ) -> bool:
        return self.files.add_file(source, project, display_name, summary, record, at)

    def add_files(self, source: Source, entries: Iterable[FileEntry], at: datetime) -> int:
        return self.files.add_files(source, entries, at)

    def set_signature(self, source: Source, filename: str, at: datetime) -> None:
        self.files.set_signature(source, filename, at)

    def set_yanked(
        self, source: Source, project: str, version: str, yanked: bool, reason: str,
        at: datetime,
    ) -> int:
        return self.files.set_yanked(source, project, version, yanked, reason, at)

    def remove(
        self, source: Source, project: str, at: datetime, version: str | None = None,
        filename: str | None = None,
    ) -> tuple[str, ...]:
        return self.files.remove(source, project, at, version, filename)

    # -- what repositories show now (``live.Live``) ------------------------------------

    def last_event_id(self) -> int:
        return self.live.last_event_id()

    def changed_since(self, repo: Repo, after: int, upto: int) -> set[NormalizedName] | None:
        return self.live.changed_since(repo, after, upto)

    def iter_projects(
        self, repo: Repo, names: Iterable[str] | None = None, *,
        start: str | None = None, stop: str | None = None, at: datetime | None = None,
    ) -> Iterator[ProjectState]:
        return self.status.with_statuses(
            self.live.iter_projects(repo, names, start=start, stop=stop, at=at)
        )

    def cooldown_waiting(self, repo: Repo, at: datetime) -> list[CooldownMark]:
        return self.live.cooldown_waiting(repo, at)

    def split_projects(self, repo: Repo, parts: int, min_size: int = 1) -> list[str | None]:
        return self.live.split_projects(repo, parts, min_size)

    def project_names(self, repo: Repo) -> list[tuple[NormalizedName, str]]:
        return self.live.project_names(repo)

    def generation_state(self, repo: Repo) -> GenerationState | None:
        return self.live.generation_state(repo)

    def site_projects(
        self, repo: Repo, names: Iterable[str] | None = None
    ) -> dict[NormalizedName, str]:
        return self.live.site_projects(repo, names)

    def record_generation(
        self, repo: Repo, last_event_id: int, render_version: str,
        shown: dict[NormalizedName, str | None],
    ) -> None:
        self.live.record_generation(repo, last_event_id, render_version, shown)

    # -- the past and the snapshot days (``history.History``) --------------------------

    def repo_started(self, repo: Repo) -> str | None:
        return self.history.repo_started(repo)

    def subscriptions_at(self, repo: Repo, at: str) -> tuple[str, ...]:
        return self.history.subscriptions_at(repo, at)

    def changed_between(self, repo: Repo, start: str, end: str) -> set[NormalizedName] | None:
        return self.history.changed_between(repo, start, end)

    def iter_projects_at(
        self, repo: Repo, at: str, names: Iterable[str] | None = None
    ) -> Iterator[ProjectState]:
        return self.status.with_statuses(self.history.iter_projects_at(repo, at, names), at)

    def project_names_at(self, repo: Repo, at: str) -> list[tuple[NormalizedName, str]]:
        return self.history.project_names_at(repo, at)

    def snapshot_days(self, repo: Repo) -> dict[str, SnapshotDay]:
        return self.history.snapshot_days(repo)

    def record_snapshot(
        self, repo: Repo, day: str, render_version: str, at: datetime, reconstructed: bool
    ) -> None:
        self.history.record_snapshot(repo, day, render_version, at, reconstructed)

    def forget_snapshot(self, repo: Repo, day: str) -> None:
        self.history.forget_snapshot(repo, day)

    def reconstruction(self, repo: Repo) -> Reconstruction | None:
        return self.history.reconstruction(repo)

    # -- mirrors (``mirrors.Mirrors``) ---------------------------------------------------

    def mirror_state(self, source: Source) -> MirrorState:
        return self.mirrors.mirror_state(source)

    def record_mirror_run(
        self, source: Source, at: datetime, *, errors: int, root_etag: str | None,
        root_last_modified: str | None, serial: int | None, filters: str,
    ) -> None:
        self.mirrors.record_mirror_run(
            source, at, errors=errors, root_etag=root_etag,
            root_last_modified=root_last_modified, serial=serial, filters=filters,
        )

    def change_mirror_filters(self, source: Source, filters: str) -> None:
        self.mirrors.change_mirror_filters(source, filters)

    def mirror_projects(self, source: Source) -> dict[NormalizedName, ProjectSync]:
        return self.mirrors.mirror_projects(source)

    def mirrored_files(self, source: Source, project: str) -> list[MirroredFile]:
        return self.mirrors.mirrored_files(source, project)

    def apply_mirror_changes(
        self, source: Source, changes: Sequence[ProjectChange], at: datetime
    ) -> tuple[str, ...]:
        return self.mirrors.apply_mirror_changes(source, changes, at)

    def upstream_file(self, sha256: str, filename: str) -> UpstreamFileRef | None:
        return self.mirrors.upstream_file(sha256, filename)

    def set_curated_list(self, source: Source, curated: CuratedList) -> None:
        self.mirrors.set_curated_list(source, curated)

    def curated_list(self, source: Source) -> CuratedList | None:
        return self.mirrors.curated_list(source)

    # -- API tokens (``tokens.Tokens``) --------------------------------------------------

    def add_token(self, record: TokenRecord) -> None:
        self.tokens.add_token(record)

    def get_token(self, token_id: str) -> TokenRecord | None:
        return self.tokens.get_token(token_id)

    def list_tokens(self) -> list[TokenRecord]:
        return self.tokens.list_tokens()

    def revoke_token(self, token_id: str, at: datetime) -> TokenRecord:
        return self.tokens.revoke_token(token_id, at)

    def touch_token(self, token_id: str, at: datetime) -> None:
        self.tokens.touch_token(token_id, at)

    # -- listings (``listings.Listings``) ------------------------------------------------

    def list_packages(self, source: Source | None = None) -> list[PackageSummary]:
        return self.listings.list_packages(source)

    def events(self, after: int = 0, limit: int = 100) -> list[Event]:
        return self.listings.events(after, limit)

    def project_summaries(self, source: str, names: Iterable[str]) -> dict[NormalizedName, str]:
        return self.listings.project_summaries(source, names)

    def recent_activity(self, repo: Repo, limit: int = 50) -> list[Activity]:
        return self.listings.recent_activity(repo, limit)

    # -- PEP 792 project status (``status.Statuses``) ------------------------------------

    def set_project_status(
        self, source: Source, project: str, status: ProjectStatus, at: datetime
    ) -> bool:
        return self.status.set_status(source, project, status, at)

    def project_status(self, source: Source, project: str) -> ProjectStatus:
        return self.status.status_of(source, project)

    def project_statuses(self, at: str | None = None) -> dict[StatusKey, ProjectStatus]:
        return self.status.statuses(at)

    def quarantined_files(self) -> list[tuple[str, str, str, str]]:
        return self.status.quarantined_files()

    # -- vulnerability advisories (``advisories.Advisories``) ----------------------------

    def advisory_versions(self) -> dict[str, tuple[str, str | None]]:
        return self.advisories.advisory_versions()

    def store_advisories(self, advisories: Sequence[Advisory], at: datetime) -> None:
        self.advisories.store_advisories(advisories, at)

    def advisories_for(self, names: Iterable[str]) -> dict[NormalizedName, tuple[Advisory, ...]]:
        return self.advisories.advisories_for(names)

    def advisory_projects(self) -> set[NormalizedName]:
        return self.advisories.advisory_projects()

    def advisory_names(self, ids: Iterable[str]) -> set[NormalizedName]:
        return self.advisories.advisory_names(ids)

    def has_advisories(self) -> bool:
        return self.advisories.has_advisories()

    def feed_validators(self, url: str) -> tuple[str | None, str | None]:
        return self.advisories.feed_validators(url)

    def record_feed(
        self, url: str, etag: str | None, last_modified: str | None, at: datetime
    ) -> None:
        self.advisories.record_feed(url, etag, last_modified, at)

    # -- cooldown repositories (``cooldown.Cooldowns``) ----------------------------------

    def cooldown(self, repo: Repo) -> CooldownSettings | None:
        return self.cooldowns.cooldown(repo)

    def set_cooldown(
        self, repo: Repo, seconds: int | None, exempt: tuple[str, ...] | None, at: datetime
    ) -> CooldownSettings | None:
        return self.cooldowns.set_cooldown(repo, seconds, exempt, at)

    def allow_early(
        self, repo: Repo, project: NormalizedName, version: str | None, *, reason: str,
        by: str, at: datetime,
    ) -> CooldownAllowance:
        return self.cooldowns.allow(repo, project, version, reason=reason, by=by, at=at)

    def revoke_allowance(self, allowance_id: int, *, by: str, at: datetime) -> CooldownAllowance:
        return self.cooldowns.revoke_allowance(allowance_id, by=by, at=at)

    def cooldown_allowances(self, repo: Repo) -> list[CooldownAllowance]:
        return self.cooldowns.allowances(repo)

    def record_coming_of_age(self, repo: Repo, now: datetime) -> int:
        return self.cooldowns.record_coming_of_age(repo, now)

    # -- blocklist rules and file licenses (``rules.Rules``) ----------------------------

    def add_rule(self, rule: BlocklistRule, at: datetime) -> BlocklistRule:
        return self.rules.add_rule(rule, at)

    def delete_rule(self, rule_id: int, at: datetime) -> BlocklistRule:
        return self.rules.delete_rule(rule_id, at)

    def rules_in_force(self, at: str | None = None) -> tuple[BlocklistRule, ...]:
        return self.rules.rules_in_force(at)

    def note_advisories(self, names: Iterable[str], at: datetime) -> bool:
        return self.rules.note_advisories(names, at)

    def changed_projects(self, after: int, upto: int) -> set[NormalizedName] | None:
        return self.rules.changed_projects(after, upto)

    def has_rules(self) -> bool:
        return self.rules.has_rules()

    def licenses_of(self, hashes: Iterable[str]) -> dict[str, str | None]:
        return self.rules.licenses_of(hashes)

    def has_licenses(self) -> bool:
        return self.rules.has_licenses()

    def files_without_license(
        self, names: Iterable[str] | None = None
    ) -> list[tuple[str, str]]:
        return self.rules.files_without_license(names)

    def record_licenses(self, licenses: Mapping[str, str | None]) -> None:
        self.rules.record_licenses(licenses)

    # -- the Simple formats over time (``formats.RenderFormats``, part ``formats``) ------

    def render_formats(self) -> tuple[RenderFormat, ...]:
        return self.formats.render_formats()

    def render_format_at(self, at: str, current: str) -> str:
        return self.formats.render_format_at(at, current)

    def record_render_format(self, version: str, at: datetime) -> bool:
        return self.formats.record_render_format(version, at)
