"""Blocklist rules: checking one when it is made, and deciding a file with the rules in
force. Pure: records in, a decision out (no catalog, no clock).

The order of execution: the exceptions first, by id, then the block rules, by id. The
first exception that matches a file allows it (it wins over every block rule it
matches); else the first block rule that matches blocks it; else it is allowed. A rule
matches a file when every condition it has holds:

- ``package_name``: the project (normalized names); ``version``: the file's version is
  in the PEP 440 specifier set (pre-releases included; a version PEP 440 cannot parse
  matches no specifier); ``source``/``repo``: the source that owns the project, the
  repository being listed;
- ``license``: a case-insensitive substring of the declared license; ``license_types``:
  the declaration names one of the SPDX ids, or names none and ``Unknown`` is given
  (``generator.policy.licenses``);
- ``vulns``: some standing advisory affects the version, at or above ``min_severity``
  when one is given (an advisory without a severity counts as below every threshold).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from generator.advisories.severity import RATINGS, normalize_rating, severity_of
from generator.errors import TimeshelfError
from generator.policy.licenses import UNKNOWN, canonical_license_id
from generator.records import Advisory, BlocklistRule

MAX_DESCRIPTION = 500


class InvalidRule(TimeshelfError, ValueError):
    """A blocklist rule that cannot be made as given (nothing is stored)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FileFacts:
    """What a rule may ask about one file listed by one repository."""

    project: NormalizedName
    version: str
    source: str
    repo: str
    license: str | None = None  # the declared text; None: unknown or none declared
    license_ids: frozenset[str] = frozenset()
    advisories: tuple[Advisory, ...] = ()  # the standing ones affecting this version


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Whether a file is listed and served, the rule that decided (None: no rule
    matched), and why, in one line."""

    allowed: bool
    rule: BlocklistRule | None
    why: str


def check_rule(
    *, package_name: str | None = None, version: str | None = None,
    source: str | None = None, repo: str | None = None, license: str | None = None,
    license_types: Sequence[str] = (), vulns: bool = False, min_severity: str | None = None,
    exception: bool = False, description: str = "",
) -> BlocklistRule:
    """A rule (id 0, no times yet) from its conditions; ``InvalidRule`` saying what is
    wrong and what would be valid. Checks all but the names of sources and repositories
    (the catalog's to know)."""
    if version is not None:
        try:
            SpecifierSet(version)
        except InvalidSpecifier as e:
            raise InvalidRule(
                f"--version {version!r} is not a PEP 440 specifier: give one such as "
                "'>=1.0,<2' or '==1.2.3'"
            ) from e
        if not version.strip():
            raise InvalidRule("--version is empty: give a PEP 440 specifier such as '<2'")
    types: list[str] = []
    for text in license_types:
        canonical = canonical_license_id(text.strip())
        if canonical is None:
            raise InvalidRule(
                f"--license-types: {text.strip()!r} is not an SPDX license id: give ids "
                "of the SPDX license list (MIT, Apache-2.0, GPL-3.0-only, ...) or Unknown"
            )
        if canonical not in types:
            types.append(canonical)
    if license is not None and not license.strip():
        raise InvalidRule("--license is empty: give a part of the license text, such as GPL")
    rating = None
    if min_severity is not None:
        if not vulns:
            raise InvalidRule("--min-severity needs --vulns (it is the threshold of advisories)")
        rating = normalize_rating(min_severity)
        if rating is None:
            raise InvalidRule(
                f"--min-severity {min_severity!r}: use one of {', '.join(RATINGS[1:])}"
            )
    if len(description) > MAX_DESCRIPTION or any(
        ord(ch) < 32 or ord(ch) == 127 for ch in description
    ):
        raise InvalidRule(
            f"--description must be one line of at most {MAX_DESCRIPTION} characters "
            "(it is the body of every refused download)"
        )
    if package_name is not None and not package_name.strip():
        raise InvalidRule("--package-name is empty: give a project name")
    rule = BlocklistRule(
        id=0, created_at="",
        package_name=None if package_name is None else canonicalize_name(package_name),
        version=None if version is None else str(SpecifierSet(version)),
        source=source, repo=repo, license=None if license is None else license.strip(),
        license_types=tuple(types), vulns=vulns, min_severity=rating,
        exception=exception, description=description,
    )
    if not has_condition(rule):
        raise InvalidRule(
            "a rule needs at least one condition: --package-name, --version, --source, "
            "--repo, --license, --license-types or --vulns"
        )
    if rule.version is not None and rule.package_name is None:
        raise InvalidRule("--version needs --package-name (versions belong to a project)")
    return rule


def has_condition(rule: BlocklistRule) -> bool:
    return any((
        rule.package_name, rule.version, rule.source, rule.repo, rule.license,
        rule.license_types, rule.vulns,
    ))


def in_order(rules: Sequence[BlocklistRule]) -> tuple[BlocklistRule, ...]:
    """The rules in their order of execution: exceptions, then block rules, each by id."""
    return tuple(sorted(rules, key=lambda r: (not r.exception, r.id)))


def needs_licenses(rules: Sequence[BlocklistRule]) -> bool:
    return any(r.license is not None or r.license_types for r in rules)


def needs_advisories(rules: Sequence[BlocklistRule]) -> bool:
    return any(r.vulns for r in rules)


def why_matches(rule: BlocklistRule, facts: FileFacts) -> str | None:
    """Why ``rule`` matches the file (its conditions, as they hold), None when it does
    not."""
    reasons: list[str] = []
    if rule.repo is not None:
        if facts.repo != rule.repo:
            return None
        reasons.append(f"repo {rule.repo}")
    if rule.source is not None:
        if facts.source != rule.source:
            return None
        reasons.append(f"source {rule.source}")
    if rule.package_name is not None:
        if facts.project != rule.package_name:
            return None
        reasons.append(f"package {rule.package_name}")
    if rule.version is not None:
        if not _version_in(facts.version, rule.version):
            return None
        reasons.append(f"version {facts.version} in {rule.version}")
    if rule.license is not None:
        if facts.license is None or rule.license.lower() not in facts.license.lower():
            return None
        reasons.append(f"license {facts.license!r} contains {rule.license!r}")
    if rule.license_types:
        named = facts.license_ids & set(rule.license_types)
        if named:
            reasons.append(f"license {' '.join(sorted(named))}")
        elif not facts.license_ids and UNKNOWN in rule.license_types:
            reasons.append("license Unknown")
        else:
            return None
    if rule.vulns:
        hits = _advisories_over(facts.advisories, rule.min_severity)
        if not hits:
            return None
        at_least = f" at or above {rule.min_severity}" if rule.min_severity else ""
        reasons.append(f"affected by {', '.join(hits)}{at_least}")
    return ", ".join(reasons)


def can_match_license(rule: BlocklistRule, declared: str | None) -> bool:
    """False when ``rule``'s license conditions cannot hold for a file declaring
    ``declared`` (a quick test before the file is decided)."""
    if declared is None:
        return rule.license is None and (not rule.license_types or UNKNOWN in rule.license_types)
    return True


def decide(rules: Sequence[BlocklistRule], facts: FileFacts) -> Decision:
    """The decision of ``rules`` (in any order: executed in ``in_order``) on a file."""
    return decide_in_order(in_order(rules), facts)


def decide_in_order(rules: Sequence[BlocklistRule], facts: FileFacts) -> Decision:
    """``decide`` for rules already in their order of execution."""
    for rule in rules:
        why = why_matches(rule, facts)
        if why is None:
            continue
        if rule.exception:
            return Decision(allowed=True, rule=rule, why=f"allowed by exception {rule.id}: {why}")
        return Decision(allowed=False, rule=rule, why=f"blocked by rule {rule.id}: {why}")
    return Decision(allowed=True, rule=None, why="allowed: no rule matches")


def refusal(rule: BlocklistRule, filename: str) -> str:
    """The one line a download of a file blocked by ``rule`` answers (403)."""
    said = f": {rule.description}" if rule.description else ""
    return f"{filename} is blocked by blocklist rule {rule.id}{said}"


def _version_in(version: str, spec: str) -> bool:
    parsed = _parsed(version)
    if parsed is None:
        return False
    return _specifier(spec).contains(parsed, prereleases=True)


# A generation asks the same few specifiers about many versions: each is parsed once.
@functools.lru_cache(maxsize=1024)
def _specifier(spec: str) -> SpecifierSet:
    return SpecifierSet(spec)


@functools.lru_cache(maxsize=1 << 16)
def _parsed(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def _advisories_over(advisories: Sequence[Advisory], rating: str | None) -> list[str]:
    if rating is None:
        return [a.id for a in advisories]
    floor = RATINGS.index(rating)
    hits = []
    for advisory in advisories:
        severity = severity_of(advisory)
        if severity is not None and severity.rank >= floor:
            hits.append(advisory.id)
    return hits
