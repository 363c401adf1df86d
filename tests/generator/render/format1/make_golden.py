"""Writes the golden pages of Simple format 1 (``golden/``), with the code of revision
6239c96, the last one that rendered format 1 (API 1.1, no PEP 792 status):

    mkdir /tmp/format1 && git archive 6239c96 | tar -x -C /tmp/format1
    PYTHONPATH=/tmp/format1 .venv/bin/python tests/generator/render/format1/make_golden.py

It reads ``projects.json`` and builds the records with whatever ``generator`` is first on
the path, so it runs on the old revision and on today's code alike;
``test_format1.py`` renders the same records in format "1" and compares the bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load(document: dict[str, Any]) -> tuple[list[Any], list[tuple[str, str]]]:
    """The projects and the root listing of ``projects.json`` as records."""
    from packaging.utils import NormalizedName

    from generator.records import FileRecord, ProjectState

    projects = [
        ProjectState(
            name=NormalizedName(p["name"]), display_name=p["display_name"], source="local",
            serial=p["serial"],
            files=tuple(FileRecord(**f) for f in sorted(p["files"],
                                                        key=lambda f: f["filename"])),
        )
        for p in document["projects"]
    ]
    listing = [(p.name, p.display_name) for p in projects] + [
        (name, display) for name, display in document["extra_listing"]
    ]
    return projects, listing


def main() -> None:
    import generator.render.simple as simple

    print("rendering with", simple.__file__, file=sys.stderr)
    projects, listing = load(json.loads((HERE / "projects.json").read_text()))
    renderer = simple.Renderer()
    out = HERE / "golden"
    out.mkdir(exist_ok=True)
    prefix = simple.PROJECT_FILES_PREFIX
    for project in projects:
        (out / f"{project.name}.html").write_bytes(renderer.project_html(project, prefix))
        (out / f"{project.name}.json").write_bytes(simple.project_json(project, prefix))
    (out / "root.html").write_bytes(renderer.root_html(listing))
    (out / "root.json").write_bytes(simple.root_json(listing))


if __name__ == "__main__":
    main()
