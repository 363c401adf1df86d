"""The decision (``generator.policy.rules``) and the licenses of core metadata
(``generator.policy.licenses``): pure, records in and a decision out."""

from __future__ import annotations

import pytest
from packaging.utils import NormalizedName

from generator.policy.licenses import declared_license, license_ids
from generator.policy.rules import FileFacts, InvalidRule, check_rule, decide
from generator.records import Advisory, BlocklistRule


def _rule(rule_id: int, **conditions: object) -> BlocklistRule:
    made = check_rule(**conditions)  # type: ignore[arg-type]
    return BlocklistRule(**{**{k: getattr(made, k) for k in made.__dataclass_fields__},
                            "id": rule_id})


def _facts(version: str = "1.0", **extra: object) -> FileFacts:
    fields: dict[str, object] = {"project": NormalizedName("foo"), "version": version,
                                 "source": "local", "repo": "python", **extra}
    return FileFacts(**fields)  # type: ignore[arg-type]


HIGH = Advisory(id="GHSA-1", modified="2026-01-01T00:00:00Z", level="HIGH")
UNRATED = Advisory(id="PYSEC-1", modified="2026-01-01T00:00:00Z")


def test_exceptions_run_first_then_block_rules_by_id() -> None:
    rules = [_rule(1, package_name="foo"), _rule(2, package_name="foo", version="<2"),
             _rule(3, exception=True, package_name="foo", version="==1.0")]
    assert decide(rules, _facts("1.0")).why == (
        "allowed by exception 3: package foo, version 1.0 in ==1.0")
    assert decide(rules, _facts("1.5")).why == "blocked by rule 1: package foo"
    assert decide(rules[1:], _facts("3.0")).why == "allowed: no rule matches"


def test_every_condition_must_hold() -> None:
    rule = _rule(1, package_name="foo", source="mirror", repo="python")
    assert decide([rule], _facts()).allowed
    assert not decide([rule], _facts(source="mirror")).allowed
    assert decide([rule], _facts(source="mirror", repo="other")).allowed


def test_versions_pep440_cannot_read_match_no_specifier() -> None:
    rule = _rule(1, package_name="foo", version=">=0")
    assert not decide([rule], _facts("2.0rc1")).allowed  # pre-releases included
    assert decide([rule], _facts("not-a-version")).allowed


def test_vulns_and_the_severity_threshold() -> None:
    any_rule, high = _rule(1, vulns=True), _rule(2, vulns=True, min_severity="CRITICAL")
    assert decide([any_rule], _facts()).allowed
    assert decide([any_rule], _facts(advisories=(UNRATED,))).why == (
        "blocked by rule 1: affected by PYSEC-1")
    assert decide([high], _facts(advisories=(HIGH, UNRATED))).allowed
    assert not decide([_rule(3, vulns=True, min_severity="HIGH")],
                      _facts(advisories=(HIGH,))).allowed


def test_license_types_and_unknown() -> None:
    rule = _rule(1, license_types=["gpl-3.0-only", "unknown"])
    assert rule.license_types == ("GPL-3.0-only", "Unknown")
    assert not decide([rule], _facts()).allowed  # no license known
    mit = declared_license(b"Metadata-Version: 2.4\nLicense-Expression: MIT\n\n")
    assert decide([rule], _facts(license=mit, license_ids=license_ids(mit))).allowed
    gpl = "MIT OR GPL-3.0-only"
    assert decide([rule], _facts(license=gpl, license_ids=license_ids(gpl))).why == (
        "blocked by rule 1: license GPL-3.0-only")


def test_where_the_license_comes_from() -> None:
    both = (b"Metadata-Version: 2.4\nLicense-Expression: Apache-2.0\nLicense: BSD\n"
            b"Classifier: License :: OSI Approved :: MIT License\n\n")
    assert declared_license(both) == "Apache-2.0"
    text = b"Metadata-Version: 2.1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n\n"
    assert declared_license(text) == "License :: OSI Approved :: MIT License"
    assert license_ids(declared_license(text)) == {"MIT"}
    assert declared_license(b"Metadata-Version: 2.1\nName: x\n\n") is None
    assert license_ids("BSD-like, see LICENSE") == frozenset()
    assert license_ids("Apache-2.0 WITH LLVM-exception") == {"Apache-2.0"}


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"package_name": "foo", "version": "=>1"}, "is not a PEP 440 specifier"),
        ({"license_types": ["MIT", "Nope"]}, "'Nope' is not an SPDX license id"),
        ({"vulns": True, "min_severity": "urgent"}, "--min-severity 'urgent': use one of"),
        ({"exception": True}, "a rule needs at least one condition"),
        ({"license": " "}, "--license is empty"),
    ],
)
def test_bad_rules(conditions: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRule, match=message):
        check_rule(**conditions)  # type: ignore[arg-type]
