"""``timeshelf status``: a project's PEP 792 status, and every way it is refused.

Each refusal is one ``error:`` line and leaves no trace (no event, no row)."""

from __future__ import annotations

import json

import pytest

from generator.catalog.status import MAX_REASON
from generator.installation import Installation
from generator.output.index import simple_dir
from tests.conftest import CliRunner, Dists, FakeClock, footprint_of


def _page(inst: Installation, name: str) -> dict[str, object]:
    path = simple_dir(inst.config.output_path, "python") / name / "index.json"
    document: dict[str, object] = json.loads(path.read_bytes())
    return document


def test_status_is_set_and_served(installation: Installation, cli: CliRunner, dists: Dists) -> None:
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0")).code == 0
    result = cli("status", "foo", "archived", "--reason", "moved")
    assert result.code == 0, result.err
    assert result.err_lines[0] == (
        "project 'foo' of source 'local' is now archived (moved): new uploads are refused; "
        "existing files stay installable"
    )
    assert _page(installation, "foo")["project-status"] == {"status": "archived",
                                                            "reason": "moved"}
    again = cli("status", "foo", "archived", "--reason", "moved")
    assert again.err_lines == ["project 'foo' of source 'local' was already archived (moved)"]


def test_quarantined_lists_no_files_and_withholds_them(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    wheel = dists.wheel("foo", "1.0")
    assert cli("add", "--source", "local", wheel).code == 0
    assert cli("status", "foo", "quarantined", "--reason", "malware").code == 0
    page = _page(installation, "foo")
    assert (page["files"], page["versions"]) == ([], [])
    markers = list((installation.config.output_path / ".withheld" / "files").iterdir())
    assert [m.read_text() for m in markers] == [
        "403 Forbidden: project 'foo' is quarantined (PEP 792): malware; "
        "its files are not served\n"
    ]
    assert cli("status", "foo", "active").code == 0
    assert len(_page(installation, "foo")["files"]) == 1  # type: ignore[arg-type]
    assert not list((installation.config.output_path / ".withheld" / "files").iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("foo", "frozen"), "error: unknown project status 'frozen': use one of active, "
                            "archived, quarantined, deprecated (PEP 792)"),
        (("nope", "archived"), "error: no source holds a project 'nope' (nothing changed); "
                               "`timeshelf list packages` lists them"),
        (("foo", "archived", "--reason", "x" * (MAX_REASON + 1)),
         f"error: the reason is {MAX_REASON + 1} characters long: at most {MAX_REASON} "
         "are kept"),
        (("foo", "archived", "--reason", "two\nlines"),
         "error: the reason holds a line break or control character: give one line"),
        (("both", "archived"), "error: project 'both' is in several sources (local, team-b): "
                               "pass --source (nothing changed)"),
        (("foo", "archived", "--source", "team-b"),
         "error: project 'foo' is not in source 'team-b' (nothing changed)"),
        (("foo", "archived", "--source", "nosuch"), "error: unknown source 'nosuch' (known sources: local, team-b)"),
    ],
    ids=["bad-word", "unknown-project", "reason-too-long", "reason-two-lines",
         "ambiguous-source", "not-in-that-source", "unknown-source"],
)
def test_refusals_leave_no_trace(
    installation: Installation, cli: CliRunner, dists: Dists, args: tuple[str, ...],
    message: str,
) -> None:
    assert cli("create", "source", "--name", "team-b", "--type", "local-python").code == 0
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0"),
               dists.wheel("both", "1.0")).code == 0
    assert cli("add", "--source", "team-b", dists.wheel("both", "1.0",
                                                         directory=dists.fresh_dir())).code == 0
    before = footprint_of(installation)
    result = cli("status", *args)
    assert result.code != 0
    assert result.err_lines[-1] == message
    assert footprint_of(installation) == before


def test_source_picks_one_of_several(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("create", "source", "--name", "team-b", "--type", "local-python").code == 0
    assert cli("add", "--source", "team-b", dists.wheel("both", "1.0")).code == 0
    assert cli("add", "--source", "local", dists.wheel("both", "1.0",
                                                        directory=dists.fresh_dir())).code == 0
    result = cli("status", "both", "deprecated", "--source", "team-b")
    assert result.code == 0, result.err
    assert installation.catalog.project_status(
        installation.catalog.get_source("team-b"), "both").status == "deprecated"
    assert installation.catalog.project_status(
        installation.catalog.get_source("local"), "both").status == "active"


def test_a_status_is_an_event_dated_days_replay(
    installation: Installation, cli: CliRunner, dists: Dists, clock: FakeClock
) -> None:
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0")).code == 0
    day_one_end = "2026-03-02T00:00:00.000000Z"
    clock.advance(days=1)
    assert cli("status", "foo", "quarantined", "--no-generate").code == 0
    repo = installation.catalog.get_repo("python")
    (then,) = installation.catalog.iter_projects_at(repo, day_one_end)
    assert (then.status.status, len(then.files)) == ("active", 1)
    (now,) = installation.catalog.iter_projects(repo)
    assert now.status.status == "quarantined"
    kinds = [e.kind for e in installation.catalog.events()]
    assert kinds[-1] == "project_status"


def test_the_package_and_version_pages_show_a_banner(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("add", "--source", "local", dists.wheel("foo", "1.0")).code == 0
    package = installation.config.output_path / "python" / "project" / "foo" / "index.html"
    version = package.parent / "1.0" / "index.html"
    assert "notice-status" not in package.read_text()
    assert cli("status", "foo", "archived", "--reason", "use <bar>").code == 0
    banner = ('<p class="notice notice-status" role="status">Archived: this project takes no '
              "new uploads; its files stay installable. Reason: use &lt;bar&gt;</p>")
    assert banner in package.read_text()
    assert banner in version.read_text()
    assert cli("status", "foo", "active").code == 0
    assert "notice-status" not in package.read_text()
