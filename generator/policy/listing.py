"""The rules applied: what a repository lists (now, or at the end of a dated day), which
files the site withholds, and the licenses learned from stored metadata.

``listed_projects`` is the one place the decision (``generator.policy.rules.decide``) is
applied to what a repository lists: the index pages (``generator.output.index``), the
dated days (``generator.snapshots``), ``test blocklist-rules`` all go through it. It
loads the rules in force at the instant (now, or just before the end of a dated day),
and only what those rules ask about: the advisories when a rule has ``--vulns``, the
licenses when one has ``--license``/``--license-types``. A repository no rule applies to
costs one query.

Files are content-addressed and shared by repositories, so a ``--repo`` rule keeps a file
out of that repository's pages only; the site withholds a file (403 from ``/files/``,
``generator.output.withheld``) when every repository that lists it now blocks it
(``blocked_files``). Advisories are not events: a dated day is decided with the
advisories held when it is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice

from packaging.utils import NormalizedName

from generator.advisories.index import AdvisoryIndex
from generator.catalog.catalog import Catalog
from generator.policy.licenses import declared_license, license_ids
from generator.policy.rules import (
    Decision,
    FileFacts,
    can_match_license,
    decide_in_order,
    in_order,
    needs_advisories,
    needs_licenses,
    refusal,
)
from generator.records import Advisory, BlocklistRule, FileRecord, ProjectState, Repo
from generator.storage.store import BlobStore, file_key

# Projects decided together: one query for the licenses of all their files.
BATCH = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The decision on one file of one project as a repository lists it."""

    project: NormalizedName
    file: FileRecord
    decision: Decision


class Policy:
    """The rules in force at one instant for one repository, with what they ask about."""

    def __init__(
        self, catalog: Catalog, repo: Repo, rules: Sequence[BlocklistRule],
        advisories: AdvisoryIndex | None, pending: set[NormalizedName] | None = None,
    ) -> None:
        self._catalog = catalog
        self._repo = repo
        self.rules = in_order(rules)
        self._advisories = advisories
        # Projects some advisory names whose advisories are read with their batch (a
        # part of a repository reads those of its own projects only).
        self._pending = pending if pending is not None else set()
        # No license known to the catalog: every file's is Unknown, no lookup needed.
        self._licenses = needs_licenses(self.rules) and catalog.has_licenses()
        self._general = tuple(r for r in self.rules if r.package_name is None)
        self._named: dict[str, tuple[BlocklistRule, ...]] = {}
        for rule in self.rules:
            if rule.package_name is not None:
                self._named[rule.package_name] = (*self._named.get(rule.package_name, ()), rule)
        # project_rules of the projects no rule names, by (source, has advisories).
        self._chosen: dict[tuple[str, bool], tuple[BlocklistRule, ...]] = {}

    @classmethod
    def load(
        cls, catalog: Catalog, repo: Repo, at: str | None = None,
        names: Iterable[str] | None = None,
    ) -> Policy | None:
        """The policy of ``repo`` now (or just before ``at``); None when no rule applies
        to it. With ``names``, the advisories of those projects only (else those of the
        projects decided, read batch by batch)."""
        rules = [r for r in catalog.rules_in_force(at) if r.repo in (None, repo.name)]
        if not rules:
            return None
        advisories, pending = None, None
        if needs_advisories(rules):
            if names is None:
                # Most advisories name projects a company's repository does not hold:
                # only those of the projects decided are read (``verdicts``).
                advisories, pending = AdvisoryIndex({}), catalog.advisory_projects()
            else:
                advisories = AdvisoryIndex.load(catalog, list(names))
        return cls(catalog, repo, rules, advisories, pending)

    def rules_for(self, project: str) -> tuple[BlocklistRule, ...]:
        named = self._named.get(project, ())
        if not named:
            return self._general
        return in_order((*self._general, *named))

    def advisories_affecting(self, project: str, version: str) -> tuple[Advisory, ...]:
        if self._advisories is None:
            return ()
        return self._advisories.advisories_affecting(project, version)

    def project_rules(self, project: ProjectState) -> tuple[BlocklistRule, ...]:
        """The rules that can match some file of ``project``, in order of execution: its
        name's and the general ones, less those whose source is another or that ask for
        advisories the project has none of."""
        has_advisories = (
            self._advisories is not None and bool(self._advisories.advisories_of(project.name))
        )
        key = (project.source, has_advisories)
        unnamed = project.name not in self._named
        if unnamed and key in self._chosen:
            return self._chosen[key]
        chosen = tuple(
            r for r in self.rules_for(project.name)
            if (r.source is None or r.source == project.source)
            and (has_advisories or not r.vulns)
        )
        if unnamed:
            self._chosen[key] = chosen
        return chosen

    def verdicts(self, projects: Iterable[ProjectState]) -> Iterator[tuple[ProjectState, list[Verdict]]]:
        """Each project with the decision on each of its files that some rule could
        match; a file without a verdict is allowed (no rule matches it). A project's
        files of one version and one declared license share one decision."""
        iterator = iter(projects)
        while batch := list(islice(iterator, BATCH)):
            self._read_advisories(batch)
            chosen = [(p, self.project_rules(p)) for p in batch]
            licenses: dict[str, str | None] = {}
            if self._licenses:
                licenses = self._catalog.licenses_of(
                    f.sha256 for p, rules in chosen if needs_licenses(rules) for f in p.files
                )
            for project, rules in chosen:
                verdicts: list[Verdict] = []
                if rules:
                    unknown = tuple(r for r in rules if can_match_license(r, None))
                    decided: dict[tuple[str, str | None], Decision | None] = {}
                    for f in project.files:
                        declared = licenses.get(f.sha256)
                        key = (f.version, declared)
                        if key in decided:
                            decision = decided[key]
                        else:
                            # can_match_license holds for every rule when one is declared.
                            candidates = rules if declared is not None else unknown
                            decision = decided[key] = decide_in_order(
                                candidates, self._facts(project, f, declared)
                            ) if candidates else None
                        if decision is not None:
                            verdicts.append(Verdict(project=project.name, file=f,
                                                    decision=decision))
                yield project, verdicts

    def _read_advisories(self, batch: Sequence[ProjectState]) -> None:
        if self._advisories is None or not self._pending:
            return
        wanted = sorted({p.name for p in batch} & self._pending)
        if wanted:
            self._advisories.include(self._catalog.advisories_for(wanted))
            self._pending.difference_update(wanted)

    def apply(self, projects: Iterable[ProjectState]) -> Iterator[ProjectState]:
        """``projects`` without the files the rules block."""
        for project, verdicts in self.verdicts(projects):
            refused = {id(v.file) for v in verdicts if not v.decision.allowed}
            if not refused:
                yield project
                continue
            yield replace(project, files=tuple(f for f in project.files if id(f) not in refused))

    def _facts(self, project: ProjectState, file: FileRecord, declared: str | None) -> FileFacts:
        affecting = self.advisories_affecting(project.name, file.version)
        return FileFacts(
            project=project.name, version=file.version, source=project.source,
            repo=self._repo.name, license=declared, license_ids=license_ids(declared),
            advisories=affecting,
        )


