"""The catalog (``generator.catalog.catalog``): migrations, sources and repositories, priority,
yanks and removals, and the event log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp
from generator.errors import (
    Conflict,
    FileAlreadyExists,
    FileRemoved,
    InvalidName,
    NotFound,
    SameDistributionExists,
    SameDistributionRemoved,
)
from generator.records import FileEntry, FileRecord, PackageSummary, Source

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Ticker:
    """A clock that moves one minute on every reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def tick() -> Ticker:
    return Ticker()


@pytest.fixture
def catalog(catalog_location: str | Path, tick: Ticker) -> Iterator[Catalog]:
    """Sources "a" and "b" (local-python), "mirror" (pypi); repository "python" on a, b;
    on SQLite and on PostgreSQL."""
    with Catalog(catalog_location) as cat:
        for name, kind in (("a", "local-python"), ("b", "local-python"), ("mirror", "pypi")):
            cat.create_source(name, kind, tick())
        cat.create_repo("python", tick(), description="test")
        cat.subscribe("python", "a", tick())
        cat.subscribe("python", "b", tick())
        yield cat


def record(filename: str, version: str, *, content: str = "") -> FileRecord:
    sha256 = hashlib.sha256((filename + content).encode()).hexdigest()
    return FileRecord(
        filename=filename, version=version,
        packagetype="bdist_wheel" if filename.endswith(".whl") else "sdist",
        sha256=sha256, blake2_256=sha256, size=len(filename), requires_python=None,
        upload_time=format_timestamp(T0), metadata_sha256=None, has_signature=False,
        yanked=False, yanked_reason="",
    )


def entry(project: str, display_name: str, file: FileRecord) -> FileEntry:
    return FileEntry(project=NormalizedName(project), display_name=display_name, summary="s",
                     record=file)


AddFile = Callable[..., bool]


@pytest.fixture
def add(catalog: Catalog, tick: Ticker) -> AddFile:
    def add(source: str, project: str, version: str, suffix: str = ".tar.gz",
            content: str = "") -> bool:
        src = catalog.get_source(source)
        filename = f"{project.replace('-', '_')}-{version}{suffix}"
        return catalog.add_file(src, NormalizedName(project), project, "summary",
                                record(filename, version, content=content), tick())
    return add


def shown(catalog: Catalog, repo: str = "python") -> dict[str, tuple[str, tuple[str, ...]]]:
    """project -> (owning source, filenames) as the repository shows it."""
    return {
        p.name: (p.source, tuple(f.filename for f in p.files))
        for p in catalog.iter_projects(catalog.get_repo(repo))
    }


