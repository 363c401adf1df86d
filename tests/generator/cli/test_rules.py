"""The blocklist rule commands, and every way they are refused.

Each refusal is one ``error:`` line and leaves no trace (no rule, no event)."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from generator.installation import Installation
from generator.output.index import simple_dir
from tests.conftest import CliRunner, Dists, FakeClock, footprint_of
from tests.factory import metadata_text
from tests.osv import export_zip, pysec


def _files(inst: Installation, name: str) -> list[str]:
    path = simple_dir(inst.config.output_path, "python") / name / "index.json"
    return [f["filename"] for f in json.loads(path.read_bytes())["files"]]


def _rules(inst: Installation) -> int:
    with sqlite3.connect(inst.config.catalog_path) as db:
        count: int = db.execute("SELECT COUNT(*) FROM blocklist_rules").fetchone()[0]
    db.close()
    return count


def _licensed(dists: Dists, name: str, version: str, field: str) -> Path:
    text = metadata_text(name, version, metadata_version="2.4").replace("\n\n", f"\n{field}\n\n")
    return dists.wheel(name, version, metadata=text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--package-name", "foo", "--version", "lots"),
         "error: --version 'lots' is not a PEP 440 specifier: give one such as '>=1.0,<2' "
         "or '==1.2.3'"),
        (("--license-types", "MIT,Frobnicate-1.0"),
         "error: --license-types: 'Frobnicate-1.0' is not an SPDX license id: give ids of the "
         "SPDX license list (MIT, Apache-2.0, GPL-3.0-only, ...) or Unknown"),
        (("--license-types", ","),
         "error: --license-types is empty: give SPDX ids such as MIT,Apache-2.0"),
        (("--source", "nosuch"), "error: unknown source 'nosuch' (known sources: local)"),
        (("--repo", "nosuch", "--vulns"),
         "error: unknown repository 'nosuch' (known repositories: python)"),
        (("--min-severity", "HIGH"),
         "error: --min-severity needs --vulns (it is the threshold of advisories)"),
        (("--vulns", "--min-severity", "SEVERE"),
         "error: --min-severity 'SEVERE': use one of LOW, MODERATE, HIGH, CRITICAL"),
        (("--version", "<2"),
         "error: --version needs --package-name (versions belong to a project)"),
        (("--exception", "--description", "why"),
         "error: a rule needs at least one condition: --package-name, --version, --source, "
         "--repo, --license, --license-types or --vulns"),
        (("--vulns", "--description", "two\nlines"),
         "error: --description must be one line of at most 500 characters (it is the body "
         "of every refused download)"),
    ],
    ids=["bad-specifier", "unknown-spdx", "empty-types", "unknown-source", "unknown-repo",
         "severity-without-vulns", "bad-severity", "version-without-name", "no-condition",
         "two-line-description"],
)
def test_bad_rules_are_refused_and_leave_no_trace(
    installation: Installation, cli: CliRunner, dists: Dists, args: tuple[str, ...],
    message: str,
) -> None:
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0")).code == 0
    before = footprint_of(installation)
    result = cli("create", "blocklist-rule", *args)
    assert result.code != 0
    assert result.err_lines[-1] == message
    assert footprint_of(installation) == before
    assert _rules(installation) == 0


def test_deleting_an_unknown_rule_is_one_line(installation: Installation, cli: CliRunner) -> None:
    assert cli("create", "blocklist-rule", "--package-name", "foo", "--no-generate").code == 0
    before = footprint_of(installation)
    result = cli("delete", "blocklist-rule", "9")
    assert result.err_lines == ["error: no blocklist rule 9 in force (rules in force: 1; "
                                "nothing changed)"]
    assert footprint_of(installation) == before
    assert cli("delete", "blocklist-rule", "1").code == 0
    again = cli("delete", "blocklist-rule", "1")
    assert again.err_lines == ["error: no blocklist rule 1 in force (rules in force: none; "
                               "nothing changed)"]


def test_a_rule_that_matches_no_project_is_made_with_a_warning(
    installation: Installation, cli: CliRunner
) -> None:
    result = cli("create", "blocklist-rule", "--package-name", "Not_There")
    assert result.code == 0, result.err
    assert result.err_lines[:2] == [
        "created block rule 1: --package-name not-there",
        "warning: no source holds a project 'not-there': the rule matches no file now",
    ]


def test_list_shows_the_order_of_execution(installation: Installation, cli: CliRunner) -> None:
    assert cli("list", "blocklist-rules").err_lines == [
        "no blocklist rules: `timeshelf create blocklist-rule ...` makes one"]
    for args in (("--package-name", "foo", "--version", ">=2,<3"),
                 ("--exception", "--package-name", "foo", "--version", "==2.1"),
                 ("--vulns", "--min-severity", "moderate", "--repo", "python")):
        assert cli("create", "blocklist-rule", *args, "--no-generate").code == 0
    out = cli("list", "blocklist-rules").out.splitlines()
    assert out[0] == "ID\tACTION\tCONDITIONS\tDESCRIPTION\tSINCE"
    assert [line.split("\t")[:4] for line in out[1:]] == [
        ["2", "allow", "--package-name foo --version '==2.1'", "-"],
        ["1", "block", "--package-name foo --version '<3,>=2'", "-"],
        ["3", "block", "--repo python --vulns --min-severity MODERATE", "-"],
    ]
    assert cli("list", "blocklist-rules", "--no-header").out.splitlines() == out[1:]


def test_a_version_rule_and_its_exception(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    wheels = [dists.wheel("foo", v) for v in ("1.0", "2.0", "2.1")]
    assert cli("add", "--source", "local", *wheels).code == 0
    assert cli("create", "blocklist-rule", "--package-name", "foo", "--version", ">=2",
               "--description", "2.x breaks us").code == 0
    assert _files(installation, "foo") == ["foo-1.0-py3-none-any.whl"]
    assert cli("create", "blocklist-rule", "--exception", "--package-name", "FOO",
               "--version", "==2.1").code == 0
    assert _files(installation, "foo") == ["foo-1.0-py3-none-any.whl", "foo-2.1-py3-none-any.whl"]
    result = cli("test", "blocklist-rules", "--repo", "python", "--package-name", "foo")
    assert result.out.splitlines() == [
        "foo-1.0-py3-none-any.whl: allowed: no rule matches",
        "foo-2.0-py3-none-any.whl: blocked by rule 1: package foo, version 2.0 in >=2",
        "foo-2.1-py3-none-any.whl: allowed by exception 2: package foo, version 2.1 in ==2.1",
    ]
    markers = installation.config.output_path / ".withheld" / "files"
    assert [m.read_text() for m in markers.iterdir()] == [
        "403 Forbidden: foo-2.0-py3-none-any.whl is blocked by blocklist rule 1: 2.x breaks us\n"
    ]


def test_licenses_from_the_metadata(installation: Installation, cli: CliRunner, dists: Dists) -> None:
    wheels = [
        _licensed(dists, "expr", "1.0", "License-Expression: MIT OR GPL-3.0-or-later"),
        _licensed(dists, "text", "1.0", "License: GNU General Public License v3"),
        _licensed(dists, "classic", "1.0",
                  "Classifier: License :: OSI Approved :: MIT License"),
        dists.wheel("bare", "1.0"),
    ]
    assert cli("add", "--source", "local", *wheels).code == 0
    assert cli("create", "blocklist-rule", "--license", "gnu general").code == 0
    assert cli("create", "blocklist-rule", "--license-types", "gpl-3.0-or-later").code == 0
    assert cli("create", "blocklist-rule", "--license-types", "Unknown").code == 0
    said = {name: cli("test", "blocklist-rules", "--repo", "python", "--package-name",
                      name).out.strip() for name in ("expr", "text", "classic", "bare")}
    assert said == {
        "expr": "expr-1.0-py3-none-any.whl: blocked by rule 2: license GPL-3.0-or-later",
        "text": "text-1.0-py3-none-any.whl: blocked by rule 1: license 'GNU General Public "
                "License v3' contains 'gnu general'",
        "classic": "classic-1.0-py3-none-any.whl: allowed: no rule matches",
        "bare": "bare-1.0-py3-none-any.whl: blocked by rule 3: license Unknown",
    }
    assert [n for n in ("expr", "text", "classic", "bare") if _files(installation, n)] == [
        "classic"]


def test_a_rule_scoped_to_a_repo_withholds_only_what_no_repo_lists(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0")).code == 0
    assert cli("create", "repo", "--name", "strict").code == 0
    assert cli("subscribe", "--repo", "strict", "--source", "local").code == 0
    assert cli("create", "blocklist-rule", "--repo", "strict", "--package-name", "foo").code == 0
    strict = simple_dir(installation.config.output_path, "strict") / "foo" / "index.json"
    assert json.loads(strict.read_bytes())["files"] == []
    assert _files(installation, "foo") == ["foo-1.0-py3-none-any.whl"]
    markers = installation.config.output_path / ".withheld" / "files"
    assert not markers.exists() or not list(markers.iterdir())
    assert cli("create", "blocklist-rule", "--repo", "python", "--package-name", "foo").code == 0
    assert len(list(markers.iterdir())) == 1


def test_a_vulns_rule_follows_the_advisories(
    installation: Installation, cli: CliRunner, dists: Dists, tmp_path: Path
) -> None:
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0"),
               dists.wheel("foo", "2.0")).code == 0
    assert cli("create", "blocklist-rule", "--vulns", "--min-severity", "HIGH").code == 0
    export = tmp_path / "all.zip"
    export.write_bytes(export_zip([pysec(1, "foo", fixed="2.0",
                                         database_specific={"severity": "HIGH"})]))
    assert cli("vulns", "sync", "--from", export).code == 0
    assert _files(installation, "foo") == ["foo-2.0-py3-none-any.whl"]
    export.write_bytes(export_zip([pysec(1, "foo", fixed="2.0", modified="2026-03-01T00:00:00Z",
                                         database_specific={"severity": "LOW"})]))
    assert cli("vulns", "sync", "--from", export).code == 0
    assert _files(installation, "foo") == ["foo-1.0-py3-none-any.whl", "foo-2.0-py3-none-any.whl"]


def test_rules_are_events_dated_days_replay(
    installation: Installation, cli: CliRunner, dists: Dists, clock: FakeClock
) -> None:
    """Day 1 before the rule lists the file; day 2 (rule made) does not; day 3 (rule
    deleted) lists it again, as does latest."""
    clock.set(datetime(2026, 4, 1, 10, tzinfo=UTC))
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0")).code == 0
    clock.set(datetime(2026, 4, 2, 10, tzinfo=UTC))
    assert cli("create", "blocklist-rule", "--package-name", "foo").code == 0
    assert _files(installation, "foo") == []
    clock.set(datetime(2026, 4, 3, 10, tzinfo=UTC))
    assert cli("delete", "blocklist-rule", "1").code == 0
    clock.set(datetime(2026, 4, 4, 10, tzinfo=UTC))
    assert cli("generate").code == 0
    listed = {}
    for day in ("2026-04-01", "2026-04-02", "2026-04-03"):
        page = installation.config.output_path / "python" / day / "simple" / "foo"
        listed[day] = [f["filename"] for f in
                       json.loads(gzip.decompress((page / "index.json.gz").read_bytes()))["files"]]
    assert listed == {"2026-04-01": ["foo-1.0-py3-none-any.whl"], "2026-04-02": [],
                      "2026-04-03": ["foo-1.0-py3-none-any.whl"]}
    assert _files(installation, "foo") == ["foo-1.0-py3-none-any.whl"]
