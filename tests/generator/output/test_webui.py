"""The web UI: safe rendering of descriptions and metadata (``generator.render.markup``,
``generator.render.ui``), setup commands (``generator.render.client_setup``) and incremental
generation of the pages beside the index (``generator.output.webui``)."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from packaging.utils import NormalizedName

from generator.config.settings import load_config
from generator.installation import Installation, ui_worker_main
from generator.output.uistate import UiReport, read_state
from generator.output.webui import WebUi
from generator.records import FileRecord, ProjectState, Repo
from generator.render.client_setup import index_snippets, trusted_host, upload_snippets
from generator.render.markup import read_description, render_description
from generator.render.ui import (
    PackageRow,
    PrefixPage,
    UiRenderer,
    latest_version,
    prefix_pages,
    search_shard,
    versions_of,
)
from generator.storage.atomic import new_directory_temp
from tests.conftest import Dists, FakeClock
from tests.factory import SIGNATURE, metadata_text
from tests.generator.output.test_index import add

HOSTILE_SUMMARY = '<script>alert("summary")</script> & "quotes"'
HOSTILE_DESCRIPTIONS = {
    "markdown": (
        "text/markdown",
        '# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n'
        "[click](javascript:alert(3))\n\n<a href='#' onclick='alert(4)'>a</a>\n\n"
        "<iframe src='http://127.0.0.1:1/'></iframe><style>body{display:none}</style>\n",
    ),
    "rst": (
        "text/x-rst",
        "Title\n=====\n\n.. raw:: html\n\n   <script>alert(1)</script>\n\n"
        "`click <javascript:alert(3)>`_\n\n.. image:: x\n   :target: javascript:alert(5)\n",
    ),
    "plain": ("text/plain", "<script>alert(1)</script>\n<img src=x onerror=alert(2)>"),
    "unknown type": ("text/x-unknown", "<script>alert(1)</script>"),
    "no type (rst)": ("", "<script>alert(1)</script>\n\n*emphasis*"),
}


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _assert_inert(rendered: str) -> None:
    parser = _Tags()
    parser.feed(rendered)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "style", "object", "embed", "form"), rendered
        for key, value in attrs:
            assert not key.startswith("on"), (tag, key, rendered)
            if key in ("href", "src"):
                assert not (value or "").strip().lower().startswith(
                    ("javascript:", "data:", "vbscript:")
                ), (tag, value)


@pytest.mark.parametrize(("content_type", "text"), list(HOSTILE_DESCRIPTIONS.values()),
                         ids=list(HOSTILE_DESCRIPTIONS))
def test_hostile_descriptions_come_out_inert(content_type: str, text: str) -> None:
    _assert_inert(render_description(text, content_type))


@pytest.mark.parametrize(
    ("content_type", "text", "expected"),
    [
        ("text/markdown", "Some **bold** text", "<strong>bold</strong>"),
        ("text/markdown; variant=CommonMark", "| a |\n|---|\n| 1 |", "| a |"),
        ("text/markdown; variant=GFM", "| a |\n|---|\n| 1 |", "<table>"),
        ("text/markdown; variant=Nonsense", "~~gone~~", "<del>gone</del>"),
        ("text/markdown", "# Top\n\n## Next", "<h3"),
        ("text/x-rst", "*emphasis*", "<em>emphasis</em>"),
        ("", "``literal``", '<span class="docutils literal">literal</span>'),
        ("text/x-rst", "Broken\n===\n\n.. unknown-directive::", "Broken"),
        ("text/plain", "line 1\nline <2>", "line 1<br>line &lt;2&gt;"),
        ("text/x-unknown", "*not emphasis*", "*not emphasis*"),
    ],
    ids=["markdown", "commonmark", "gfm-table", "bad-variant-is-gfm", "headings-demoted",
         "rst", "missing-type-is-rst", "invalid-rst-falls-back", "plain", "unknown-is-plain"],
)
def test_descriptions_render_as_pypi_does(content_type: str, text: str, expected: str) -> None:
    rendered = render_description(text, content_type)
    assert expected in rendered
    assert "<h1" not in rendered


def test_an_empty_or_huge_description() -> None:
    assert render_description("   \n", "text/markdown") == ""
    huge = "<script>x</script>*" * 40_000
    rendered = render_description(huge, "text/x-rst")
    assert rendered.startswith('<p class="description-note">This description is shown as plain '
                               "text (its first 256 KiB): it is longer than 512 KiB.</p>\n"
                               "&lt;script&gt;")
    _assert_inert(rendered)


def test_read_description_from_core_metadata() -> None:
    data = (metadata_text("Demo", "1.0", summary="Short").rstrip("\n")
            + "\nDescription-Content-Type: text/markdown\n\n# Long\n").encode()
    described = read_description(data)
    assert described is not None
    assert (described.summary, described.text.strip(), described.content_type) == (
        "Short", "# Long", "text/markdown"
    )


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://packages.internal:8080/python/latest/simple/", "packages.internal"),
        ("http://127.0.0.1/sub/python/latest/simple/", "127.0.0.1"),
        ("https://packages.internal/python/latest/simple/", None),
    ],
    ids=["http", "http-sub-path", "https"],
)
def test_trusted_host_only_for_plain_http(url: str, host: str | None) -> None:
    assert trusted_host(url) == host
    texts = "\n".join(s.text for s in index_snippets(url, "python"))
    assert ("--trusted-host" in texts) is (host is not None)
    for s in index_snippets(url, "python"):
        assert url in s.text, s.id


def test_upload_snippets_name_the_source_endpoint() -> None:
    snippets = {s.id: s.text for s in upload_snippets("http://127.0.0.1:8000/sub/", "team")}
    url = "http://127.0.0.1:8000/sub/upload/pypi/team/"
    assert f"TWINE_REPOSITORY_URL={url}" in snippets["twine-env-team"]
    assert f"repository = {url}" in snippets["pypirc-team"]
    assert f"keyring set {url} __token__" in snippets["keyring-team"]
    assert f"uv publish --publish-url {url}" in snippets["uv-publish-team"]


def _record(filename: str, version: str, *, yanked: bool = False, signed: bool = False,
            at: str = "2026-03-01T12:00:00.000000Z") -> FileRecord:
    return FileRecord(
        filename=filename, version=version,
        packagetype="sdist" if filename.endswith(".tar.gz") else "bdist_wheel",
        sha256="ab" * 32, blake2_256="cd" * 32, size=1234, requires_python=">=3.9",
        upload_time=at, metadata_sha256=None, has_signature=signed, yanked=yanked,
        yanked_reason="<b>bad</b>" if yanked else "",
    )


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ([("1.0", False), ("2.0", False)], "2.0"),
        ([("1.0", False), ("2.0b1", False)], "1.0"),
        ([("1.0", False), ("2.0", True)], "1.0"),
        ([("1.0", True), ("2.0a1", False)], "2.0a1"),
        ([("1.0", True), ("0.9", True)], "1.0"),
    ],
    ids=["newest", "final-over-pre", "not-yanked", "pre-when-all-else-yanked", "all-yanked"],
)
def test_latest_version(versions: list[tuple[str, bool]], expected: str) -> None:
    files = [_record(f"p-{v}.tar.gz", v, yanked=y) for v, y in versions]
    assert latest_version(files) == expected


def test_pages_escape_every_metadata_value() -> None:
    renderer = UiRenderer()
    repo = Repo(id=1, name="python", type="python", description="<i>desc</i>",
                sources=("local",))
    project = ProjectState(
        name=NormalizedName("demo"), display_name="Demo", source="local", serial=3,
        files=(_record("demo-1.0.tar.gz", "1.0", yanked=True, signed=True),),
    )
    page = renderer.package_html(repo=repo, project=project, summary=HOSTILE_SUMMARY,
                                 description="", base_url="http://127.0.0.1:8000/").decode()
    assert "<script>" not in page
    assert str(escape(HOSTILE_SUMMARY)) in page
    assert "&lt;b&gt;bad&lt;/b&gt;" in page
    assert 'class="signed" href="../../../files/ab/ab/' in page
    shard = json.loads(search_shard([]))
    assert shard == {"projects": []}


# Text with the characters HTML escaping changes, and the values real files have.
_texts = st.one_of(st.text(alphabet="ab1.-_ <>&'\"", max_size=12), st.sampled_from(
    ["demo-1.0.tar.gz", ">=3.9", "", "2026-03-01T12:00:00.000000Z", "2026-03-01"]))


@st.composite
def _package_pages(draw: st.DrawFn, i: int = 0) -> tuple[ProjectState, str, str]:
    """A project with hostile text everywhere, its summary and its description."""
    requires = draw(st.one_of(st.none(), _texts))
    files = tuple(
        FileRecord(
            filename=f"p-{v}.tar.gz", version=v, packagetype="sdist", sha256="ab" * 32,
            blake2_256="cd" * 32, size=1234, requires_python=requires,
            upload_time="2026-03-01T12:00:00.000000Z", metadata_sha256=None,
            has_signature=False, yanked=False, yanked_reason="",
        )
        for v in draw(st.lists(st.sampled_from(["1.0", "2.0b1", "0.9"]), max_size=3))
    )
    name = draw(st.text(alphabet="abc", min_size=1, max_size=4))
    project = ProjectState(name=NormalizedName(name), display_name=draw(_texts),
                           source=draw(_texts), serial=1, files=files)
    description = draw(_texts)
    return project, draw(_texts), f"<p>{escape(description)}</p>" if description else ""


@settings(max_examples=60, deadline=None)
@given(pages=st.lists(_package_pages(), min_size=1, max_size=5))
def test_a_package_page_is_the_same_from_a_busy_renderer(
    pages: list[tuple[ProjectState, str, str]],
) -> None:
    # Package pages are prefilled (generator.render.prefill): a renderer's later pages are put
    # together from its first ones, and must be exactly what a fresh renderer makes.
    repo = Repo(id=1, name="python", type="python", description="", sources=("local",))
    busy = UiRenderer()
    for project, summary, description in pages:
        made = [
            renderer.package_html(repo=repo, project=project, summary=summary,
                                  description=description, base_url="http://127.0.0.1:8000/")
            for renderer in (busy, UiRenderer())
        ]
        assert made[0] == made[1]
        # Version pages are prefilled too.
        versions = versions_of(project)
        pages_made = [
            renderer.version_pages(repo=repo, project=project, versions=versions,
                                   base_url="http://127.0.0.1:8000/")
            for renderer in (busy, UiRenderer())
        ]
        assert pages_made[0] == pages_made[1]


def _output(inst: Installation) -> Path:
    return inst.config.output_path


def _ui(inst: Installation) -> UiReport:
    """Bring the index up to date without the UI, then the UI alone (its report)."""
    repo = inst.catalog.get_repo("python")
    inst.generate([repo], ui=False)
    report = inst.webui.generate_repo(repo)
    inst.webui.finish()
    return report


def _pages(inst: Installation) -> dict[str, bytes]:
    """Every UI file that is served (not the index, files, or hidden state)."""
    output = _output(inst)
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(output):
        rel = Path(dirpath).relative_to(output)
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and not (rel == Path(".") and d == "files")
            and not (len(rel.parts) == 1 and (d == "latest" or re.fullmatch(r"\d{4}-.*", d)))
        )
        for name in filenames:
            if not name.startswith(".") and name != "snapshots.json":
                found[str(rel / name)] = (Path(dirpath) / name).read_bytes()
    return found


def _wheel(dists: Dists, name: str, version: str, *, summary: str = "A test package",
           description: str = "", content_type: str = "text/markdown") -> Path:
    head = metadata_text(name, version, summary=summary).rstrip("\n")
    text = f"{head}\nDescription-Content-Type: {content_type}\n\n{description}"
    return dists.wheel(name, version, metadata=text)


def test_generation_writes_every_page_with_relative_links(
    installation: Installation, dists: Dists
) -> None:
    demo = _wheel(dists, "Demo", "1.0", summary=HOSTILE_SUMMARY, description="# Hello")
    sdist = dists.sdist("Demo", "1.0")
    sdist.with_name(sdist.name + ".asc").write_bytes(SIGNATURE)
    add(installation, demo, sdist, dists.wheel("other", "0.1"))
    _ui(installation)
    pages = _pages(installation)
    for expected in ("index.html", "python/index.html", "python/project/demo/index.html",
                     "python/project/other/index.html", "python/packages/d/index.html",
                     "python/search/d.json", "python/search/o.json", "static/ui.css",
                     "static/ui.js"):
        assert expected in pages, expected
    output = _output(installation)
    site = "http://site.invalid/"
    for path, data in pages.items():
        if not path.endswith(".html"):
            continue
        text = data.decode()
        assert "<script>alert" not in text, path
        for link in _links(text):
            assert not urlsplit(link).scheme, (path, link)
            assert not link.startswith("/"), (path, link)
            target = urljoin(site + path, link.split("#")[0])
            local = output / target[len(site):]
            assert local.exists() or (local / "index.html").exists(), (path, link)
    package = pages["python/project/demo/index.html"].decode()
    assert package.count('class="signed"') == 1
    assert "<h3" in package
    assert "Hello" in package
    assert json.loads(pages["python/search/d.json"]) == {"projects": [["Demo", "1.0"]]}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.links.append(value)


def _links(text: str) -> list[str]:
    parser = _Links()
    parser.feed(text)
    return [link for link in parser.links if not link.startswith("#")]


def test_incremental_generation_rewrites_only_what_changed(
    installation: Installation, dists: Dists, clock: FakeClock
) -> None:
    add(installation, dists.wheel("alpha", "1.0"), dists.wheel("beta", "1.0"),
        dists.wheel("bravo", "1.0"))
    _ui(installation)
    assert _ui(installation).mode == "unchanged"
    clock.advance(hours=1)
    add(installation, dists.wheel("alpha", "2.0"))
    report = _ui(installation)
    assert report.mode == "incremental"
    # The new version's page is added; the page of 1.0 does not change.
    assert sorted(report.written) == [
        "python/index.html", "python/packages/a/index.html",
        "python/project/alpha/2.0/index.html", "python/project/alpha/index.html",
        "python/search/a.json",
    ]
    assert report.packages == 1
    clock.advance(hours=1)
    installation.catalog.remove(installation.catalog.get_source("local"), "beta",
                                clock.now)
    report = _ui(installation)
    assert report.deleted == ["python/project/beta"]
    assert "python/packages/b/index.html" in report.written
    assert [r[0] for r in json.loads(
        (_output(installation) / "python/search/b.json").read_bytes())["projects"]] == ["bravo"]
    installation.catalog.remove(installation.catalog.get_source("local"), "bravo",
                                clock.now)
    report = _ui(installation)
    assert not (_output(installation) / "python/search/b.json").exists()
    assert not (_output(installation) / "python/packages/b").exists()
    state = read_state(_output(installation) / "python")
    assert state is not None
    assert (state.letters, state.projects) == ("a", 1)


def test_a_half_written_page_of_a_removed_project_is_cleaned_incrementally(
    installation: Installation, dists: Dists, clock: FakeClock
) -> None:
    # A run killed while writing a package page leaves its hidden temporary directory;
    # when the project is then removed, the next incremental run must not keep it.
    add(installation, dists.wheel("alpha", "1.0"), dists.wheel("beta", "1.0"))
    _ui(installation)
    half = new_directory_temp(_output(installation) / "python/project/beta")
    half.mkdir()
    (half / "index.html").write_bytes(b"<!doctype html><title>be")
    clock.advance(hours=1)
    installation.catalog.remove(installation.catalog.get_source("local"), "beta", clock.now)
    report = _ui(installation)
    assert report.mode == "incremental"
    assert "python/project/beta" in report.deleted
    assert not half.exists()
    assert sorted(p.name for p in (_output(installation) / "python/project").iterdir()) == [
        "alpha"
    ]


def _spy_list_pages(installation: Installation, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The prefixes of the list pages the web UI renders from now on, in order."""
    rendered: list[str] = []
    prefix_html = installation.webui.renderer.prefix_html

    def spy(repo: Repo, page: PrefixPage, shards: str) -> bytes:
        rendered.append(page.prefix)
        return prefix_html(repo, page, shards)

    monkeypatch.setattr(installation.webui.renderer, "prefix_html", spy)
    return rendered


