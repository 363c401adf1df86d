"""What repositories show now (``generator.catalog.live``): priority, names, changes."""

from __future__ import annotations

from generator.catalog.catalog import Catalog
from tests.generator.catalog.conftest import AddFile, Ticker, shown


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
