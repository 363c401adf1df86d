"""``timeshelf vulns sync`` end to end in-process, against a loopback OSV feed: the import,
its summary, incrementality (HTTP validators, ``modified``), withdrawn and malformed
advisories, a corrupt export, resumption, and the pages it renders again (only those)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from generator.advisories import export, sync
from generator.catalog.catalog import Catalog
from generator.installation import Installation
from tests.conftest import CliRunner, Dists, FakeClock
from tests.generator.advisories.conftest import standard_advisories
from tests.osv import OsvFeed, export_zip, pysec, write_export


def _site(inst: Installation) -> Path:
    return inst.config.output_path / "python"


def test_a_sync_imports_the_feed_and_renders_the_affected_pages(
    shelf: CliRunner, installation: Installation, feed: OsvFeed,
) -> None:
    simple = (_site(installation) / "latest/simple/demo-lib/index.html").read_bytes()
    serial = installation.catalog.last_event_id()
    untouched = (_site(installation) / "project/other-lib/index.html").stat().st_mtime_ns
    result = shelf("vulns", "sync")
    assert result.code == 0, result.err
    assert ("vulnerabilities: 2 advisories read, 2 added, 0 changed, 0 withdrawn, "
            "0 malformed (skipped), 1 affected project(s)") in result.err
    assert "python: web UI of 1 project(s) rendered again" in result.err
    assert feed.log == [("/PyPI/all.zip", 200)]
    page = (_site(installation) / "project/demo-lib/index.html").read_text()
    for shown in ("PYSEC-2026-1", "CVE-2026-0001", "GHSA-abcd-efgh-ijkl", "CVE-2026-0002",
                  "Path traversal in demo-lib", ">HIGH<", "CVSS:3.1/AV:N",
                  '<td data-label="Fixed in">3.0</td>', "The latest version, 2.0, is affected"):
        assert shown in page
    assert page.count("tag-vulnerable") == 3  # 1.0, 1.1 and 2.0 in the versions list
    old = (_site(installation) / "project/demo-lib/1.0/index.html").read_text()
    assert "PYSEC-2026-1" in old
    assert "GHSA-abcd" not in old
    assert '<td data-label="Fixed in">1.1</td>' in old
    repo_page = (_site(installation) / "index.html").read_text()
    assert "1 project with a known vulnerability in its latest version" in repo_page
    other = _site(installation) / "project/other-lib/index.html"
    assert other.stat().st_mtime_ns == untouched
    assert "vulnerab" not in other.read_text()
    # Advisories are not content: the index and the event log are as they were.
    assert (_site(installation) / "latest/simple/demo-lib/index.html").read_bytes() == simple
    assert installation.catalog.last_event_id() == serial


def test_a_dated_page_never_changes_with_advisories(
    shelf: CliRunner, installation: Installation, clock: FakeClock,
) -> None:
    clock.advance(days=1)
    assert shelf("generate").code == 0
    day = _site(installation) / "2026-03-01"

    def files() -> dict[str, bytes]:
        # Days share unchanged pages by links: follow them.
        return {
            str(Path(root, name).relative_to(day)): Path(root, name).read_bytes()
            for root, _dirs, names in os.walk(day, followlinks=True) for name in names
        }

    before = files()
    assert any("demo-lib" in name for name in before)
    assert shelf("vulns", "sync").code == 0
    assert shelf("generate").code == 0
    assert files() == before


def test_a_second_sync_asks_with_validators_and_changes_nothing(
    shelf: CliRunner, installation: Installation, feed: OsvFeed,
) -> None:
    assert shelf("vulns", "sync").code == 0
    again = shelf("vulns", "sync")
    assert again.code == 0, again.err
    assert "is unchanged since the last sync" in again.err
    assert "rendered again" not in again.err
    assert feed.log[-1] == ("/PyPI/all.zip", 304)
    # The downloads are gone, whatever their answer.
    assert list(installation.config.catalog_path.parent.glob(".vulns-*")) == []


def test_only_advisories_whose_modified_moved_are_written(
    shelf: CliRunner, installation: Installation, feed: OsvFeed,
) -> None:
    assert shelf("vulns", "sync").code == 0
    documents = standard_advisories()
    documents.append(pysec(9, "other-lib", fixed="9.0"))
    feed.body = export_zip(documents)  # a new export: the ETag changes
    result = shelf("vulns", "sync")
    assert "3 advisories read, 1 added, 0 changed" in result.err
    assert "1 affected project(s)" in result.err
    assert "python: web UI of 1 project(s) rendered again" in result.err
    documents[0] = pysec(1, "Demo_Lib", fixed="1.0.1", aliases=["CVE-2026-0001"],
                         modified="2026-02-09T00:00:00Z")
    documents[1]["summary"] = "edited, but its modified did not move"
    feed.body = export_zip(documents)
    result = shelf("vulns", "sync")
    assert "3 advisories read, 0 added, 1 changed, 0 withdrawn" in result.err
    page = (_site(installation) / "project/demo-lib/index.html").read_text()
    assert '<td data-label="Fixed in">1.0.1</td>' in page
    assert "edited, but" not in page


def test_a_withdrawn_advisory_affects_nothing(
    shelf: CliRunner, installation: Installation, feed: OsvFeed,
) -> None:
    assert shelf("vulns", "sync").code == 0
    documents = standard_advisories()
    documents[1]["withdrawn"] = "2026-02-10T00:00:00Z"
    documents[1]["modified"] = "2026-02-10T00:00:00Z"
    feed.body = export_zip(documents)
    result = shelf("vulns", "sync")
    assert "0 added, 0 changed, 1 withdrawn" in result.err
    page = (_site(installation) / "project/demo-lib/index.html").read_text()
    assert "GHSA-abcd" not in page
    assert "PYSEC-2026-1" in page
    assert "The latest version, 2.0, is affected by none of them" in page
    assert shelf("list", "vulns", "--repo", "python").code == 0


def test_a_malformed_advisory_is_skipped_and_counted(
    shelf: CliRunner, installation: Installation, tmp_path: Path,
) -> None:
    path = write_export(tmp_path / "all.zip", standard_advisories(), extra={
        "PYSEC-bad.json": b'{"id": "PYSEC-bad"}', "GHSA-bad.json": b"{not json",
    })
    quiet = shelf("vulns", "sync", "--from", path)
    assert quiet.code == 0, quiet.err
    assert "4 advisories read, 2 added, 0 changed, 0 withdrawn, 2 malformed (skipped)" \
        in quiet.err
    assert "(-v names each malformed advisory)" in quiet.err
    loud = shelf("vulns", "sync", "--from", path, "-v")
    skipped = [line for line in loud.err_lines if line.startswith("  skipped: ")]
    assert skipped == [
        "  skipped: PYSEC-bad.json: 'modified' must be a non-empty string, got None",
        "  skipped: GHSA-bad.json: not JSON (Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1))",
    ]
    assert set(installation.catalog.advisory_versions()) == {"GHSA-abcd-efgh-ijkl",
                                                               "PYSEC-2026-1"}


def _corrupt(data: bytes) -> bytes:
    """``data`` with one byte of its first member's compressed bytes changed."""
    offset = 30 + len(b"PYSEC-2026-1.json") + 5
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:]