# -- sources and repositories -----------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c, t: c.create_source("c", "svn", t()), Conflict,
         "unknown source type 'svn': use one of local-python, pypi, curated-pypi"),
        (lambda c, t: c.create_source("a", "pypi", t()), Conflict,
         "source 'a' already exists: choose another name"),
        (lambda c, t: c.create_source("A", "pypi", t()), InvalidName,
         "invalid source name 'A': use 1-64 lowercase letters"),
        (lambda c, t: c.create_repo("python", t()), Conflict,
         "repository 'python' already exists: choose another name"),
        (lambda c, t: c.create_repo("other", t(), type="npm"), Conflict,
         "unknown repository type 'npm': use 'python'"),
        (lambda c, t: c.create_repo("files", t()), InvalidName,
         "invalid repository name 'files': it is reserved for the site"),
        (lambda c, t: c.get_source("nope"), NotFound,
         "unknown source 'nope' (known sources: a, b, mirror)"),
        (lambda c, t: c.get_repo("nope"), NotFound,
         "unknown repository 'nope' (known repositories: python)"),
        (lambda c, t: c.subscribe("python", "a", t()), Conflict,
         "repository 'python' already subscribes to 'a' (sources in order: a, b); "
         "use reorder to change priority"),
        (lambda c, t: c.subscribe("python", "nope", t()), NotFound, "unknown source 'nope'"),
        (lambda c, t: c.subscribe("nope", "a", t()), NotFound, "unknown repository 'nope'"),
        (lambda c, t: c.unsubscribe("python", "mirror", t()), NotFound,
         "repository 'python' does not subscribe to 'mirror'"),
        (lambda c, t: c.reorder("python", ["a"], t()), Conflict,
         "reorder must list each source of 'python' once: a, b; got a"),
        (lambda c, t: c.reorder("python", ["a", "b", "mirror"], t()), Conflict,
         "reorder must list each source of 'python' once: a, b; got a, b, mirror"),
        (lambda c, t: c.reorder("python", ["a", "a"], t()), Conflict, "got a, a"),
        (lambda c, t: c.reorder("python", [], t()), Conflict, "got (none)"),
    ],
    ids=["source-type", "source-exists", "source-name", "repo-exists", "repo-type",
         "repo-reserved", "unknown-source", "unknown-repo", "subscribe-twice",
         "subscribe-unknown-source", "subscribe-unknown-repo", "unsubscribe-absent",
         "reorder-missing", "reorder-extra", "reorder-duplicate", "reorder-empty"],
)
def test_catalog_refuses(
    call: Callable[[Catalog, Ticker], object], error: type[Exception], message: str,
    catalog: Catalog, tick: Ticker,
) -> None:
    events = catalog.last_event_id()
    with pytest.raises(error) as excinfo:
        call(catalog, tick)
    assert message in str(excinfo.value)
    assert catalog.last_event_id() == events
    assert catalog.get_repo("python").sources == ("a", "b")


def test_subscriptions_change_in_order(catalog: Catalog, tick: Ticker) -> None:
    assert catalog.reorder("python", ["b", "a"], tick()).sources == ("b", "a")
    assert catalog.unsubscribe("python", "b", tick()).sources == ("a",)
    assert catalog.subscribe("python", "mirror", tick()).sources == ("a", "mirror")
    kinds = [(e.kind, e.repo, e.detail) for e in catalog.events()[-3:]]
    assert kinds == [
        ("subscriptions_changed", "python", '{"sources":["b","a"]}'),
        ("subscriptions_changed", "python", '{"sources":["a"]}'),
        ("subscriptions_changed", "python", '{"sources":["a","mirror"]}'),
    ]


# -- files, priority, yanks and removals ------------------------------------------------


def test_add_file_is_idempotent_and_refuses_other_bytes(catalog: Catalog, add: AddFile) -> None:
    assert add("a", "foo", "1.0") is True
    events = catalog.last_event_id()
    assert add("a", "foo", "1.0") is False
    assert catalog.last_event_id() == events
    with pytest.raises(FileAlreadyExists) as excinfo:
        add("a", "foo", "1.0", content="other")
    assert str(excinfo.value).startswith("File already exists ('foo-1.0.tar.gz', with sha256")
    # The same name in another source is another file.
    assert add("b", "foo", "1.0", content="other") is True


KEEP3 = ("keep3-1.0-py3-none-any.whl", "keep3-1.0.tar.gz")


