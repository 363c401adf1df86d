"""The facade (``generator.catalog.catalog``): every method of every part is on ``Catalog``,
with the same signature, and answers as the part does."""

from __future__ import annotations

import inspect

import pytest

from generator.catalog.catalog import Catalog
from generator.catalog.database import Database
from generator.catalog.files import Files
from generator.catalog.history import History
from generator.catalog.listings import Listings
from generator.catalog.live import Live
from generator.catalog.mirrors import Mirrors
from generator.catalog.sources import Sources
from generator.catalog.tokens import Tokens
from generator.records import GenerationState, SnapshotDay
from tests.generator.catalog.conftest import T0

PARTS = (Sources, Files, Live, History, Mirrors, Tokens, Listings)
DATABASE_METHODS = ("exclusive", "schema_version", "migrate", "check_integrity", "close")


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.__name__)
def test_every_method_of_a_part_is_on_the_catalog(part: type) -> None:
    facade = _public(Catalog)
    for name, signature in _public(part).items():
        assert name in facade, f"Catalog.{name} is missing"
        assert facade[name] == signature, f"Catalog.{name}{facade[name]} is not {signature}"


def test_the_database_methods_are_on_the_catalog() -> None:
    facade, database = _public(Catalog), _public(Database)
    for name in DATABASE_METHODS:
        assert facade[name] == database[name]


def test_the_bookkeeping_comes_back_as_records(catalog: Catalog) -> None:
    repo = catalog.get_repo("python")
    assert catalog.generation_state(repo) is None
    catalog.record_generation(repo, 7, "v1", {})
    assert catalog.generation_state(repo) == GenerationState(last_event_id=7, render_version="v1")
    assert catalog.snapshot_days(repo) == {}
    catalog.record_snapshot(repo, "2026-03-01", "v1", T0, reconstructed=True)
    catalog.record_snapshot(repo, "2026-03-01", "v2", T0, reconstructed=False)
    assert catalog.snapshot_days(repo) == {
        "2026-03-01": SnapshotDay(render_version="v1", reconstructed=True)
    }
    catalog.forget_snapshot(repo, "2026-03-01")
    assert catalog.snapshot_days(repo) == {}