def test_a_change_that_keeps_the_row_renders_no_list_page(
    installation: Installation, dists: Dists, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A yank of an older release changes the package page, not the project's row: the
    # shard and the list pages stay as they are (1% of 100k projects changing a day
    # would otherwise re-render every list page).
    add(installation, dists.wheel("alpha", "1.0"), dists.wheel("alpha", "2.0"),
        dists.wheel("beta", "1.0"))
    _ui(installation)
    rendered = _spy_list_pages(installation, monkeypatch)
    local = installation.catalog.get_source("local")
    clock.advance(hours=1)
    installation.catalog.set_yanked(local, "alpha", "1.0", True, "old", clock.now)
    report = _ui(installation)
    assert report.mode == "incremental"
    assert "python/project/alpha/index.html" in report.written
    assert rendered == []
    clock.advance(hours=1)
    add(installation, dists.wheel("alpha", "3.0"))  # the row shows 3.0 now
    report = _ui(installation)
    assert rendered == ["a"]
    assert "python/packages/a/index.html" in report.written


def test_incremental_output_equals_a_full_generation(
    installation: Installation, dists: Dists, clock: FakeClock
) -> None:
    add(installation, _wheel(dists, "Demo", "1.0", description="*one*"),
        dists.wheel("other", "1.0"))
    _ui(installation)
    clock.advance(days=1)
    add(installation, _wheel(dists, "Demo", "2.0", description="*two*"), dists.wheel("zed", "1"))
    installation.catalog.set_yanked(installation.catalog.get_source("local"), "other", "1.0",
                                    True, "broken", clock.now)
    _ui(installation)
    incremental = _pages(installation)
    assert "<em>two</em>" in incremental["python/project/demo/index.html"].decode()
    assert "broken" in incremental["python/project/other/index.html"].decode()
    for entry in _output(installation).iterdir():  # all but the store (files/)
        if entry.name != "files":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    installation.generate(full=True)
    full = _pages(installation)
    assert full == incremental


def test_descriptions_are_rendered_once(
    installation: Installation, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(installation, _wheel(dists, "Demo", "1.0", description="*one*"),
        dists.sdist("plain", "1.0", pkg_info=metadata_text("plain", "1.0").rstrip("\n")
                    + "\nDescription-Content-Type: text/x-rst\n\nFrom *PKG-INFO*\n"))
    calls: list[str] = []
    real = installation.webui.descriptions.render

    def counting(text: str, content_type: str = "") -> str:
        calls.append(text)
        return real(text, content_type)

    monkeypatch.setattr(installation.webui.descriptions, "render", counting)
    _ui(installation)
    assert len(calls) == 2
    sdist_page = (_output(installation) / "python/project/plain/index.html").read_text()
    assert "From <em>PKG-INFO</em>" in sdist_page
    before = _pages(installation)
    installation.generate(full=True)
    assert len(calls) == 2
    assert _pages(installation) == before


def test_a_new_public_url_regenerates_the_setup_commands(
    installation: Installation, dists: Dists
) -> None:
    add(installation, dists.wheel("demo", "1.0"))
    _ui(installation)
    config = installation.config.file
    config.write_text(config.read_text().replace(
        'public_url = ""', 'public_url = "https://packages.invalid/sub"'))
    moved = Installation(load_config(config), clock=installation.clock)
    try:
        repo = moved.catalog.get_repo("python")
        report = moved.webui.generate_repo(repo)
        assert report.mode == "full"
        page = (_output(moved) / "python/index.html").read_text()
        assert "https://packages.invalid/sub/python/latest/simple/" in page
        assert "--trusted-host" not in page
    finally:
        moved.close()


def test_activity_leaves_out_shadowed_sources(
    installation: Installation, dists: Dists, clock: FakeClock
) -> None:
    catalog = installation.catalog
    catalog.create_source("mirror", "local-python", clock.now)
    catalog.subscribe("python", "mirror", clock.now)
    add(installation, dists.wheel("shared", "1.0"))
    clock.advance(minutes=1)
    add(installation, dists.wheel("shared", "9.0", directory=dists.fresh_dir()),
        dists.wheel("own", "1.0"), source="mirror")
    _ui(installation)
    page = (_output(installation) / "python/index.html").read_text()
    rows = re.findall(r"<tr><td data-label=\"When\"><time>.*?</tr>", page)
    assert len(rows) == 2
    assert any("shared" in r and "1.0" in r for r in rows)
    assert all("9.0" not in r for r in rows)
    home = (_output(installation) / "index.html").read_text()
    assert "mirror" in home
    assert "<dt>Projects</dt><dd>2</dd>" in home


def test_a_large_full_run_renders_the_ui_in_the_index_processes_with_the_same_bytes(
    installation: Installation, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(installation, _wheel(dists, "Demo", "1.0", description="*one*"),
        dists.wheel("other", "1.0"), dists.sdist("third", "2.0"), dists.wheel("zed", "1.0"))
    installation.generate(full=True)
    sequential = _pages(installation)
    monkeypatch.setattr("generator.output.index.PARALLEL_MIN_PROJECTS", 2)
    monkeypatch.setattr("generator.installation.PARALLEL_UI_MIN_PROJECTS", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    _wipe_site(installation)
    started = _spy_ui_worker(monkeypatch)
    parts: list[int] = []
    complete = WebUi.complete_full

    def counting(self: WebUi, repo: Repo, full_pass: object, results: list[object],
                 serial: int) -> object:
        parts.append(len(results))
        return complete(self, repo, full_pass, results, serial)  # type: ignore[arg-type]

    monkeypatch.setattr(WebUi, "complete_full", counting)
    installation.generate(full=True)
    assert started == []  # no separate UI process: the package pages came with the index
    assert parts == [2]  # from both processes of the index's pass
    assert _pages(installation) == sequential


def test_a_ui_to_redo_beside_an_unchanged_index_renders_in_a_second_process(
    installation: Installation, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(installation, _wheel(dists, "Demo", "1.0", description="*one*"),
        dists.wheel("other", "1.0"), dists.sdist("third", "2.0"))
    installation.generate(full=True)
    sequential = _pages(installation)
    monkeypatch.setattr("generator.installation.PARALLEL_UI_MIN_PROJECTS", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    for entry in _output(installation).iterdir():  # the UI only; the index stays
        if entry.name not in ("files", "python"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for entry in (_output(installation) / "python").iterdir():
        if entry.name != "latest" and not re.fullmatch(r"\d{4}-.*|\.pages", entry.name):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    started = _spy_ui_worker(monkeypatch)
    [report] = installation.generate().reports
    assert report.mode == "unchanged"
    assert len(started) == 1
    assert started[0] is not None
    assert _pages(installation) == sequential


def _wipe_site(installation: Installation) -> None:
    for entry in _output(installation).iterdir():
        if entry.name != "files":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _spy_ui_worker(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    started: list[object] = []
    start = Installation._start_ui_worker

    def spy(self: Installation, repo: Repo, full: bool) -> object:  # a Popen or None
        started.append(start(self, repo, full))
        return started[-1]

    monkeypatch.setattr(Installation, "_start_ui_worker", spy)
    return started


def _row(name: str) -> PackageRow:
    return PackageRow(name=NormalizedName(name), display_name=name, version="1", source="local",
                      summary="", updated="2026-03-01")


def test_prefix_pages_split_until_each_page_is_short() -> None:
    names = sorted(["p", "pa", "pb-one", "pb-two", "pb-three", "pc", "pd"])
    pages = {p.prefix: p for p in prefix_pages([_row(n) for n in names], "p", limit=2)}
    assert [r.name for r in pages["p"].rows] == ["p"]
    assert pages["p"].groups == (("pa", 1), ("pb", 3), ("pc", 1), ("pd", 1))
    assert pages["pb"].groups == (("pb-", 3),)
    assert set(pages) == {"p", "pa", "pb", "pb-", "pb-o", "pb-t", "pc", "pd"}
    assert [r.name for r in pages["pb-t"].rows] == ["pb-three", "pb-two"]
    assert sum(len(p.rows) for p in pages.values() if not p.groups) + 1 == len(names)
    single = prefix_pages([_row(n) for n in names], "p", limit=10)
    assert len(single) == 1
    assert len(single[0].rows) == len(names)


def test_the_package_list_splits_and_merges_its_pages_incrementally(
    installation: Installation, dists: Dists, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("generator.render.ui.PAGE_LIMIT", 2)
    add(installation, dists.wheel("pa", "1"), dists.wheel("pb", "1"))
    _ui(installation)
    packages = _output(installation) / "python" / "packages"
    assert sorted(os.listdir(packages)) == ["p"]
    clock.advance(minutes=1)
    add(installation, dists.wheel("pc", "1"))
    report = _ui(installation)
    assert sorted(os.listdir(packages)) == ["p", "pa", "pb", "pc"]
    assert "python/packages/pc/index.html" in report.written
    clock.advance(minutes=1)
    rendered = _spy_list_pages(installation, monkeypatch)
    add(installation, dists.wheel("pc", "2"))
    report = _ui(installation)
    assert [w for w in report.written if "/packages/" in w] == [
        "python/packages/pc/index.html"
    ]
    assert rendered == ["pc"]  # not "p", the page on the way to it: no name came or went
    clock.advance(minutes=1)
    installation.catalog.remove(installation.catalog.get_source("local"), "pa", clock.now)
    _ui(installation)
    assert sorted(os.listdir(packages)) == ["p"]
    page = (packages / "p" / "index.html").read_text()
    assert "pb" in page
    assert "pc" in page


def test_the_ui_worker_reports_a_failure_in_one_line(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ui_worker_main([str(installation.config.file), "nope"]) == 1
    assert "unknown repository 'nope'" in capsys.readouterr().err
    assert ui_worker_main([str(installation.config.file), "python"]) == 0