@pytest.mark.parametrize(
    ("filename", "version", "existing"),
    [
        ("keep3-1.0.0-py3-none-any.whl", "1.0.0", "keep3-1.0-py3-none-any.whl"),
        ("Keep3-1.0-py3-none-any.whl", "1.0", "keep3-1.0-py3-none-any.whl"),
        ("keep3-1.0-PY3-none-any.whl", "1.0", "keep3-1.0-py3-none-any.whl"),
        ("keep3-1.0.0.tar.gz", "1.0.0", "keep3-1.0.tar.gz"),
        ("keep3-1.0.zip", "1.0", "keep3-1.0.tar.gz"),
        ("keep3-1.0-py2.py3-none-any.whl", "1.0", None),
        ("keep3-1.0-1-py3-none-any.whl", "1.0", None),
        ("keep3-1.0-cp311-cp311-linux_x86_64.whl", "1.0", None),
        ("keep3-1.0.post0-py3-none-any.whl", "1.0.post0", None),
        ("keep3-1.1.zip", "1.1", None),
    ],
    ids=["zero-padded-version", "name-case", "tag-case", "sdist-version", "zip-beside-tar-gz",
         "other-tag-set", "build-tag", "platform-wheel", "post-release", "other-version"],
)
def test_another_spelling_of_a_file_is_refused(
    catalog: Catalog, tick: Ticker, filename: str, version: str, existing: str | None
) -> None:
    a = catalog.get_source("a")
    for name in KEEP3:
        assert catalog.add_file(a, NormalizedName("keep3"), "keep3", "", record(name, "1.0"),
                                tick())
    events = catalog.last_event_id()
    new = record(filename, version, content="other bytes")

    found = catalog.find_same_distribution(a, NormalizedName("keep3"), filename,
                                           new.packagetype)

    if existing is None:
        assert found is None
        assert catalog.add_file(a, NormalizedName("keep3"), "keep3", "", new, tick())
        return
    assert found is not None
    assert (found.record.filename, found.removed) == (existing, False)
    with pytest.raises(SameDistributionExists) as excinfo:
        catalog.add_file(a, NormalizedName("keep3"), "keep3", "", new, tick())
    assert isinstance(excinfo.value, FileAlreadyExists)
    assert (excinfo.value.filename, excinfo.value.existing) == (filename, existing)
    assert excinfo.value.sha256 == record(existing, "1.0").sha256
    assert str(excinfo.value).startswith(
        f"{filename!r} is the same distribution as {existing!r} already in source 'a' (same "
    )
    assert str(excinfo.value).endswith(": a file name is forever; upload a new version")
    assert catalog.last_event_id() == events
    assert shown(catalog) == {"keep3": ("a", tuple(sorted(KEEP3)))}
    # Another source is another place: the spelling is its own first file there.
    assert catalog.add_file(catalog.get_source("b"), NormalizedName("keep3"), "keep3", "", new,
                            tick())


def test_another_spelling_of_a_removed_file_is_refused(catalog: Catalog, tick: Ticker) -> None:
    a = catalog.get_source("a")
    catalog.add_file(a, NormalizedName("keep3"), "keep3", "", record(KEEP3[0], "1.0"), tick())
    catalog.remove(a, "keep3", tick())
    new = record("keep3-1.0.0-py3-none-any.whl", "1.0.0")

    with pytest.raises(SameDistributionRemoved) as excinfo:
        catalog.add_file(a, NormalizedName("keep3"), "keep3", "", new, tick())

    assert isinstance(excinfo.value, FileRemoved)
    assert excinfo.value.existing == KEEP3[0]
    assert str(excinfo.value) == (
        "'keep3-1.0.0-py3-none-any.whl' is the same distribution as "
        "'keep3-1.0-py3-none-any.whl', since removed from source 'a' (same project, version "
        "and tags): file names are never reused: upload a new version"
    )


def test_legacy_names_are_identified_by_their_exact_name(catalog: Catalog, tick: Ticker) -> None:
    """Files recorded before the PEP 440 rule (or mirrored) have no identity to share."""
    a = catalog.get_source("a")
    for name, version in (("foo-1.0-custom-2.tar.gz", "1.0-custom-2"), ("foo-r5.tar.gz", "r5"),
                          ("foo-r5.zip", "r5"), ("foo-2.tar.gz", "2")):
        assert catalog.add_file(a, NormalizedName("foo"), "foo", "", record(name, version),
                                tick())


