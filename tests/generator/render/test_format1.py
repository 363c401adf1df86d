"""Simple format "1" is the exact output of the code before PEP 792 (revision 6239c96):
the golden pages in ``format1/golden/`` were rendered by that revision from
``format1/projects.json`` (``format1/make_golden.py`` says how)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from generator.errors import StoreError
from generator.records import ProjectStatus
from generator.render.simple import (
    PROJECT_FILES_PREFIX,
    RENDER_VERSION,
    Renderer,
    project_json,
    root_json,
)
from tests.generator.render.format1.make_golden import load

HERE = Path(__file__).resolve().parent / "format1"
GOLDEN = HERE / "golden"
PROJECTS, LISTING = load(json.loads((HERE / "projects.json").read_text()))
QUARANTINED = ProjectStatus(status="quarantined", reason="under review")


@pytest.fixture(scope="module")
def format1() -> Renderer:
    return Renderer(render_version="1")


@pytest.mark.parametrize("name", [p.name for p in PROJECTS])
def test_format1_project_pages_are_the_old_bytes(format1: Renderer, name: str) -> None:
    state = next(p for p in PROJECTS if p.name == name)
    html = format1.project_html(state, PROJECT_FILES_PREFIX)
    data = project_json(state, PROJECT_FILES_PREFIX, render_version="1")
    assert html == (GOLDEN / f"{state.name}.html").read_bytes()
    assert data == (GOLDEN / f"{state.name}.json").read_bytes()


def test_format1_root_pages_are_the_old_bytes(format1: Renderer) -> None:
    assert format1.root_html(LISTING) == (GOLDEN / "root.html").read_bytes()
    assert root_json(LISTING, render_version="1") == (GOLDEN / "root.json").read_bytes()


def test_format1_ignores_the_status_a_quarantined_project_lists_its_files(
    format1: Renderer,
) -> None:
    # Format 1 knew no status: a page in it lists what the project held, as it did then.
    demo = next(p for p in PROJECTS if p.name == "demo")
    held = replace(demo, status=QUARANTINED)
    assert format1.project_html(held, PROJECT_FILES_PREFIX) == (GOLDEN / "demo.html").read_bytes()
    assert (project_json(held, PROJECT_FILES_PREFIX, render_version="1")
            == (GOLDEN / "demo.json").read_bytes())


def test_the_current_format_carries_the_status_and_withholds_the_files() -> None:
    demo = next(p for p in PROJECTS if p.name == "demo")
    held = replace(demo, status=QUARANTINED)
    html = Renderer().project_html(held, PROJECT_FILES_PREFIX)
    assert b'<meta name="pypi:project-status" content="quarantined">' in html
    assert b'content="1.4"' in html
    assert b"demo-1.0.tar.gz" not in html
    data = json.loads(project_json(held, PROJECT_FILES_PREFIX))
    assert data["project-status"] == {"status": "quarantined", "reason": "under review"}
    assert data["files"] == []
    assert data["meta"]["api-version"] == "1.4"
    assert RENDER_VERSION == "2"


def test_for_format_keeps_the_templates_directory_and_reuses_renderers() -> None:
    current = Renderer()
    assert current.for_format(RENDER_VERSION) is current
    old = current.for_format("1")
    assert old.render_version == "1"
    assert old.directory == current.directory
    assert current.for_format("1") is old


def test_an_unknown_format_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(StoreError) as caught:
        Renderer(render_version="9")
    assert str(caught.value) == (
        "the catalog names Simple format '9', which this timeshelf cannot render "
        "(it renders 1, 2): upgrade timeshelf"
    )
    with pytest.raises(StoreError):
        root_json([], render_version="9")
