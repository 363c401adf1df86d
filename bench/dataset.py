"""Seeded benchmark datasets: a catalog of N files and the same list for dumb-pypi.

``iter_dataset(files, seed)`` yields exactly ``files`` distribution files spread over
``files // 10`` projects (at least one), always the same ones for the same arguments:

- project names in the shapes PyPI has (``Flask-Login``, ``zope.interface``,
  ``python_dateutil``, ``PyYAML``), unique once normalized;
- a long-tailed number of files per project (most have a few, some hundreds);
- versions that grow over time, with pre-releases (``a``/``b``/``rc``/``.dev``),
  post-releases and, on a few sdists, non-PEP 440 legacy versions;
- pure projects (``py3-none-any`` wheel + sdist) and binary ones (cp39..cp313 wheels for
  manylinux, musllinux, macOS and Windows, some ``abi3``), old- and new-style filenames;
- upload times spread over 2010-2025, a few yanked releases with reasons, and
  ``Requires-Python`` on most later releases.

No archive is ever written: hashes are derived from the seed and the filename, and
wheels get a ``metadata_sha256`` as if their ``.metadata`` file existed.

``build_dataset`` writes both inputs of the benchmark into one directory: a timeshelf
installation (``timeshelf init``, then ``Catalog.add_files`` in large batches) and
``packages.json``, dumb-pypi's ``--package-list-json`` input with the same files.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from generator.catalog.catalog import Catalog
from generator.cli.main import main as timeshelf_main
from generator.clock import format_timestamp
from generator.config.settings import CONFIG_NAME, load_config
from generator.records import FileEntry, FileRecord

# Bump when the generated data changes, so cached datasets are rebuilt.
DATASET_VERSION = 1
FILES_PER_PROJECT = 10
DEFAULT_SEED = 20260301
SOURCE = "local"
PACKAGE_LIST = "packages.json"

_START = datetime(2010, 1, 1, tzinfo=UTC).timestamp()
_END = datetime(2025, 12, 31, tzinfo=UTC).timestamp()
_DAY = 86400.0

_WORDS = (
    "flask", "django", "requests", "zope", "interface", "date", "util", "yaml", "json", "toml",
    "http", "client", "server", "async", "io", "cache", "redis", "sql", "alchemy", "mongo",
    "kafka", "rabbit", "celery", "task", "queue", "worker", "auth", "oauth", "jwt", "crypto",
    "hash", "test", "mock", "fixture", "lint", "format", "type", "check", "stub", "data", "frame",
    "array", "numeric", "sci", "learn", "torch", "vision", "audio", "text", "nlp", "token",
    "parse", "xml", "html", "soup", "markdown", "render", "template", "jinja", "click", "cli",
    "shell", "color", "log", "trace", "metric", "prom", "cloud", "storage", "bucket", "blob",
    "azure", "mgmt", "compute", "network", "aws", "boto", "lambda", "gcp", "pubsub", "grpc",
    "proto", "schema", "valid", "pydantic", "attrs", "config", "env", "secret", "vault", "docker",
    "kube", "helm", "build", "wheel", "setup", "tools", "pack", "dist", "upload", "index",
    "mirror", "snapshot", "repo", "git", "hub", "lab", "image", "pillow", "plot", "chart",
    "graph", "geo", "map", "time", "zone", "locale", "i18n", "unicode", "slug", "path", "file",
    "watch", "event", "signal", "socket", "web", "hook", "rest", "api", "graph", "ql", "view",
    "form", "admin", "core",
)
_PREFIXES = ("py", "python", "types", "django", "flask", "pytest", "sphinx", "azure", "jupyter")
_PURE_TAG = "py3-none-any"
_PYTHONS = (  # CPython release dates: a binary release ships wheels for those out by then.
    ("cp39", datetime(2020, 10, 5, tzinfo=UTC).timestamp()),
    ("cp310", datetime(2021, 10, 4, tzinfo=UTC).timestamp()),
    ("cp311", datetime(2022, 10, 24, tzinfo=UTC).timestamp()),
    ("cp312", datetime(2023, 10, 2, tzinfo=UTC).timestamp()),
    ("cp313", datetime(2024, 10, 7, tzinfo=UTC).timestamp()),
)
_PLATFORMS = (
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "musllinux_1_2_x86_64",
    "macosx_10_9_x86_64",
    "macosx_11_0_arm64",
    "win_amd64",
    "win32",
)
_REQUIRES_PYTHON = (">=3.6", ">=3.7", ">=3.8", ">=3.8,<4", ">=3.9", "!=3.0.*,!=3.1.*,>=2.7")
_YANK_REASONS = (
    "broken wheel on Windows",
    "security issue: use >=2.0.1 instead",
    "wrong <dependency> & metadata",
    "released by mistake",
)
# Versions PyPI still hosts that PEP 440 refuses (sdists only; wheels need PEP 440).
_LEGACY_SUFFIXES = (".win32", ".final", ".x", "-SNAPSHOT")


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetFile:
    """One generated file: its project, the catalog record and its upload time in seconds."""

    project: NormalizedName
    display_name: str
    record: FileRecord
    upload_timestamp: int

    @property
    def entry(self) -> FileEntry:
        """What ``Catalog.add_files`` records of it (no summary)."""
        return FileEntry(
            project=self.project, display_name=self.display_name, summary="", record=self.record
        )


def _digest(seed: int, kind: str, filename: str) -> str:
    return hashlib.sha256(f"{seed}:{kind}:{filename}".encode()).hexdigest()


def _project_sizes(rng: random.Random, files: int) -> list[int]:
    """Files per project: ``files // 10`` projects, long-tailed, summing to ``files``."""
    projects = max(1, files // FILES_PER_PROJECT)
    weights = [rng.lognormvariate(0.0, 1.25) for _ in range(projects)]
    scale = (files - projects) / sum(weights)
    sizes = [1 + int(w * scale) for w in weights]
    # Hand out what rounding down left, one file each to the projects in a seeded order.
    missing = files - sum(sizes)
    order = list(range(projects))
    rng.shuffle(order)
    for i in range(missing):
        sizes[order[i % projects]] += 1
    return sizes


def _display_name(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.choice((1, 2, 2, 2, 3)))
    if rng.random() < 0.2:
        words.insert(0, rng.choice(_PREFIXES))
    style = rng.random()
    if style < 0.35:
        return "-".join(words)
    if style < 0.5:
        return "_".join(words)
    if style < 0.6:
        return ".".join(words)
    if style < 0.8:
        return "-".join(w.capitalize() for w in words)
    return "".join(w.capitalize() for w in words)


def _versions(rng: random.Random) -> Iterator[str]:
    """An endless, increasing release history with pre-, post- and dev-releases."""
    major, minor, patch = rng.choice((0, 0, 1, 2)), rng.randrange(0, 10), 0
    while True:
        roll = rng.random()
        if roll < 0.1:
            yield f"{major}.{minor}.{patch}rc1" if rng.random() < 0.5 else f"{major}.{minor}.{patch}b1"
        elif roll < 0.13:
            yield f"{major}.{minor}.{patch}.dev0"
        yield f"{major}.{minor}.{patch}"
        if rng.random() < 0.04:
            yield f"{major}.{minor}.{patch}.post1"
        roll = rng.random()
        if roll < 0.6:
            patch += 1
        elif roll < 0.93:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0


def _is_final(version: str) -> bool:
    return all(part.isdigit() for part in version.split("."))


def _is_pep440(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


@dataclass(slots=True)
class _Project:
    name: NormalizedName
    display: str
    binary: bool
    platforms: tuple[str, ...]
    abi3: bool
    new_style_names: bool
    requires_python: tuple[float, str] | None  # (from when, specifier)


def _make_project(rng: random.Random, display: str, size: int, start: float) -> _Project:
    binary = size >= 12 and rng.random() < 0.6
    platforms = tuple(p for p in _PLATFORMS if rng.random() < 0.7) or _PLATFORMS[:1]
    requires = None
    if rng.random() < 0.7:
        requires = (start + rng.random() * (_END - start) * 0.3, rng.choice(_REQUIRES_PYTHON))
    return _Project(
        name=canonicalize_name(display),
        display=display,
        binary=binary,
        platforms=platforms,
        abi3=rng.random() < 0.15,
        new_style_names=rng.random() < 0.5,
        requires_python=requires,
    )


def _release_files(
    rng: random.Random, project: _Project, version: str, when: float
) -> list[tuple[str, str]]:
    """(filename, packagetype) of one release, sdist last."""
    wheel_name = (
        project.name.replace("-", "_") if project.new_style_names
        else project.display.replace("-", "_")
    )
    sdist_name = wheel_name if project.new_style_names else project.display
    legacy = not _is_pep440(version)
    sdist_suffix = ".zip" if when < _START + 3 * 365 * _DAY and rng.random() < 0.3 else ".tar.gz"
    sdist = (f"{sdist_name}-{version}{sdist_suffix}", "sdist")
    if legacy:
        return [sdist]
    wheels: list[tuple[str, str]] = []
    if not project.binary:
        if when > _START + 2 * 365 * _DAY or rng.random() < 0.3:
            wheels.append((f"{wheel_name}-{version}-{_PURE_TAG}.whl", "bdist_wheel"))
    else:
        pythons = [tag for tag, released in _PYTHONS if released <= when] or ["cp39"]
        if project.abi3:
            pythons = pythons[:1]
        for python in pythons:
            abi = "abi3" if project.abi3 else python
            for platform in project.platforms:
                tag = f"{python}-{abi}-{platform}"
                wheels.append((f"{wheel_name}-{version}-{tag}.whl", "bdist_wheel"))
    return [*wheels, sdist]


def iter_dataset(files: int, seed: int = DEFAULT_SEED) -> Iterator[DatasetFile]:
    """Exactly ``files`` files over ``max(1, files // 10)`` projects; same seed, same files."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    seen: set[str] = set()
    for size in _project_sizes(rng, files):
        display = _display_name(rng)
        suffix = 2
        base = display
        while canonicalize_name(display) in seen:
            display, suffix = f"{base}-{suffix}", suffix + 1
        seen.add(canonicalize_name(display))
        start = _START + rng.random() * (_END - _START) * 0.9
        project = _make_project(rng, display, size, start)
        yield from _project_files(rng, seed, project, size, start)


def _project_files(
    rng: random.Random, seed: int, project: _Project, size: int, start: float
) -> Iterator[DatasetFile]:
    # Spread the releases so the newest lands before the end of the period.
    releases_guess = max(1, size // (8 if project.binary else 2))
    gap = max(_DAY, min(120 * _DAY, (_END - start) / releases_guess))
    when, left = start, size
    for version in _versions(rng):
        if left <= 0:
            return
        # A few early final releases get a version PEP 440 refuses (only final releases,
        # so no two releases of a project can end up with the same legacy version).
        if rng.random() < 0.03 and when < _START + 6 * 365 * _DAY and _is_final(version):
            version += rng.choice(_LEGACY_SUFFIXES)
        yanked = rng.random() < 0.01
        reason = rng.choice(_YANK_REASONS) if yanked else ""
        requires: str | None = None
        if project.requires_python is not None and when >= project.requires_python[0]:
            requires = project.requires_python[1]
        for filename, packagetype in _release_files(rng, project, version, when)[:left]:
            uploaded = int(when + rng.random() * 3600)
            wheel = packagetype == "bdist_wheel"
            record = FileRecord(
                filename=filename,
                version=version,
                packagetype="bdist_wheel" if wheel else "sdist",
                sha256=_digest(seed, "file", filename),
                blake2_256=_digest(seed, "blake2", filename),
                size=int(rng.lognormvariate(12.5, 1.5)) + 1,
                requires_python=requires,
                upload_time=format_timestamp(datetime.fromtimestamp(uploaded, UTC)),
                metadata_sha256=_digest(seed, "metadata", filename) if wheel else None,
                has_signature=rng.random() < 0.02,
                yanked=yanked,
                yanked_reason=reason,
            )
            left -= 1
            yield DatasetFile(
                project=project.name, display_name=project.display, record=record,
                upload_timestamp=uploaded,
            )
        when = min(_END, when + rng.expovariate(1.0 / gap))


def dumb_pypi_line(item: DatasetFile) -> str:
    """The ``--package-list-json`` line of a file (dumb-pypi takes hashes as ``algo=hex``)."""
    r = item.record
    entry: dict[str, str | int] = {
        "filename": r.filename,
        "hash": f"sha256={r.sha256}",
        "upload_timestamp": item.upload_timestamp,
    }
    if r.requires_python:
        entry["requires_python"] = r.requires_python
    if r.metadata_sha256:
        entry["core_metadata"] = f"sha256={r.metadata_sha256}"
    if r.yanked:
        # dumb-pypi marks a file yanked only when the reason is non-empty.
        entry["yanked_reason"] = r.yanked_reason or "yanked"
    return json.dumps(entry, sort_keys=True) + "\n"


def init_installation(directory: Path) -> Path:
    """``timeshelf init DIRECTORY``; return the configuration path."""
    code = timeshelf_main(["init", str(directory)])
    if code != 0:
        raise RuntimeError(f"timeshelf init {directory} failed with exit code {code}")
    return directory / CONFIG_NAME


def add_to_catalog(config: Path, items: list[DatasetFile], at: datetime) -> int:
    """Add files to the installation's source ``local`` in one transaction; return how many."""
    with Catalog(load_config(config).catalog_path) as catalog:
        source = catalog.get_source(SOURCE)
        return catalog.add_files(source, (i.entry for i in items), at)


def build_dataset(
    directory: Path, files: int, seed: int = DEFAULT_SEED, *, batch: int = 100_000,
    at: datetime | None = None,
) -> Path:
    """A timeshelf installation in ``directory/site`` and dumb-pypi's list beside it.

    Returns the configuration path. ``directory`` must not exist yet.
    """
    when = at or datetime(2026, 1, 1, tzinfo=UTC)
    config = init_installation(directory / "install")
    pending: list[DatasetFile] = []
    with (directory / PACKAGE_LIST).open("w", encoding="utf-8") as listing:
        for item in iter_dataset(files, seed):
            listing.write(dumb_pypi_line(item))
            pending.append(item)
            if len(pending) >= batch:
                add_to_catalog(config, pending, when)
                pending = []
        if pending:
            add_to_catalog(config, pending, when)
    return config


def extra_file(files: int, seed: int, serial: int) -> DatasetFile:
    """A new file for the incremental runs: one more release of a mid-sized project.

    ``serial`` (1, 2, …) picks a distinct new version each time.
    """
    rng = random.Random(f"{seed}:{files}:extra")  # noqa: S311 - reproducible data
    target = rng.randrange(max(1, files // FILES_PER_PROJECT))
    for index, item in enumerate(_first_files(files, seed)):
        if index == target:
            return _new_release(item, seed, serial)
    raise AssertionError("unreachable: the dataset has at least one project")


def extra_files(files: int, seed: int, count: int) -> list[DatasetFile]:
    """``extra_file`` for the serials 1 to ``count``, reading the dataset once (at 1M
    files each ``extra_file`` call takes 12-16 s here to find its project)."""
    if count < 1:
        return []
    first = extra_file(files, seed, 1)
    return [first, *(_new_release(first, seed, serial) for serial in range(2, count + 1))]


def _first_files(files: int, seed: int) -> Iterator[DatasetFile]:
    """The first file of every project, in dataset order."""
    previous: str | None = None
    for item in iter_dataset(files, seed):
        if item.project != previous:
            previous = item.project
            yield item


def _new_release(item: DatasetFile, seed: int, serial: int) -> DatasetFile:
    version = f"{9000 + serial}.0"
    filename = f"{item.project.replace('-', '_')}-{version}-{_PURE_TAG}.whl"
    uploaded = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp()) + serial
    record = FileRecord(
        filename=filename,
        version=version,
        packagetype="bdist_wheel",
        sha256=_digest(seed, "file", filename),
        blake2_256=_digest(seed, "blake2", filename),
        size=12345,
        requires_python=">=3.9",
        upload_time=format_timestamp(datetime.fromtimestamp(uploaded, UTC)),
        metadata_sha256=_digest(seed, "metadata", filename),
        has_signature=False,
        yanked=False,
        yanked_reason="",
    )
    return DatasetFile(
        project=item.project, display_name=item.display_name, record=record,
        upload_timestamp=uploaded,
    )


def summarize(files: int, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Counts that describe a dataset (for the results file)."""
    counts = {"files": 0, "projects": 0, "wheels": 0, "sdists": 0, "legacy_versions": 0,
              "yanked": 0, "requires_python": 0, "largest_project": 0}
    current, size = "", 0
    for item in iter_dataset(files, seed):
        r = item.record
        counts["files"] += 1
        if item.project != current:
            counts["projects"] += 1
            current, size = item.project, 0
        size += 1
        counts["largest_project"] = max(counts["largest_project"], size)
        counts["wheels" if r.packagetype == "bdist_wheel" else "sdists"] += 1
        counts["legacy_versions"] += not _is_pep440(r.version)
        counts["yanked"] += r.yanked
        counts["requires_python"] += r.requires_python is not None
    return counts


def write_lines(handle: IO[str], items: list[DatasetFile]) -> None:
    """Append files to an open dumb-pypi list."""
    for item in items:
        handle.write(dumb_pypi_line(item))

