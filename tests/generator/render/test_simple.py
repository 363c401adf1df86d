"""Rendering the Simple Repository API (``generator.render.simple``): records in, bytes out."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import pytest
from packaging.utils import NormalizedName
from packaging.version import Version

from generator.naming import version_sort_key
from generator.records import FileRecord, ProjectState
from generator.render.simple import API_VERSION, Renderer, dumps, project_json, root_json

PREFIX = "../../../../files/"
UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file(filename: str, version: str, **changes: Any) -> FileRecord:
    base = FileRecord(
        filename=filename, version=version,
        packagetype="bdist_wheel" if filename.endswith(".whl") else "sdist",
        sha256=sha(filename), blake2_256=sha("b" + filename), size=1000 + len(filename),
        requires_python=None, upload_time="2026-03-01T12:00:00.000000Z",
        metadata_sha256=None, has_signature=False, yanked=False, yanked_reason="",
    )
    return replace(base, **changes)


def project(*files: FileRecord, display: str = "Foo.Bar", name: str = "foo-bar") -> ProjectState:
    return ProjectState(name=NormalizedName(name), display_name=display, source="local",
                        serial=42, files=tuple(sorted(files, key=lambda f: f.filename)))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


class Anchors(HTMLParser):
    """Collects every <a>: its attributes (None for a bare one) and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = dict(attrs)
            self.anchors.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.anchors[-1]
            self.anchors[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None


def anchors(html: bytes) -> list[tuple[dict[str, str | None], str]]:
    parser = Anchors()
    parser.feed(html.decode())
    return parser.anchors


# -- HTML (PEP 503, 592, 658/714, 629) --------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (file("foo_bar-1.0.tar.gz", "1.0"), {"data-gpg-sig": "false"}),
        (file("foo_bar-1.0.tar.gz", "1.0", yanked=True), {"data-yanked": ""}),
        (file("foo_bar-1.0.tar.gz", "1.0", yanked=True, yanked_reason="CVE-1"),
         {"data-yanked": "CVE-1"}),
        (file("foo_bar-1.0.tar.gz", "1.0", requires_python=">=3.8"),
         {"data-requires-python": ">=3.8"}),
        (file("foo_bar-1.0-py3-none-any.whl", "1.0", metadata_sha256=sha("m")),
         {"data-core-metadata": f"sha256={sha('m')}",
          "data-dist-info-metadata": f"sha256={sha('m')}"}),
        (file("foo_bar-1.0.tar.gz", "1.0", has_signature=True), {"data-gpg-sig": "true"}),
    ],
    ids=["plain", "yanked-no-reason", "yanked-reason", "requires-python", "core-metadata",
         "signed"],
)
def test_project_html_attributes(
    record: FileRecord, expected: dict[str, str], renderer: Renderer
) -> None:
    html = renderer.project_html(project(record), PREFIX)
    [(attrs, text)] = anchors(html)
    assert text == record.filename
    assert attrs["href"] == f"{PREFIX}{record.sha256[:2]}/{record.sha256[2:4]}/{record.sha256}/" \
        f"{record.filename}#sha256={record.sha256}"
    for key, value in expected.items():
        assert attrs[key] == value
    absent = {"data-yanked", "data-requires-python", "data-core-metadata",
              "data-dist-info-metadata"} - set(expected)
    assert not absent & set(attrs)


def test_yank_without_reason_is_never_a_bare_attribute(renderer: Renderer) -> None:
    html = renderer.project_html(project(file("foo_bar-1.0.tar.gz", "1.0", yanked=True)), PREFIX)
    assert b'data-yanked=""' in html
    assert not re.search(rb'data-yanked(?!=")', html)


@pytest.mark.parametrize(
    ("requires_python", "escaped"),
    [(">=3.8", b'data-requires-python="&gt;=3.8"'),
     ("<4,>=3.8", b'data-requires-python="&lt;4,&gt;=3.8"'),
     ("!=3.0.*", b'data-requires-python="!=3.0.*"')],
    ids=["greater", "range", "exclusion"],
)
def test_requires_python_is_escaped(
    requires_python: str, escaped: bytes, renderer: Renderer
) -> None:
    record = file("foo_bar-1.0.tar.gz", "1.0", requires_python=requires_python)
    assert escaped in renderer.project_html(project(record), PREFIX)


def test_local_version_plus_is_percent_encoded(renderer: Renderer) -> None:
    record = file("foo_bar-1.0+cpu-py3-none-any.whl", "1.0+cpu")
    [(attrs, text)] = anchors(renderer.project_html(project(record), PREFIX))
    href = attrs["href"]
    assert href is not None
    assert href.endswith(f"/foo_bar-1.0%2Bcpu-py3-none-any.whl#sha256={record.sha256}")
    assert text == "foo_bar-1.0+cpu-py3-none-any.whl"
    data = json.loads(project_json(project(record), PREFIX))
    assert data["files"][0]["url"].endswith("/foo_bar-1.0%2Bcpu-py3-none-any.whl")