def listed_projects(
    catalog: Catalog, repo: Repo, projects: Iterable[ProjectState], *,
    at: str | None = None, names: Iterable[str] | None = None,
) -> Iterator[ProjectState]:
    """What ``repo`` lists of ``projects`` (its state now, or just before ``at``): the
    files no rule in force blocks. ``names`` are the projects asked for, when known (the
    advisories of those only are read)."""
    policy = Policy.load(catalog, repo, at, names)
    if policy is None:
        return iter(projects)
    return policy.apply(projects)


def blocked_files(
    catalog: Catalog, names: Iterable[str] | None = None
) -> dict[NormalizedName, list[tuple[str, str]]]:
    """{project: [(sha256, reason), ...]} of the files of ``names`` (default: every
    project) that every repository listing them now blocks; projects without such files
    are absent."""
    if not catalog.rules_in_force():
        return {}
    wanted = None if names is None else sorted(set(names))
    listed: dict[str, int] = {}
    blocked: dict[str, tuple[int, str, NormalizedName]] = {}
    for repo in catalog.list_repos():
        policy = Policy.load(catalog, repo, names=wanted)
        projects = catalog.iter_projects(repo, wanted)
        for project, verdicts in (
            ((p, []) for p in projects) if policy is None else policy.verdicts(projects)
        ):
            for f in project.files:
                listed[f.sha256] = listed.get(f.sha256, 0) + 1
            for v in verdicts:
                if not v.decision.allowed and v.decision.rule is not None:
                    sha = v.file.sha256
                    count, reason, _name = blocked.get(
                        sha, (0, refusal(v.decision.rule, v.file.filename), project.name)
                    )
                    blocked[sha] = (count + 1, reason, project.name)
    found: dict[NormalizedName, list[tuple[str, str]]] = {}
    for sha, (count, reason, name) in sorted(blocked.items()):
        if count == listed.get(sha):
            found.setdefault(name, []).append((sha, reason))
    return found


def learn_licenses(
    catalog: Catalog, store: BlobStore, names: Iterable[str] | None = None
) -> int:
    """Read the declared license of each file (of every project, or of the projects
    ``names``) whose license the catalog does not hold yet from its stored core metadata
    (``.metadata``, else an sdist's ``.pkg-info``) and record it; a file whose metadata
    is not stored (a mirrored file not fetched) stays unknown, and is looked at again
    the next time its project changes. Returns how many were learned."""
    learned: dict[str, str | None] = {}
    for sha256, filename in catalog.files_without_license(names):
        key = file_key(sha256, filename)
        for suffix in (".metadata", ".pkg-info"):
            data = store.read_if_stored(key + suffix)
            if data is not None:
                learned[sha256] = declared_license(data)
                break
    catalog.record_licenses(learned)
    return len(learned)
