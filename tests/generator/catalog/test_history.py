"""The past (``generator.catalog.history``): what dated snapshots replay."""

from __future__ import annotations

from packaging.utils import NormalizedName

from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp
from tests.generator.catalog.conftest import AddFile, Ticker, record


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
