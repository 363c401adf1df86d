"""Sources, repositories and subscriptions (``generator.catalog.sources``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from generator.catalog.catalog import Catalog
from generator.errors import (
    Conflict,
    InvalidName,
    NotFound,
)
from tests.generator.catalog.conftest import Ticker


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
