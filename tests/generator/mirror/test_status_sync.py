"""A mirror keeps the upstream's PEP 792 project status (``tests.upstream`` serves it).

The status is read from the JSON ``project-status`` object (and the HTML meta tags of an
HTML-only upstream), recorded as an event when it changed, and served; an upstream that
quarantines a project lists no files, and the mirror keeps them withheld, not removed.
"""

from __future__ import annotations

import json

from generator.installation import Installation
from generator.mirror.upstream import parse_project_html, parse_project_json
from generator.records import ProjectStatus
from tests.conftest import CliRunner, Dists, FakeClock
from tests.generator.mirror.test_sync import page, publish, rows
from tests.upstream import FakeUpstream, serve_upstream


def test_sync_records_and_serves_the_upstream_status(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    clock: FakeClock,
) -> None:
    publish(upstream, dists, "alpha", "1.0")
    assert mirror("sync").code == 0
    assert page(installation, "alpha")["project-status"] == {"status": "active"}

    upstream.set_status("alpha", "archived", "no longer maintained")
    clock.advance(hours=1)
    result = mirror("sync")
    assert result.code == 0, result.err
    assert page(installation, "alpha")["project-status"] == {
        "status": "archived", "reason": "no longer maintained"}
    events = rows(installation, "SELECT kind, detail FROM events WHERE kind = 'project_status'")
    assert [json.loads(str(d)) for _k, d in events] == [
        {"status": "archived", "reason": "no longer maintained", "origin": "upstream"}]

    # Unchanged upstream status: no new event.
    upstream.add(dists.wheel("alpha", "1.1"))
    assert mirror("sync").code == 0
    assert len(rows(installation, "SELECT id FROM events WHERE kind = 'project_status'")) == 1


def test_an_upstream_quarantine_keeps_the_files_withheld(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    clock: FakeClock,
) -> None:
    publish(upstream, dists, "beta", "1.0", "2.0")
    assert mirror("sync").code == 0
    upstream.set_status("beta", "quarantined", "malware")
    clock.advance(hours=1)
    assert mirror("sync").code == 0
    document = page(installation, "beta")
    assert (document["files"], document["project-status"]) == (
        [], {"status": "quarantined", "reason": "malware"})
    assert rows(installation, "SELECT COUNT(*) FROM files WHERE removed_at IS NULL") == [(2,)]
    markers = installation.config.output_path / ".withheld" / "files"
    assert len(list(markers.iterdir())) == 2

    upstream.set_status("beta", "active")
    clock.advance(hours=1)
    assert mirror("sync").code == 0
    assert len(page(installation, "beta")["files"]) == 2  # type: ignore[arg-type]
    assert not list(markers.iterdir())


def test_an_administrators_status_wins_over_the_upstreams(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    clock: FakeClock,
) -> None:
    publish(upstream, dists, "delta", "1.0")
    assert mirror("sync").code == 0
    assert mirror("status", "delta", "quarantined", "--reason", "our review").code == 0
    upstream.add(dists.wheel("delta", "1.1"))  # the upstream page changes, still active
    clock.advance(hours=1)
    assert mirror("sync").code == 0
    assert page(installation, "delta")["project-status"] == {
        "status": "quarantined", "reason": "our review"}
    # Active hands the project back to its upstream.
    assert mirror("status", "delta", "active").code == 0
    upstream.set_status("delta", "deprecated", "upstream says so")
    clock.advance(hours=1)
    assert mirror("sync").code == 0
    assert page(installation, "delta")["project-status"] == {
        "status": "deprecated", "reason": "upstream says so"}


def test_an_html_upstream_status_is_read(dists: Dists) -> None:
    upstream = FakeUpstream(html_only=True)
    with serve_upstream(upstream):
        upstream.add(dists.wheel("gamma", "1.0"))
        upstream.set_status("gamma", "deprecated", 'use "delta"')
        body = upstream.project_page("gamma", as_json=False)
    parsed = parse_project_html(body, "http://127.0.0.1/simple/gamma/", "gamma")  # type: ignore[arg-type]
    assert parsed.status == ProjectStatus(status="deprecated", reason='use "delta"')


def test_unknown_or_malformed_statuses_are_ignored() -> None:
    def parsed(marker: object) -> ProjectStatus | None:
        body = json.dumps({"meta": {"api-version": "1.4"}, "name": "x", "files": [],
                           "project-status": marker}).encode()
        return parse_project_json(body, "http://127.0.0.1/simple/x/", "x").status  # type: ignore[arg-type]

    assert parsed({"status": "frozen"}) is None
    assert parsed("archived") is None
    assert parsed({"status": "archived", "reason": 5}) == ProjectStatus(status="archived")
    long = parsed({"status": "archived", "reason": "a\nb" + "x" * 600})
    assert long == ProjectStatus(status="archived", reason=("a b" + "x" * 600)[:500])
