"""Names, versions and filenames, answered by ``packaging`` wherever it can answer.

The one exception is a distribution whose version is not PEP 440: PyPI still hosts
such files and a mirror must keep them, but ``packaging`` refuses to parse their
filenames. ``parse_filename`` then splits the name on the project name it was given,
never by a pattern of its own. Files of our own (``distributions.inspect_distribution``)
are held to more: ``check_version`` and ``check_wheel_tags``; ``distribution_identity``
says when two filenames name the same distribution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from generator.errors import InvalidName

PackageType = Literal["sdist", "bdist_wheel"]

# Sources and repositories appear in URLs and file paths: keep them to one safe,
# lowercase path segment (the same alphabet PEP 503 leaves in normalized names).
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
# Repository names that would shadow a top-level URL of the site (DESIGN.md).
RESERVED_REPO_NAMES = frozenset({"files", "upload", "__api__", "static", "_", "simple"})
# PEP 508 names: what ``packaging`` accepts as a project name.
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

SDIST_SUFFIXES = (".tar.gz", ".zip")
WHEEL_SUFFIX = ".whl"
# One wheel tag part (python, abi or platform): PEP 425 tags are lowercase letters, digits
# and '_' (PEP 425 turns '-' and '.' of a platform into '_'), compressed tag sets joined by
# '.'. packaging lowercases and takes any other character, so a name it parses can still
# carry quotes, '?' or '#' into a link, or spell one wheel two ways (PY3 and py3).
_TAG_PART = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_TAG_KINDS = ("python", "abi", "platform")
# A bad value quoted in a message is cut here: metadata fields can be megabytes long.
_QUOTE_LIMIT = 80


def check_slug(kind: str, name: str) -> str:
    """Return ``name`` if it is a valid source or repository name, else raise ``InvalidName``."""
    if not _SLUG.fullmatch(name):
        raise InvalidName(
            f"invalid {kind} name {name!r}: use 1-64 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    if kind == "repository" and name in RESERVED_REPO_NAMES:
        raise InvalidName(
            f"invalid repository name {name!r}: it is reserved for the site "
            f"({', '.join(sorted(RESERVED_REPO_NAMES))})"
        )
    return name


def normalize_project(name: str) -> NormalizedName:
    """The PEP 503 normalized form of a project name; ``InvalidName`` if it is not one."""
    # fullmatch: with ``match`` the pattern's ``$`` also accepts a trailing newline.
    if not _PROJECT_NAME.fullmatch(name):
        raise InvalidName(
            f"invalid project name {name!r}: a name starts and ends with a letter or digit "
            "and contains only ASCII letters, digits, '.', '_' and '-'"
        )
    return canonicalize_name(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFilename:
    """What a distribution filename says: project, version text and kind."""

    project: NormalizedName
    version: str
    packagetype: PackageType


def is_distribution_filename(filename: str) -> bool:
    """True when the filename has a wheel or sdist extension."""
    lower = filename.lower()
    return lower.endswith(WHEEL_SUFFIX) or lower.endswith(SDIST_SUFFIXES)


def parse_filename(filename: str, project_hint: str | None = None) -> ParsedFilename:
    """Parse a wheel or sdist filename with ``packaging``.

    ``project_hint`` (the name the file's own metadata gives) lets a filename with a
    non-PEP 440 version be split: ``<name>-<version><suffix>`` where ``<name>``
    normalizes to the hint. Raises ``ValueError`` saying what a valid name looks like.
    """
    if filename.endswith(WHEEL_SUFFIX):
        try:
            name, version, _build, _tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as e:
            raise ValueError(
                f"{e}; a wheel is named <name>-<version>(-<build>)?-<python>-<abi>-<platform>.whl"
            ) from e
        return ParsedFilename(project=name, version=str(version), packagetype="bdist_wheel")
    if not filename.endswith(SDIST_SUFFIXES):
        raise ValueError(
            f"{filename!r} is not a distribution: use a wheel (.whl) or an sdist (.tar.gz or .zip)"
        )
    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename as e:
        legacy = _split_legacy_sdist(filename, project_hint)
        if legacy is None:
            raise ValueError(f"{e}; an sdist is named <name>-<version>.tar.gz (or .zip)") from e
        return legacy
    if project_hint is not None and name != canonicalize_name(project_hint):
        # packaging splits at the last '-': a legacy version with a '-' whose tail parses
        # ("foo-1.0-custom-2") gives a wrong name; split on the project's own name instead.
        legacy = _split_legacy_sdist(filename, project_hint)
        if legacy is not None:
            return legacy
    return ParsedFilename(project=name, version=str(version), packagetype="sdist")


def _split_legacy_sdist(filename: str, project_hint: str | None) -> ParsedFilename | None:
    if project_hint is None:
        return None
    suffix = next(s for s in SDIST_SUFFIXES if filename.endswith(s))
    stem = filename[: -len(suffix)]
    wanted = canonicalize_name(project_hint)
    # Try every '-' as the separator: names may contain '-', versions rarely start with one.
    for index in (i for i, ch in enumerate(stem) if ch == "-"):
        head, version = stem[:index], stem[index + 1 :]
        if version and canonicalize_name(head) == wanted:
            return ParsedFilename(project=wanted, version=version, packagetype="sdist")
    return None


def quoted(value: str) -> str:
    """``repr(value)``, cut to ``_QUOTE_LIMIT`` characters (with ``...``) when longer."""
    if len(value) <= _QUOTE_LIMIT:
        return repr(value)
    return repr(value[:_QUOTE_LIMIT]) + "..."


def check_version(version: str) -> Version:
    """The PEP 440 version ``version`` spells; ``ValueError`` saying what is valid if none.

    For files of our own only: mirrored files keep their legacy versions.
    """
    try:
        return Version(version)
    except InvalidVersion as e:
        raise ValueError(
            f"invalid version {quoted(version)}: use a PEP 440 version, e.g. 1.0, 2.0.1, 1.0rc1"
        ) from e


def check_wheel_tags(filename: str) -> None:
    """Refuse a wheel filename whose python, abi or platform tag is not PEP 425 lowercase.

    ``filename`` is one ``packaging`` parses (so it has its five or six parts); raises
    ``ValueError`` naming every bad tag.
    """
    stem = filename[: -len(WHEEL_SUFFIX)] if filename.endswith(WHEEL_SUFFIX) else filename
    tags = stem.split("-")[-3:]
    bad = [
        f"{kind} tag {quoted(tag)}"
        for kind, tag in zip(_TAG_KINDS, tags, strict=True)
        if not _TAG_PART.fullmatch(tag)
    ]
    if bad:
        raise ValueError(
            f"invalid {', '.join(bad)}: a tag is lowercase letters, digits and '_', with '.' "
            "between compressed tags, e.g. py3-none-any or py2.py3-none-manylinux_2_17_x86_64"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionIdentity:
    """What installers tell distributions apart by: two filenames with equal identities
    are two spellings of one file (``keep3-1.0.0-py3-none-any.whl`` and
    ``Keep3-1.0-py3-none-any.whl``). An sdist has no build tag and no tags: a release has
    one sdist, ``.tar.gz`` or ``.zip`` (PyPI: "Only one sdist may be uploaded per release").
    """

    project: NormalizedName
    version: Version
    packagetype: PackageType
    build: BuildTag = ()
    tags: frozenset[Tag] = frozenset()


def distribution_identity(filename: str, project: str) -> DistributionIdentity | None:
    """The identity of the distribution ``filename`` (of ``project``) names.

    None when it has no PEP 440 version or ``packaging`` cannot parse it (a legacy file:
    only its exact name identifies it).
    """
    try:
        parsed = parse_filename(filename, project_hint=project)
        version = Version(parsed.version)
    except ValueError:  # InvalidVersion is one
        return None
    if parsed.packagetype == "sdist":
        return DistributionIdentity(project=parsed.project, version=version, packagetype="sdist")
    _name, _version, build, tags = parse_wheel_filename(filename)
    return DistributionIdentity(
        project=parsed.project, version=version, packagetype="bdist_wheel", build=build,
        tags=frozenset(tags),
    )


def version_sort_key(version: str) -> tuple[int, Version | str]:
    """Sort key for version strings: PEP 440 order; non-PEP 440 versions first, by text.

    Deterministic for any mix (old ``LegacyVersion`` also sorted before all valid ones).
    """
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def is_same_version(a: str, b: str) -> bool:
    """True when two version strings denote one version (PEP 440 equality, else equal text)."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def normalize_version(version: str) -> str:
    """PEP 440 normal form of ``version``, or the text itself when it is not PEP 440."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version