def test_priority_resolution(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    add("a", "shared", "1.0")
    add("b", "shared", "2.0")
    add("b", "only-b", "1.0")
    assert shown(catalog) == {
        "only-b": ("b", ("only_b-1.0.tar.gz",)),
        "shared": ("a", ("shared-1.0.tar.gz",)),
    }

    catalog.reorder("python", ["b", "a"], tick())
    assert shown(catalog)["shared"] == ("b", ("shared-2.0.tar.gz",))

    catalog.reorder("python", ["a", "b"], tick())
    watermark = catalog.last_event_id()
    catalog.remove(catalog.get_source("a"), "shared", tick())
    assert shown(catalog)["shared"] == ("b", ("shared-2.0.tar.gz",))
    changed = catalog.changed_since(catalog.get_repo("python"), watermark,
                                    catalog.last_event_id())
    assert changed == {"shared"}
    assert [s.name for s in catalog.sources_with_project("Shared")] == ["b"]


def test_iter_projects_by_names(catalog: Catalog, add: AddFile) -> None:
    for name in ("x", "y", "z"):
        add("a", name, "1.0")
    repo = catalog.get_repo("python")
    assert [p.name for p in catalog.iter_projects(repo, ["z", "x", "absent"])] == ["x", "z"]
    assert catalog.project_names(repo) == [("x", "x"), ("y", "y"), ("z", "z")]


def test_yank_and_unyank(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    a = catalog.get_source("a")
    add("a", "foo", "1.0")
    add("a", "foo", "1.0", suffix="-py3-none-any.whl")
    add("a", "foo", "2.0")

    def yanks() -> dict[str, tuple[bool, str]]:
        project = next(catalog.iter_projects(catalog.get_repo("python"), ["foo"]))
        return {f.filename: (f.yanked, f.yanked_reason) for f in project.files}

    start = catalog.last_event_id()
    assert catalog.set_yanked(a, "Foo", "1.0.0", True, "broken <b>", tick()) == 2
    assert yanks() == {"foo-1.0-py3-none-any.whl": (True, "broken <b>"),
                       "foo-1.0.tar.gz": (True, "broken <b>"), "foo-2.0.tar.gz": (False, "")}
    assert catalog.set_yanked(a, "foo", "1.0", True, "broken <b>", tick()) == 0
    assert catalog.set_yanked(a, "foo", "1.0", True, "", tick()) == 2
    assert catalog.set_yanked(a, "foo", "1.0", False, "", tick()) == 2
    assert catalog.set_yanked(a, "foo", "1.0", False, "", tick()) == 0
    assert all(not y for y, _ in yanks().values())
    kinds = [(e.kind, e.filename, e.detail) for e in catalog.events(after=start)]
    assert kinds == [
        ("file_yanked", "foo-1.0-py3-none-any.whl",
         '{"filename":"foo-1.0-py3-none-any.whl","reason":"broken <b>"}'),
        ("file_yanked", "foo-1.0.tar.gz", '{"filename":"foo-1.0.tar.gz","reason":"broken <b>"}'),
        ("file_yanked", "foo-1.0-py3-none-any.whl",
         '{"filename":"foo-1.0-py3-none-any.whl","reason":""}'),
        ("file_yanked", "foo-1.0.tar.gz", '{"filename":"foo-1.0.tar.gz","reason":""}'),
        ("file_unyanked", "foo-1.0-py3-none-any.whl",
         '{"filename":"foo-1.0-py3-none-any.whl","reason":""}'),
        ("file_unyanked", "foo-1.0.tar.gz", '{"filename":"foo-1.0.tar.gz","reason":""}'),
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, s, t: c.set_yanked(s, "foo", "3.0", True, "", t()),
         "project 'foo' in source 'a' has no version '3.0' (versions: 1.0, 2.0)"),
        (lambda c, s, t: c.set_yanked(s, "bar", "1.0", True, "", t()),
         "project 'bar' is not in source 'a'"),
        (lambda c, s, t: c.remove(s, "foo", t(), version="3.0"),
         "project 'foo' in source 'a' has no version '3.0' to remove "
         "(files: foo-1.0.tar.gz, foo-2.0.tar.gz)"),
        (lambda c, s, t: c.remove(s, "foo", t(), filename="foo-3.0.tar.gz"),
         "has no file 'foo-3.0.tar.gz' to remove"),
        (lambda c, s, t: c.remove(s, "foo", t(), version="2.0", filename="foo-1.0.tar.gz"),
         "has no version '2.0' file 'foo-1.0.tar.gz' to remove"),
        (lambda c, s, t: c.remove(s, "nope", t()), "project 'nope' is not in source 'a'"),
    ],
    ids=["yank-unknown-version", "yank-unknown-project", "remove-unknown-version",
         "remove-unknown-file", "remove-version-file-mismatch", "remove-unknown-project"],
)
def test_yank_and_remove_refuse(
    call: Callable[[Catalog, Source, Ticker], object], message: str,
    catalog: Catalog, add: AddFile, tick: Ticker,
) -> None:
    add("a", "foo", "1.0")
    add("a", "foo", "2.0")
    events = catalog.last_event_id()
    with pytest.raises(NotFound) as excinfo:
        call(catalog, catalog.get_source("a"), tick)
    assert message in str(excinfo.value)
    assert catalog.last_event_id() == events


