"""Files (``generator.catalog.files``): adding, other spellings, yanks and removals."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp
from generator.errors import (
    FileAlreadyExists,
    FileRemoved,
    NotFound,
    SameDistributionExists,
    SameDistributionRemoved,
)
from generator.records import Source
from tests.generator.catalog.conftest import AddFile, Ticker, entry, record, shown


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


@pytest.mark.parametrize("batch", [False, True], ids=["add_file", "add_files"])
def test_a_yanked_file_is_recorded_with_its_yank(
    catalog: Catalog, tick: Ticker, batch: bool
) -> None:
    # Snapshots read yank state from events only: the file_added event alone would show
    # the file un-yanked on every dated snapshot.
    a = catalog.get_source("a")
    yanked = dataclasses.replace(record("foo-1.0.tar.gz", "1.0"), yanked=True,
                                 yanked_reason="broken")
    if batch:
        assert catalog.add_files(a, [entry("foo", "foo", yanked)], tick()) == 1
    else:
        assert catalog.add_file(a, NormalizedName("foo"), "foo", "", yanked, tick())
    assert [(e.kind, e.filename) for e in catalog.events(catalog.last_event_id() - 2)] == [
        ("file_added", "foo-1.0.tar.gz"), ("file_yanked", "foo-1.0.tar.gz")]
    after = format_timestamp(tick())
    (project,) = catalog.iter_projects_at(catalog.get_repo("python"), after)
    assert [(f.yanked, f.yanked_reason) for f in project.files] == [(True, "broken")]
