"""Which versions an advisory affects (``generator.advisories.matching``): OSV's range
walk over PEP 440 versions, ``versions`` lists, withdrawn advisories, fixed-in lists."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.utils import NormalizedName
from packaging.version import Version

from generator.advisories.index import AdvisoryIndex
from generator.advisories.matching import (
    advisories_affecting,
    affects,
    fixed_in,
    in_range,
    package_affects,
)
from generator.records import Advisory, AffectedPackage

IN, F, L = "introduced", "fixed", "last_affected"


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        (((IN, "0"), (F, "1.2")), "1.0", True),
        (((IN, "0"), (F, "1.2")), "1.2", False),
        (((IN, "0"), (F, "1.2")), "1.2rc1", True),
        (((IN, "0"), (F, "1.2")), "0.0.1.dev0", True),
        (((IN, "0"), (F, "1.2")), "0a1", True),  # "0" opens below every pre-release
        (((IN, "0"), (F, "1.2")), "0.dev0", True),
        (((IN, "1.0"), (F, "1.2")), "0.9", False),
        (((IN, "1.0"), (F, "1.2")), "1.0", True),
        (((IN, "1.0"), (F, "1.2")), "1.0.0", True),
        (((IN, "1.0"), (F, "1.2")), "1.1.post1", True),
        (((IN, "1.0"),), "99", True),
        (((IN, "1.0"), (L, "1.4")), "1.4", True),
        (((IN, "1.0"), (L, "1.4")), "1.4.1", False),
        (((IN, "1.0"), (L, "1.4")), "1.4.post1", False),
        # Two intervals in one range, events given out of order.
        (((F, "2.5"), (IN, "2.0"), (F, "1.5"), (IN, "1.0")), "1.7", False),
        (((F, "2.5"), (IN, "2.0"), (F, "1.5"), (IN, "1.0")), "2.1", True),
        (((F, "2.5"), (IN, "2.0"), (F, "1.5"), (IN, "1.0")), "1.2", True),
        (((F, "2.5"), (IN, "2.0"), (F, "1.5"), (IN, "1.0")), "3.0", False),
        # Introduced and fixed at the same version: nothing is affected.
        (((IN, "1.0"), (F, "1.0")), "1.0", False),
        # Epochs and local versions follow PEP 440.
        (((IN, "0"), (F, "1!0.5")), "2.0", True),
        (((IN, "0"), (F, "1.2")), "1.1+local", True),
        # A legacy version is never in a range; an event that is not PEP 440 is ignored.
        (((IN, "0"), (F, "1.2")), "1.0-beta-legacy", False),
        (((IN, "0"), (F, "not a version")), "5.0", True),
        ((), "1.0", False),
    ],
    ids=lambda v: repr(v) if not isinstance(v, bool) else str(v),
)
def test_range(events: tuple[tuple[str, str], ...], version: str, expected: bool) -> None:
    assert in_range(version, events) is expected


def _package(*, ranges: tuple[tuple[tuple[str, str], ...], ...] = (),
             versions: tuple[str, ...] = ()) -> AffectedPackage:
    return AffectedPackage(name=NormalizedName("demo-lib"), ranges=ranges, versions=versions)


@pytest.mark.parametrize(
    ("versions", "version", "expected"),
    [
        (("1.0", "1.1"), "1.1", True),
        (("1.0",), "1.0.0", True),  # the same PEP 440 version
        (("1.0",), "1.0.1", False),
        (("1.0-beta-legacy",), "1.0-beta-legacy", True),  # a legacy one: the same string
        (("1.0-beta-legacy",), "1.0-BETA-legacy", False),
    ],
    ids=["listed", "pep440-equal", "not-listed", "legacy-exact", "legacy-other-string"],
)
def test_versions_list(versions: tuple[str, ...], version: str, expected: bool) -> None:
    assert package_affects(_package(versions=versions), version) is expected


def _advisory(**fields: object) -> Advisory:
    defaults: dict[str, object] = {
        "id": "PYSEC-2026-1", "modified": "2026-02-01T00:00:00.000000Z",
        "packages": (_package(ranges=(((IN, "0"), (F, "1.2")),)),),
    }
    return Advisory(**{**defaults, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("project", "version", "expected"),
    [
        ("demo-lib", "1.0", True), ("Demo_Lib", "1.0", True), ("demo.lib", "1.0", True),
        ("demo-lib", "1.2", False), ("other", "1.0", False),
    ],
    ids=["same", "spelt-otherwise", "dots", "fixed", "other-project"],
)
def test_affects_by_normalized_name(project: str, version: str, expected: bool) -> None:
    assert affects(_advisory(), project, version) is expected


def test_a_withdrawn_advisory_affects_nothing() -> None:
    withdrawn = _advisory(withdrawn="2026-02-03T00:00:00.000000Z")
    assert not affects(withdrawn, "demo-lib", "1.0")
    assert advisories_affecting([withdrawn, _advisory(id="PYSEC-2026-2")], "demo-lib",
                                "1.0") == (_advisory(id="PYSEC-2026-2"),)


def test_advisories_affecting_are_sorted_by_id() -> None:
    found = advisories_affecting([_advisory(id="PYSEC-2026-9"), _advisory(id="GHSA-a")],
                                 "demo-lib", "1.0")
    assert [a.id for a in found] == ["GHSA-a", "PYSEC-2026-9"]


def test_fixed_in_is_pep440_ordered_and_only_the_project() -> None:
    advisory = _advisory(packages=(
        _package(ranges=(((IN, "2.0"), (F, "2.10")), ((IN, "0"), (F, "1.9")),
                         ((IN, "2.0"), (F, "2.10.0")))),
        AffectedPackage(name=NormalizedName("other"), ranges=(((IN, "0"), (F, "7")),)),
    ))
    assert fixed_in(advisory, "demo-lib") == ("1.9", "2.10", "2.10.0")
    assert fixed_in(advisory, "other") == ("7",)
    assert fixed_in(advisory, "absent") == ()


def test_the_index_answers_by_project_and_version() -> None:
    index = AdvisoryIndex({NormalizedName("demo-lib"): (_advisory(),)})
    assert index.advisories_affecting("Demo-Lib", "1.0") == (_advisory(),)
    assert index.advisories_affecting("demo-lib", "1.2") == ()
    assert index.advisories_affecting("absent", "1.0") == ()
    assert index.is_affected("demo_lib", "1.1")
    assert not index.is_affected("demo_lib", "2")


_versions = st.builds(
    lambda parts, pre: ".".join(map(str, parts)) + pre,
    st.lists(st.integers(0, 12), min_size=1, max_size=3),
    st.sampled_from(["", "a1", "rc2", ".post1", ".dev3"]),
)


@settings(max_examples=400, deadline=None)
@given(low=_versions, high=_versions, version=_versions)
def test_a_range_is_the_pep440_interval(low: str, high: str, version: str) -> None:
    """introduced L, fixed H holds exactly L <= v < H; last_affected H exactly L <= v <= H."""
    v, hi = Version(version), Version(high)
    assume(low == "0" or Version(low) <= hi)  # a range that closes after it opens
    opened = low == "0" or Version(low) <= v  # "0": from the very first version
    assert in_range(version, ((IN, low), (F, high))) is (opened and v < hi)
    assert in_range(version, ((IN, low), (L, high))) is (opened and v <= hi)
    assert in_range(version, ((IN, "0"), (F, high))) is (v < hi)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(st.tuples(st.sampled_from([IN, F, L]), _versions), max_size=6),
       version=_versions)
def test_event_order_does_not_matter(events: list[tuple[str, str]], version: str) -> None:
    assert in_range(version, events) is in_range(version, list(reversed(events)))
