"""Parsing upstream pages (PEP 691 JSON, PEP 503 HTML) and the mirror's pure planning."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from packaging.utils import NormalizedName

from generator.mirror.filters import NewestReleases, WheelTags
from generator.mirror.plan import plan_project
from generator.mirror.upstream import (
    ListedProject,
    Listing,
    ProjectPage,
    UpstreamError,
    UpstreamFile,
    parse_project_html,
    parse_project_json,
    parse_root_html,
    parse_root_json,
)
from generator.records import MirroredFile

SHA = "a" * 64
META = "b" * 64
PAGE = "http://127.0.0.1:1/simple/demo/"
DEMO = NormalizedName("demo")


def json_page(*files: dict[str, object]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1", "_last-serial": 7}, "name": "demo",
                       "files": list(files)}).encode()


def entry(filename: str = "demo-1.0-py3-none-any.whl", **extra: object) -> dict[str, object]:
    return {"filename": filename, "url": f"../../packages/{filename}", "hashes": {"sha256": SHA},
            **extra}


@pytest.mark.parametrize(
    ("extra", "field", "expected"),
    [
        ({}, "url", "http://127.0.0.1:1/packages/demo-1.0-py3-none-any.whl"),
        ({"yanked": "broken"}, "yanked_reason", "broken"),
        ({"yanked": True}, "yanked", True),
        ({"yanked": False}, "yanked", False),
        ({"size": 12}, "size", 12),
        ({"upload-time": "2024-06-01T08:00:00Z"}, "upload_time", "2024-06-01T08:00:00.000000Z"),
        ({"requires-python": ">=3.8"}, "requires_python", ">=3.8"),
        ({"core-metadata": {"sha256": META}}, "metadata_sha256", META),
        ({"data-dist-info-metadata": {"sha256": META}}, "metadata_sha256", META),
        ({"core-metadata": True}, "metadata_sha256", None),
        ({"core-metadata": False}, "metadata_sha256", None),
    ],
    ids=["relative-url", "yank-reason", "yank-true", "not-yanked", "size", "upload-time",
         "requires-python", "core-metadata", "legacy-metadata-key", "metadata-without-hash",
         "no-metadata"],
)
def test_json_file_fields(extra: dict[str, object], field: str, expected: object) -> None:
    page = parse_project_json(json_page({**entry(), **extra}), PAGE, DEMO)
    (only,) = page.files
    assert getattr(only, field) == expected
    assert page.serial == 7


@pytest.mark.parametrize(
    "bad",
    [
        {"filename": "demo-1.0-py3-none-any.whl", "url": "x", "hashes": {"md5": "0" * 32}},
        {"filename": "demo-1.0.exe", "url": "x", "hashes": {"sha256": SHA}},
        {"filename": "other-1.0.tar.gz", "url": "x", "hashes": {"sha256": SHA}},
        {"filename": "../demo-1.0.tar.gz", "url": "x", "hashes": {"sha256": SHA}},
        {"filename": "demo-1.0.tar.gz"},
        {"filename": "demo-1.0\x00.tar.gz", "url": "x", "hashes": {"sha256": SHA}},
        {"filename": "demo-1.0\n.tar.gz", "url": "x", "hashes": {"sha256": SHA}},
        {"filename": "demo-1.0" + "0" * 412 + ".tar.gz", "url": "x", "hashes": {"sha256": SHA}},
    ],
    ids=["no-sha256", "not-a-distribution", "another-project", "escaping-name", "no-url",
         "nul-in-name", "lf-in-name", "419-chars"],
)
def test_files_the_mirror_cannot_carry_are_counted(bad: dict[str, object]) -> None:
    page = parse_project_json(json_page(bad, entry()), PAGE, DEMO)
    assert [f.filename for f in page.files] == ["demo-1.0-py3-none-any.whl"]
    assert page.skipped == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"{}", "no 'meta' object"),
        (b'{"meta": {"api-version": "2.0"}}', "unsupported API version '2.0'"),
        (b'{"meta": {"api-version": "1.0"}}', "no 'files' array"),
    ],
    ids=["garbage", "no-meta", "major-2", "no-files"],
)
def test_unreadable_json_pages_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(UpstreamError, match=message):
        parse_project_json(body, PAGE, DEMO)


def test_html_project_page() -> None:
    body = (
        '<html><head><base href="http://127.0.0.1:2/"></head><body>'
        f'<a href="p/demo-1.0.tar.gz#sha256={SHA}" data-requires-python="&gt;=3.8">x</a>'
        f'<a href="p/demo-2.0.tar.gz#sha256={SHA}" data-yanked="">y</a>'
        f'<a href="p/demo-3.0.tar.gz#sha256={SHA}" data-yanked="old" '
        f'data-dist-info-metadata="sha256={META}">z</a>'
        '<a href="p/demo-4.0.tar.gz#md5=00">no sha256</a></body></html>'
    ).encode()
    page = parse_project_html(body, PAGE, DEMO)
    by_name = {f.filename: f for f in page.files}
    assert by_name["demo-1.0.tar.gz"].url == "http://127.0.0.1:2/p/demo-1.0.tar.gz"
    assert by_name["demo-1.0.tar.gz"].requires_python == ">=3.8"
    assert (by_name["demo-2.0.tar.gz"].yanked, by_name["demo-2.0.tar.gz"].yanked_reason) == (
        True, "")
    assert by_name["demo-3.0.tar.gz"].yanked_reason == "old"
    assert by_name["demo-3.0.tar.gz"].metadata_sha256 == META
    assert by_name["demo-1.0.tar.gz"].size is None
    assert page.skipped == 1


def test_root_listings() -> None:
    listing = parse_root_json(json.dumps({
        "meta": {"api-version": "1.0", "_last-serial": 9},
        "projects": [{"name": "Demo_Pkg", "_last-serial": "4"}, {"name": "other"}],
    }).encode(), PAGE)
    assert listing == Listing(projects=(
        ListedProject(name=NormalizedName("demo-pkg"), display_name="Demo_Pkg", serial=4),
        ListedProject(name=NormalizedName("other"), display_name="other", serial=None),
    ), serial=9)
    html = parse_root_html(b'<a href="demo-pkg/">Demo_Pkg</a><a href="x/">x</a>', PAGE)
    assert [p.name for p in html.projects] == ["demo-pkg", "x"]


def upstream_file(filename: str, **fields: object) -> UpstreamFile:
    version = filename.split("-")[1].removesuffix(".tar.gz")
    base: dict[str, object] = dict(
        filename=filename, url=f"http://127.0.0.1:1/{filename}", version=version,
        packagetype="bdist_wheel" if filename.endswith(".whl") else "sdist", sha256=SHA,
        blake2_256="", size=1, upload_time="2024-01-01T00:00:00.000000Z", requires_python=None,
        yanked=False, yanked_reason="", metadata_sha256=None,
    )
    base.update(fields)
    return UpstreamFile(**base)  # type: ignore[arg-type]


NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LISTED = ListedProject(name=DEMO, display_name="Demo", serial=3)


@pytest.mark.parametrize(
    ("first", "effective"),
    [(True, "2024-01-01T00:00:00.000000Z"), (False, "2026-03-01T12:00:00.000000Z")],
    ids=["first-sync-backfills", "later-syncs-count-from-now"],
)
def test_plan_dates_new_files(first: bool, effective: str) -> None:
    page = ProjectPage(name=DEMO, files=(upstream_file("demo-1.0.tar.gz"),))
    change = plan_project(LISTED, page, [], first=first, now=NOW)
    (new,) = change.add
    assert new.effective_at == effective
    assert new.record.url == "http://127.0.0.1:1/demo-1.0.tar.gz"


def test_plan_yanks_unyanks_and_removes() -> None:
    existing = [
        MirroredFile(filename="demo-1.0.tar.gz", sha256=SHA, yanked=False, yanked_reason="",
                     removed=False),
        MirroredFile(filename="demo-2.0.tar.gz", sha256=SHA, yanked=True, yanked_reason="x",
                     removed=False),
        MirroredFile(filename="demo-3.0.tar.gz", sha256=SHA, yanked=False, yanked_reason="",
                     removed=False),
        MirroredFile(filename="demo-4.0.tar.gz", sha256=SHA, yanked=False, yanked_reason="",
                     removed=True),
    ]
    page = ProjectPage(name=DEMO, files=(
        upstream_file("demo-1.0.tar.gz", yanked=True, yanked_reason="bad"),
        upstream_file("demo-2.0.tar.gz"),
        upstream_file("demo-4.0.tar.gz"),
    ))
    change = plan_project(LISTED, page, existing, first=False, now=NOW)
    assert change.yank == (("demo-1.0.tar.gz", "bad"),)
    assert change.unyank == ("demo-2.0.tar.gz",)
    assert change.remove == ("demo-3.0.tar.gz",)
    assert change.add == ()  # a removed filename is never taken back


class Fixed:
    """A fake ProjectSource answering one page."""

    def __init__(self, files: tuple[UpstreamFile, ...]) -> None:
        self.files = files

    def describe(self) -> str:
        return "fixed"

    def list_projects(self, validators: dict[str, str]) -> Listing | None:
        return Listing(projects=(LISTED,))

    def fetch_project(self, listed: ListedProject, known: object) -> ProjectPage:
        return ProjectPage(name=DEMO, files=self.files)


@pytest.mark.parametrize(
    ("pythons", "platforms", "kept"),
    [
        (("3.11",), (), {"demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                         "demo-1.0-cp38-abi3-win_amd64.whl", "demo-1.0-py3-none-any.whl",
                         "demo-1.0.tar.gz"}),
        ((), ("win_*",), {"demo-1.0-cp38-abi3-win_amd64.whl", "demo-1.0.tar.gz"}),
        (("3.12",), ("any",), {"demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"}),
    ],
    ids=["cpython-3.11", "windows-only", "pure-for-3.12"],
)
def test_wheel_tags_filter(
    pythons: tuple[str, ...], platforms: tuple[str, ...], kept: set[str]
) -> None:
    files = tuple(upstream_file(name) for name in (
        "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "demo-1.0-cp38-abi3-win_amd64.whl",
        "demo-1.0-cp27-cp27mu-manylinux1_x86_64.whl", "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
    ))
    page = WheelTags(Fixed(files), pythons, platforms).fetch_project(LISTED, None)
    assert isinstance(page, ProjectPage)
    assert {f.filename for f in page.files} == kept


def test_newest_releases_orders_by_version_not_text() -> None:
    files = tuple(upstream_file(f"demo-{v}.tar.gz") for v in ("1.9", "1.10", "1.2"))
    page = NewestReleases(Fixed(files), 2).fetch_project(LISTED, None)
    assert isinstance(page, ProjectPage)
    assert {f.version for f in page.files} == {"1.9", "1.10"}


@pytest.mark.parametrize(
    "serial",
    ["\u00b2", "1" * 19, "1" * 5000, -1, 10**18, 1.5, "12a", " 12"],
    ids=["superscript-two", "19-digits", "5000-digits", "negative", "too-large", "float",
         "letters", "space"],
)
def test_a_bad_serial_fails_its_page_with_one_line(serial: object) -> None:
    body = json.dumps({"meta": {"api-version": "1.1", "_last-serial": serial},
                       "files": []}).encode()
    with pytest.raises(UpstreamError, match=r"_last-serial .* is not a serial: expected 1 to 18"):
        parse_project_json(body, PAGE, DEMO)
    listing = json.dumps({"meta": {"api-version": "1.1"},
                          "projects": [{"name": "demo", "_last-serial": serial}]}).encode()
    assert parse_root_json(listing, PAGE).projects[0].serial is None
