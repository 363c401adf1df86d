"""Reading OSV advisories (``generator.advisories.osv``): the fields kept, and every way a
document is refused, each with its one-line reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from generator.advisories.osv import MAX_DEPTH, MAX_DOCUMENT, MalformedAdvisory, parse_advisory
from tests.osv import CVSS_HIGH, ghsa, pysec


def _bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_pysec_advisory() -> None:
    advisory = parse_advisory(_bytes(pysec(
        7, "Demo_Lib", fixed="1.2", versions=["1.0", "1.1"], aliases=["CVE-2026-7", "GHSA-x"],
        modified="2026-02-01T10:00:00.5+01:00",
    )))
    assert advisory.id == "PYSEC-2026-7"
    assert advisory.modified == "2026-02-01T09:00:00.500000Z"
    assert advisory.withdrawn is None
    assert advisory.aliases == ("CVE-2026-7", "GHSA-x")
    assert advisory.summary == "A flaw in Demo_Lib."  # the first line of details
    (package,) = advisory.packages
    assert package.name == "demo-lib"
    assert package.ranges == ((("introduced", "0"), ("fixed", "1.2")),)
    assert package.versions == ("1.0", "1.1")


def test_a_ghsa_advisory_keeps_its_severity() -> None:
    advisory = parse_advisory(_bytes(ghsa("abcd-efgh-ijkl", "demo", fixed="2.0",
                                          level="moderate")))
    assert advisory.severity == (("CVSS_V3", CVSS_HIGH),)
    assert advisory.level == "MODERATE"
    assert advisory.summary == "Remote code execution"


def test_what_is_not_pypi_or_ecosystem_is_left_out() -> None:
    document = pysec(1, "demo", fixed="1.0")
    document["affected"] += [
        {"package": {"ecosystem": "npm", "name": "demo"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]},
        {"ranges": [{"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]}]},
    ]
    document["affected"][0]["ranges"] += [
        {"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}, {"limit": "def"}]},
    ]
    advisory = parse_advisory(_bytes(document))
    assert [p.name for p in advisory.packages] == ["demo"]
    assert advisory.packages[0].ranges == ((("introduced", "0"), ("fixed", "1.0")),)


def test_withdrawn_is_read() -> None:
    advisory = parse_advisory(_bytes(pysec(1, "demo", withdrawn="2026-02-05T00:00:00Z")))
    assert advisory.withdrawn == "2026-02-05T00:00:00.000000Z"


def _without(key: str) -> dict[str, Any]:
    document = pysec(1, "demo")
    del document[key]
    return document


def _deep(levels: int) -> dict[str, Any]:
    document = pysec(1, "demo")
    nested: Any = "x"
    for _ in range(levels):
        nested = [nested]
    document["database_specific"] = nested
    return document


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_bytes(_without("id")), "'id' must be a non-empty string"),
        (_bytes({**pysec(1, "demo"), "id": "../../etc"}), "is not an advisory id"),
        (_bytes(_without("modified")), "'modified' must be a non-empty string"),
        (_bytes({**pysec(1, "demo"), "modified": "yesterday"}), "must be an RFC 3339 time"),
        (_bytes({**pysec(1, "demo"), "aliases": "CVE-1"}), "'aliases' must be a list"),
        (_bytes({**pysec(1, "demo"), "aliases": [1]}), "'aliases' must be a list of strings"),
        (_bytes({**pysec(1, "demo"), "affected": [{"package": {"ecosystem": "PyPI"}}]}),
         "'name' must be a non-empty string"),
        (_bytes({**pysec(1, "demo"), "affected": [{"package": {"ecosystem": "PyPI",
          "name": "d"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 1}]}]}]}),
         "range event 'fixed' must be a string version"),
        (_bytes({**pysec(1, "demo"), "affected": [{"package": {"ecosystem": "PyPI",
          "name": "d"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"a": "1", "b": "2"}]}]}]}),
         "range events must be objects of one key"),
        (_bytes({**pysec(1, "demo"), "severity": [{"type": "CVSS_V3"}]}),
         "'severity' entries must be objects"),
        (_bytes(_deep(MAX_DEPTH + 5)), f"nested deeper than {MAX_DEPTH} levels"),
        (b"[" * 100_000 + b"]" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
        (b" " * (MAX_DOCUMENT + 1), "over the 4194304-byte limit"),
    ],
    ids=["not-json", "not-object", "no-id", "bad-id", "no-modified", "bad-modified",
         "aliases-not-list", "aliases-not-strings", "package-without-name", "event-not-string",
         "event-two-keys", "severity-without-score", "too-deep", "too-deep-for-the-parser",
         "too-large"],
)
def test_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedAdvisory) as caught:
        parse_advisory(data, "bad.json")
    assert str(caught.value).startswith("bad.json: ")
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