@pytest.mark.parametrize(
    "damage", [lambda d: d[: len(d) // 2], _corrupt, lambda d: b"not a zip at all"],
    ids=["truncated", "bad-crc-or-stream", "not-a-zip"],
)
def test_a_corrupt_export_imports_nothing_and_loses_nothing(
    shelf: CliRunner, installation: Installation, feed: OsvFeed, tmp_path: Path, damage: object,
) -> None:
    assert shelf("vulns", "sync").code == 0
    held = installation.catalog.advisory_versions()
    documents = [pysec(n, "other-lib", fixed="2.0") for n in range(10, 14)]
    assert callable(damage)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(damage(export_zip([standard_advisories()[0], *documents])))
    result = shelf("vulns", "sync", "--from", bad)
    assert result.code == 1
    (line,) = [x for x in result.err_lines if x.startswith("error:")]
    assert f"{bad}: not a readable zip of OSV JSON files" in line
    assert line.endswith("nothing was imported")
    assert installation.catalog.advisory_versions() == held
    feed.body = damage(feed.body)
    assert shelf("vulns", "sync").code == 1
    assert installation.catalog.advisory_versions() == held
    assert installation.catalog.feed_validators(feed.url)[0] != feed.etag


def test_an_export_over_the_member_limit_is_refused(
    shelf: CliRunner, installation: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "MAX_MEMBERS", 1)
    result = shelf("vulns", "sync", "--from", write_export(tmp_path / "a.zip",
                                                           standard_advisories()))
    assert result.code == 1
    assert "2 JSON members, over the limit of 1; nothing was imported" in result.err
    assert installation.catalog.advisory_versions() == {}


def test_a_member_over_the_size_limit_is_malformed(
    shelf: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "MAX_DOCUMENT", 100)
    result = shelf("vulns", "sync", "-v", "--from",
                   write_export(tmp_path / "a.zip", standard_advisories()))
    assert result.code == 0
    assert "2 malformed (skipped)" in result.err
    assert "  skipped: PYSEC-2026-1.json: larger than the 100-byte limit" in result.err_lines


def test_a_directory_export(shelf: CliRunner, tmp_path: Path) -> None:
    directory = tmp_path / "osv"
    with zipfile.ZipFile(write_export(tmp_path / "a.zip", standard_advisories())) as z:
        z.extractall(directory)
    result = shelf("vulns", "sync", "--from", directory)
    assert "2 advisories read, 2 added" in result.err


def test_an_interrupted_sync_keeps_what_it_committed_and_the_next_finishes(
    shelf: CliRunner, installation: Installation, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync, "BATCH", 1)
    real = Catalog.store_advisories
    calls: list[int] = []

    def store_then_die(self: Catalog, advisories: object, at: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(self, advisories, at)  # type: ignore[arg-type]

    monkeypatch.setattr(Catalog, "store_advisories", store_then_die)
    result = shelf("vulns", "sync")
    assert result.code == 130
    assert "the advisories committed so far are kept" in result.err
    assert list(installation.catalog.advisory_versions()) == ["GHSA-abcd-efgh-ijkl"]
    monkeypatch.setattr(Catalog, "store_advisories", real)
    again = shelf("vulns", "sync")  # the validators were not kept: the export is read again
    assert "2 advisories read, 1 added, 0 changed" in again.err


def test_no_feed_configured(cli: CliRunner) -> None:
    result = cli("vulns", "sync")
    assert result.code == 1
    assert result.err_lines == [
        "error: no vulnerability data to sync: set [vulnerabilities] url to the URL of an OSV "
        "export zip, or pass --from PATH (a zip or directory)"
    ]


def test_a_feed_that_is_not_http_is_refused(installation: Installation, cli: CliRunner) -> None:
    path = installation.config.file
    path.write_text(path.read_text().replace("[vulnerabilities]\n", "[vulnerabilities]\nx = 1\n"))
    assert "unknown key [vulnerabilities] x" in cli("vulns", "sync").err
    text = path.read_text().replace("x = 1\n", "").replace(
        '[vulnerabilities]\n', '[vulnerabilities]\n', 1)
    import re

    text = re.sub(r'(\[vulnerabilities\][^\[]*?)url = ""', r'\1url = "ftp://x/all.zip"', text)
    path.write_text(text)
    result = cli("vulns", "sync")
    assert result.code == 1
    assert "[vulnerabilities] url = 'ftp://x/all.zip' is invalid: use an http:// or https://" \
        in result.err


def test_the_pages_a_sync_renders_are_those_of_a_full_generation(
    shelf: CliRunner, installation: Installation, dists: Dists,
) -> None:
    assert shelf("vulns", "sync").code == 0
    # An upload afterwards (incremental) keeps the repository page's count.
    assert shelf("add", "--source", "local", dists.wheel("other-lib", "2.0")).code == 0
    site = _site(installation)
    pages = {p: p.read_bytes() for p in site.rglob("*.html") if "simple" not in p.parts}
    assert "1 project with a known vulnerability" in (site / "index.html").read_text()
    assert shelf("generate", "--full").code == 0
    assert {p: p.read_bytes() for p in pages} == pages


def test_the_sync_reports_its_progress(shelf: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMESHELF_PROGRESS_SECONDS", "0.000001")
    result = shelf("vulns", "sync")
    progress = [line for line in result.err_lines if line.startswith("syncing vulnerabilities: ")]
    assert progress
    assert progress[-1].startswith("syncing vulnerabilities: 2/2 advisories (100%)")


def test_a_feed_that_answers_no_zip(shelf: CliRunner, installation: Installation,
                                    feed: OsvFeed) -> None:
    path = installation.config.file
    path.write_text(path.read_text().replace(feed.url, feed.url.replace("all.zip", "none.zip")))
    result = shelf("vulns", "sync")
    assert result.code == 1
    assert result.err_lines[-1] == (f"error: {feed.url.replace('all.zip', 'none.zip')}: "
                                    "HTTP 404; expected the OSV export zip")
    assert installation.catalog.advisory_versions() == {}


def test_a_missing_or_unreadable_export(shelf: CliRunner, installation: Installation,
                                        tmp_path: Path) -> None:
    missing = shelf("vulns", "sync", "--from", tmp_path / "nope.zip")
    assert missing.code == 1
    assert missing.err_lines[-1] == (
        f"error: {tmp_path / 'nope.zip'}: no such file or directory: pass an OSV export (a "
        "zip of OSV JSON files, or a directory of them)")
    directory = tmp_path / "osv"
    directory.mkdir()
    (directory / "PYSEC-1.json").symlink_to(directory / "gone")
    (directory / "PYSEC-2.json").mkdir()
    unreadable = shelf("vulns", "sync", "--from", directory)
    assert unreadable.code == 0  # a dangling link and a directory are not advisories
    assert "0 advisories read" in unreadable.err
    assert installation.catalog.advisory_versions() == {}