def test_remove_version_file_and_project(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    a = catalog.get_source("a")
    add("a", "foo", "1.0")
    add("a", "foo", "1.0", suffix="-py3-none-any.whl")
    add("a", "foo", "2.0")
    add("a", "foo", "3.0")

    assert catalog.remove(a, "foo", tick(), filename="foo-3.0.tar.gz") == ("foo-3.0.tar.gz",)
    assert catalog.remove(a, "foo", tick(), version="1.0") == (
        "foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz")
    assert shown(catalog) == {"foo": ("a", ("foo-2.0.tar.gz",))}
    found = catalog.find_file(a, "foo-1.0.tar.gz")
    assert found is not None
    assert found.removed is True
    # The removal time is not the record's (mirror) URL.
    assert found.record.url is None
    with pytest.raises(FileRemoved):
        add("a", "foo", "1.0")

    assert catalog.remove(a, "foo", tick()) == ("foo-2.0.tar.gz",)
    assert shown(catalog) == {}
    assert catalog.list_packages() == []
    with pytest.raises(NotFound, match="has no files to remove"):
        catalog.remove(a, "foo", tick())


def test_events_carry_the_injected_time(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    start = catalog.last_event_id()
    add("a", "foo", "1.0")
    added_at = tick.now
    catalog.remove(catalog.get_source("a"), "foo", tick())
    events = catalog.events(after=start)
    assert [(e.kind, e.at, e.source, e.project, e.filename, e.repo) for e in events] == [
        ("file_added", format_timestamp(added_at), "a", "foo", "foo-1.0.tar.gz", None),
        ("file_removed", format_timestamp(tick.now), "a", "foo", "foo-1.0.tar.gz", None),
    ]
    assert [e.id for e in events] == [start + 1, start + 2]
    assert [e.id for e in catalog.events(after=start, limit=1)] == [start + 1]


def test_changed_since(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    repo = catalog.get_repo("python")
    catalog.create_source("unused", "local-python", tick())
    start = catalog.last_event_id()
    add("a", "foo", "1.0")
    add("b", "bar", "1.0")
    add("unused", "baz", "1.0")
    middle = catalog.last_event_id()
    assert catalog.changed_since(repo, start, middle) == {"foo", "bar"}
    assert catalog.changed_since(repo, middle, middle) == set()
    catalog.set_yanked(catalog.get_source("b"), "bar", "1.0", True, "", tick())
    assert catalog.changed_since(repo, middle, catalog.last_event_id()) == {"bar"}
    catalog.reorder("python", ["b", "a"], tick())
    assert catalog.changed_since(repo, middle, catalog.last_event_id()) is None
    # Events after ``upto`` are not counted.
    assert catalog.changed_since(repo, start, middle) == {"foo", "bar"}


def test_list_packages(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    add("a", "foo", "1.0")
    add("a", "foo", "1.0", suffix="-py3-none-any.whl")
    add("a", "foo", "10.0")
    add("a", "foo", "r1")
    add("a", "foo", "9.0")
    add("b", "bar", "2.0")
    add("b", "foo", "0.1")
    catalog.remove(catalog.get_source("a"), "foo", tick(), version="10.0")

    def summary(source: str, name: str, versions: int, files: int, latest: str) -> PackageSummary:
        return PackageSummary(source=source, name=NormalizedName(name), display_name=name,
                              versions=versions, files=files, latest=latest)

    assert catalog.list_packages() == [
        summary("a", "foo", 3, 4, "9.0"),
        summary("b", "bar", 1, 1, "2.0"),
        summary("b", "foo", 1, 1, "0.1"),
    ]
    assert catalog.list_packages(catalog.get_source("b")) == [
        summary("b", "bar", 1, 1, "2.0"),
        summary("b", "foo", 1, 1, "0.1"),
    ]
    assert catalog.list_packages(catalog.get_source("mirror")) == []


def test_add_files_in_one_transaction(catalog: Catalog, tick: Ticker) -> None:
    a = catalog.get_source("a")
    entries = [entry("foo", "Foo", record(f"foo-{v}.tar.gz", v)) for v in ("1.0", "2.0")]
    assert catalog.add_files(a, entries, tick()) == 2
    assert catalog.add_files(a, entries, tick()) == 0
    clash = [entry("foo", "Foo", record("foo-3.0.tar.gz", "3.0")),
             entry("foo", "Foo", record("foo-1.0.tar.gz", "1.0", content="x"))]
    with pytest.raises(FileAlreadyExists):
        catalog.add_files(a, clash, tick())
    assert shown(catalog) == {"foo": ("a", ("foo-1.0.tar.gz", "foo-2.0.tar.gz"))}
    assert catalog.check_integrity() == []


# -- the past (what dated snapshots replay) ---------------------------------------------


def test_replay_at_past_instants(catalog: Catalog, add: AddFile, tick: Ticker) -> None:
    repo = catalog.get_repo("python")
    a, b = catalog.get_source("a"), catalog.get_source("b")
    add("a", "tempo", "1.0")
    add("b", "other", "1.0")
    first = format_timestamp(tick())
    catalog.add_file(a, NormalizedName("tempo"), "Tempo", "summary",
                     record("tempo-2.0-py3-none-any.whl", "2.0"), tick())
    catalog.set_yanked(a, "tempo", "1.0", True, "bad build", tick())
    second = format_timestamp(tick())
    catalog.remove(b, "other", tick())
    third = format_timestamp(tick())

    def state(at: str) -> dict[str, tuple[str, tuple[tuple[str, bool, str], ...]]]:
        return {
            p.name: (p.display_name, tuple((f.filename, f.yanked, f.yanked_reason)
                                           for f in p.files))
            for p in catalog.iter_projects_at(repo, at)
        }

    assert state(first) == {"other": ("other", (("other-1.0.tar.gz", False, ""),)),
                            "tempo": ("tempo", (("tempo-1.0.tar.gz", False, ""),))}
    assert state(second)["tempo"] == ("Tempo", (("tempo-1.0.tar.gz", True, "bad build"),
                                                ("tempo-2.0-py3-none-any.whl", False, "")))
    assert set(state(third)) == {"tempo"}
    for at in (first, second, third):
        assert catalog.project_names_at(repo, at) == [
            (p.name, p.display_name) for p in catalog.iter_projects_at(repo, at)
        ]
    assert catalog.changed_between(repo, first, second) == {"tempo"}
    assert catalog.changed_between(repo, second, third) == {"other"}
