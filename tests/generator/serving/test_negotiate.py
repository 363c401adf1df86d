"""PEP 691 negotiation as a pure function; the same table runs against nginx and serve."""

from __future__ import annotations

import pytest

from generator.serving.negotiate import format_variant, negotiate, parse_accept, parse_qvalue
from tests.sitecases import NEGOTIATION_CASES, NEGOTIATION_IDS, NegotiationCase


@pytest.mark.parametrize("case", NEGOTIATION_CASES, ids=NEGOTIATION_IDS)
def test_negotiate_matrix(case: NegotiationCase) -> None:
    assert negotiate(case.accept, case.format_value) == case.expected


def test_matrix_is_broad() -> None:
    assert len(NEGOTIATION_CASES) >= 20
    assert {c.expected for c in NEGOTIATION_CASES} == {"json", "html", None}


@pytest.mark.parametrize(
    ("text", "thousandths"),
    [
        ("1", 1000), ("1.", 1000), ("1.000", 1000), ("0", 0), ("0.", 0), ("0.000", 0),
        ("0.1", 100), ("0.01", 10), ("0.001", 1), ("0.25", 250), (" 0.5 ", 500),
        ("1.5", 0), ("2", 0), ("0.0001", 0), ("-1", 0), ("", 0), ("abc", 0), (".5", 0),
    ],
    ids=lambda v: repr(v),
)
def test_parse_qvalue(text: str, thousandths: int) -> None:
    assert parse_qvalue(text) == thousandths


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        ("", {}),
        ("text/html", {"text/html": 1000}),
        ("Text/HTML;Q=0.5", {"text/html": 500}),
        ("a/b;level=1;q=0.2;ext=x, c/d", {"a/b": 200, "c/d": 1000}),
        ("a/b;q=0.2;q=0.9", {"a/b": 200}),
        ("a/b;q=0.3, a/b;q=0.9", {"a/b": 300}),
        ("nonsense, , a/b", {"a/b": 1000}),
        ("a/b;q", {"a/b": 1000}),
    ],
    ids=["empty", "plain", "case", "params", "first-q", "first-range", "junk", "q-no-value"],
)
def test_parse_accept(header: str, ranges: dict[str, int]) -> None:
    assert parse_accept(header) == ranges


@pytest.mark.parametrize(
    ("value", "variant"),
    [
        ("application/vnd.pypi.simple.v1+json", "json"),
        ("application/vnd.pypi.simple.v1 json", "json"),
        ("application/vnd.pypi.simple.latest+json", "json"),
        ("application/vnd.pypi.simple.v1+html", "html"),
        ("application/vnd.pypi.simple.latest+html", "html"),
        ("TEXT/HTML", "html"),
        ("json", None),
        ("text/*", None),
        ("application/vnd.pypi.simple.v1+json;q=1", None),
        ("application/vnd.pypi.simple.v2+json", None),
    ],
    ids=["v1-json", "space-for-plus", "latest-json", "v1-html", "latest-html", "text-html",
         "short-name", "wildcard", "with-params", "unknown-version"],
)
def test_format_variant(value: str, variant: str | None) -> None:
    assert format_variant(value) == variant


@pytest.mark.parametrize("format_param", [None, ""], ids=["absent", "empty"])
def test_absent_format_falls_back_to_accept(format_param: str | None) -> None:
    assert negotiate("application/vnd.pypi.simple.v1+json", format_param) == "json"
    assert negotiate(None, format_param) == "html"