def test_hostile_metadata_is_escaped(renderer: Renderer) -> None:
    hostile = '"><script>alert(1)</script>'
    record = file("foo_bar-1.0.tar.gz", "1.0", yanked=True, yanked_reason=hostile,
                  requires_python=hostile)
    html = renderer.project_html(project(record, display="<script>x</script>"), PREFIX)
    assert b"<script>" not in html
    assert b"&lt;script&gt;x&lt;/script&gt;" in html
    [(attrs, _text)] = anchors(html)
    assert attrs["data-yanked"] == hostile
    assert attrs["data-requires-python"] == hostile
    root = renderer.root_html([("foo-bar", "<b>Foo</b>")])
    assert b"<b>" not in root
    assert b"&lt;b&gt;Foo&lt;/b&gt;" in root


def test_project_html_page(renderer: Renderer) -> None:
    html = renderer.project_html(project(file("foo_bar-1.0.tar.gz", "1.0")), PREFIX).decode()
    assert html.startswith("<!DOCTYPE html>")
    assert f'<meta name="pypi:repository-version" content="{API_VERSION}">' in html
    assert "<title>Links for Foo.Bar</title>" in html
    assert "<h1>Links for Foo.Bar</h1>" in html


def test_root_html_links_are_relative(renderer: Renderer) -> None:
    html = renderer.root_html([("a-b", "A_B"), ("zope-interface", "zope.interface")])
    assert [(a["href"], text) for a, text in anchors(html)] == [
        ("a-b/", "A_B"), ("zope-interface/", "zope.interface")]
    assert f'content="{API_VERSION}"'.encode() in html


# -- JSON (PEP 691 v1.1, PEP 700) -------------------------------------------------------


FILES = (
    file("foo_bar-1.0.tar.gz", "1.0", requires_python=">=3.8"),
    file("foo_bar-1.0-py3-none-any.whl", "1.0", metadata_sha256=sha("m1"),
         has_signature=True, upload_time="2026-03-01T12:00:00.123456Z"),
    file("foo_bar-10.0.tar.gz", "10.0", yanked=True),
    file("foo_bar-2.0a1.tar.gz", "2.0a1", yanked=True, yanked_reason="bad build"),
    file("foo_bar-1.0-custom.tar.gz", "1.0-custom"),
)


def test_project_json_document() -> None:
    data = json.loads(project_json(project(*FILES), PREFIX))
    assert data["meta"] == {"api-version": "1.4", "_last-serial": 42}
    assert data["project-status"] == {"status": "active"}
    assert data["name"] == "foo-bar"
    assert data["versions"] == ["1.0-custom", "1.0", "2.0a1", "10.0"]
    valid = [v for v in data["versions"] if v != "1.0-custom"]
    assert valid == sorted(valid, key=Version)
    by_name = {f["filename"]: f for f in data["files"]}
    assert [f["filename"] for f in data["files"]] == sorted(by_name)
    for record in FILES:
        entry = by_name[record.filename]
        assert entry["hashes"] == {"sha256": record.sha256}
        assert entry["size"] == record.size
        assert UPLOAD_TIME.match(entry["upload-time"])
        assert entry["url"] == (f"{PREFIX}{record.sha256[:2]}/{record.sha256[2:4]}/"
                                f"{record.sha256}/{record.filename}")
        assert entry["gpg-sig"] is record.has_signature
    assert by_name["foo_bar-1.0.tar.gz"]["requires-python"] == ">=3.8"
    assert "requires-python" not in by_name["foo_bar-10.0.tar.gz"]
    assert by_name["foo_bar-1.0.tar.gz"]["yanked"] is False
    assert by_name["foo_bar-10.0.tar.gz"]["yanked"] is True
    assert by_name["foo_bar-2.0a1.tar.gz"]["yanked"] == "bad build"
    wheel = by_name["foo_bar-1.0-py3-none-any.whl"]
    assert wheel["core-metadata"] == wheel["dist-info-metadata"] == {"sha256": sha("m1")}
    assert by_name["foo_bar-1.0.tar.gz"]["core-metadata"] is False


def test_versions_cover_every_file_version() -> None:
    data = json.loads(project_json(project(*FILES), PREFIX))
    assert sorted({f.version for f in FILES}, key=version_sort_key) == data["versions"]


def test_root_json_document() -> None:
    data = json.loads(root_json([("a-b", "A_B"), ("c", "c")]))
    assert data == {"meta": {"api-version": "1.4"}, "projects": [{"name": "A_B"}, {"name": "c"}]}


def test_output_is_deterministic(renderer: Renderer) -> None:
    state = project(*FILES)
    shuffled = replace(state, files=tuple(reversed(state.files)))
    assert renderer.project_html(state, PREFIX) == renderer.project_html(shuffled, PREFIX)
    assert project_json(state, PREFIX) == project_json(shuffled, PREFIX)
    assert renderer.project_html(state, PREFIX) == Renderer().project_html(state, PREFIX)
    listing = [("a", "A"), ("b", "B")]
    assert root_json(listing) == root_json(list(reversed(listing)))
    assert renderer.root_html(listing) == renderer.root_html(list(reversed(listing)))


def test_dumps_is_canonical() -> None:
    assert dumps({"b": [1, {"d": 1, "c": 2}], "a": "é"}) == (
        b'{"a":"\\u00e9","b":[1,{"c":2,"d":1}]}\n'
    )
