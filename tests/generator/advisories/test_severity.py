"""Severity (``generator.advisories.severity``): CVSS v3.1 base scores as the
specification's examples give them, ratings, and the database's own rating first."""

from __future__ import annotations

import pytest

from generator.advisories.severity import Severity, cvss3_score, normalize_rating, severity_of
from generator.records import Advisory


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", 9.1),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N", 2.2),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss3_base_scores(vector: str, score: float) -> None:
    assert cvss3_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    ["", "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS:3.1/AV:N/AC:L",
     "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"],
    ids=["empty", "v2", "incomplete", "bad-value", "no-prefix"],
)
def test_what_is_no_cvss3_vector(vector: str) -> None:
    assert cvss3_score(vector) is None


def _advisory(level: str = "", *vectors: str) -> Advisory:
    return Advisory(id="GHSA-x", modified="m", level=level,
                    severity=tuple(("CVSS_V3", v) for v in vectors))


def test_the_databases_rating_comes_first_then_the_highest_score() -> None:
    low = "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N"
    high = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"
    assert severity_of(_advisory("moderate", high)) == Severity(rating="MODERATE")
    assert severity_of(_advisory("", low, high)) == Severity(rating="CRITICAL", score=9.1)
    assert str(severity_of(_advisory("", low))) == "LOW 2.2"
    assert severity_of(_advisory("")) is None
    assert severity_of(_advisory("", "CVSS:2.0/AV:N")) is None


def test_ratings_are_ordered_and_medium_is_moderate() -> None:
    assert normalize_rating("Medium") == "MODERATE"
    assert normalize_rating("severe") is None
    ranks = [Severity(rating=r).rank for r in ("LOW", "MODERATE", "HIGH", "CRITICAL")]
    assert ranks == sorted(ranks)
