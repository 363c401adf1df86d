"""``timeshelf list vulns``: the report of a repository's affected versions, and its exit
code for CI (1 when a latest version is affected)."""

from __future__ import annotations

from tests.conftest import CliRunner
from tests.osv import CVSS_HIGH, OsvFeed, export_zip, pysec

HEADER = "PROJECT\tVERSION\tLATEST\tADVISORY\tALIASES\tSEVERITY\tFIXED IN\tSUMMARY"


def test_the_report_lists_each_affected_version_and_fails_ci(shelf: CliRunner) -> None:
    assert shelf("vulns", "sync").code == 0
    result = shelf("list", "vulns", "--repo", "python")
    assert result.code == 1
    assert result.out.splitlines() == [
        HEADER,
        "demo-lib\t2.0\tlatest\tGHSA-abcd-efgh-ijkl\tCVE-2026-0002\tHIGH\t3.0\t"
        "Remote code execution",
        "demo-lib\t1.1\t-\tGHSA-abcd-efgh-ijkl\tCVE-2026-0002\tHIGH\t3.0\tRemote code execution",
        "demo-lib\t1.0\t-\tPYSEC-2026-1\tCVE-2026-0001\t-\t1.1\tPath traversal in demo-lib",
    ]
    assert result.err_lines == [
        "python: 1 project(s) with a known vulnerability in the latest version, "
        "3 affected version(s) in all",
    ]
    assert shelf("list", "vulns", "--repo", "python", "--no-header").out.splitlines()[0] \
        .startswith("demo-lib\t2.0")


def test_a_project_whose_latest_is_fixed_passes(shelf: CliRunner, feed: OsvFeed) -> None:
    feed.body = export_zip([pysec(1, "demo-lib", fixed="2.0")])
    assert shelf("vulns", "sync").code == 0
    result = shelf("list", "vulns", "--repo", "python")
    assert result.code == 0
    assert [line.split("\t")[:3] for line in result.out.splitlines()[1:]] == [
        ["demo-lib", "1.1", "-"], ["demo-lib", "1.0", "-"],
    ]
    assert "0 project(s) with a known vulnerability in the latest version" in result.err


def test_one_project(shelf: CliRunner) -> None:
    assert shelf("vulns", "sync").code == 0
    clean = shelf("list", "vulns", "--repo", "python", "--project", "Other_Lib")
    assert (clean.code, clean.out) == (0, "")
    assert shelf("list", "vulns", "--repo", "python", "--project", "demo-lib").code == 1
    missing = shelf("list", "vulns", "--repo", "python", "--project", "nope")
    assert missing.code == 1
    assert missing.err_lines == ["error: repository 'python' shows no project 'nope'"]


def test_without_data_or_repo(shelf: CliRunner) -> None:
    empty = shelf("list", "vulns", "--repo", "python")
    assert (empty.code, empty.out) == (0, "")
    assert empty.err_lines == ["no vulnerability data yet: `timeshelf vulns sync` imports it"]
    usage = shelf("list", "vulns")
    assert usage.code == 2
    assert usage.err_lines[-1] == "error: list vulns needs --repo R"


def test_a_vector_without_a_rating_is_scored(shelf: CliRunner, feed: OsvFeed) -> None:
    feed.body = export_zip([pysec(1, "demo-lib", fixed="3.0",
                                  severity=[{"type": "CVSS_V3", "score": CVSS_HIGH}])])
    assert shelf("vulns", "sync").code == 0
    rows = shelf("list", "vulns", "--repo", "python", "--no-header").out.splitlines()
    assert {row.split("\t")[5] for row in rows} == {"CRITICAL 9.1"}
