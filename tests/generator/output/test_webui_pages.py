"""The web UI's package, version and home pages (issue #24, items 12-15): bounded package
pages whatever the project's size, a page per version written incrementally, the home
page's facts, and the markup the phone layout relies on."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

from generator.installation import Installation
from generator.output.descriptions import default_pool
from generator.output.packagepages import PackagePages
from generator.output.uistate import UiReport
from generator.records import FileRecord, ProjectState, Repo
from generator.render.ui import (
    FILE_LIMIT,
    PACKAGE_PAGE_BOUND,
    VERSION_FILE_LIMIT,
    VERSION_LIMIT,
    VERSION_PAGE_BOUND,
    UiRenderer,
    version_dir,
    versions_of,
)
from tests.conftest import Dists, FakeClock
from tests.generator.output.test_index import add

BASE = "http://127.0.0.1:8000/"
REPO = Repo(id=1, name="python", type="python", description="", sources=("local",))
# A wheel name as long as real ones get (numpy's are about 90 characters).
_TAGS = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"


def _file(version: str, i: int, *, yanked: bool = False) -> FileRecord:
    filename = f"big_project-{version}-{_TAGS}.{i}.whl"
    return FileRecord(
        filename=filename, version=version, packagetype="bdist_wheel",
        sha256=hashlib.sha256(filename.encode()).hexdigest(), blake2_256="cd" * 32,
        size=12_345_678, requires_python=">=3.9", upload_time="2026-03-01T12:00:00.000000Z",
        metadata_sha256="ef" * 32, has_signature=i % 2 == 0, yanked=yanked,
        yanked_reason="broken" if yanked else "",
    )


def _project(versions: int, per_version: int) -> ProjectState:
    files = tuple(_file(f"{v // 100}.{v % 100}.0", i)
                  for v in range(versions) for i in range(per_version))
    return ProjectState(name=NormalizedName("big-project"), display_name="Big-Project",
                        source="local", serial=1, files=files)


@pytest.mark.parametrize(("versions", "per_version"), [(1, 5000), (50, 100), (5000, 1)],
                         ids=["one version of 5000 files", "50 of 100", "5000 of one"])
def test_a_5000_file_project_has_a_bounded_package_page(versions: int, per_version: int) -> None:
    renderer = UiRenderer()
    project = _project(versions, per_version)
    assert len(project.files) == 5000
    page = renderer.package_html(repo=REPO, project=project, summary="A big one",
                                 description="", base_url=BASE).decode()
    assert len(page.encode()) < PACKAGE_PAGE_BOUND
    rows = page.count('<td class="file-cell">')
    assert rows == min(per_version, FILE_LIMIT)
    assert page.count("<li id=\"v-") == min(versions, VERSION_LIMIT)
    if per_version > FILE_LIMIT:
        assert f"{FILE_LIMIT} of the {per_version} files of" in page
    if versions > VERSION_LIMIT:
        assert f'<a href="versions/">All {versions} versions</a>' in page
    else:
        assert 'href="versions/"' not in page
    # The latest version's page lists its files, up to VERSION_FILE_LIMIT, then links
    # to the index page, which has them all.
    latest = versions_of(project)[0]
    [(directory, html)] = renderer.version_pages(
        repo=REPO, project=project, base_url=BASE, versions=[latest])
    assert directory == latest.version
    assert len(html) < VERSION_PAGE_BOUND
    assert html.decode().count('<td class="file-cell">') == min(per_version, VERSION_FILE_LIMIT)
    if per_version > VERSION_FILE_LIMIT:
        assert (f"{VERSION_FILE_LIMIT} of the {per_version} files shown: the "
                '<a href="../../../latest/simple/big-project/">index page</a>') in html.decode()


def test_the_package_page_leads_with_the_latest_files_and_links_each_version() -> None:
    files = (_file("1.0", 0, yanked=True), _file("2.0", 0), _file("2.0", 1), _file("3.0b1", 0))
    project = ProjectState(name=NormalizedName("big-project"), display_name="Big-Project",
                           source="local", serial=1, files=files)
    page = UiRenderer().package_html(repo=REPO, project=project, summary="",
                                     description="", base_url=BASE).decode()
    table = page[page.index('<table class="files">'):page.index("</table>")]
    assert table.count("<tr") == 3  # the head and the two files of 2.0, not 1.0 or 3.0b1
    assert "SIGNED" in table
    assert "<details><summary>SHA256</summary>" in table
    assert "big_<wbr>project-2.<wbr>0-" in table
    assert re.findall(r'<li id="(v-[^"]+)"><a href="([^"]+)">', page) == [
        ("v-3.0b1", "3.0b1/"), ("v-2.0", "2.0/"), ("v-1.0", "1.0/")]
    assert '<span class="tag">pre-release</span>' in page
    assert '<span class="tag tag-yanked">yanked</span>' in page


def test_a_version_page_shows_its_files_marks_and_pinned_install() -> None:
    project = ProjectState(name=NormalizedName("big-project"), display_name="Big-Project",
                           source="local", serial=1, files=(_file("1.0", 0, yanked=True),))
    [(directory, html)] = UiRenderer().version_pages(
        repo=REPO, project=project, base_url=BASE, versions=versions_of(project))
    page = html.decode()
    assert directory == "1.0"
    assert "Big-Project==1.0" in page
    assert "Yank reason: broken" in page
    assert 'href="../../../../files/' in page
    assert '<a href="../">Big-Project</a>' in page


@pytest.mark.parametrize(("version", "directory"), [
    ("1.0", "1.0"), ("1!2.0+local.7", "1!2.0+local.7"), ("2.0rc1", "2.0rc1"),
    ("..", None), (".hidden", None), ("a/b", None), ("versions", None), ("1.0 x", None),
])
def test_only_safe_versions_get_a_directory(version: str, directory: str | None) -> None:
    assert version_dir(version) == directory


def test_version_pages_are_written_only_when_changed_and_removed_with_their_version(
    tmp_path: Path,
) -> None:
    pages = PackagePages(UiRenderer(), BASE, None, default_pool())
    page_dir = tmp_path / "python" / "project" / "big-project"

    def write(project: ProjectState, is_new: bool) -> UiReport:
        report = UiReport(repo="python", mode="incremental")
        pages.write(REPO, project, "", page_dir, is_new, report)
        return report

    many = _project(VERSION_LIMIT + 1, 1)
    write(many, True)
    assert (page_dir / "0.0.0" / "index.html").is_file()
    assert (page_dir / "versions" / "index.html").is_file()
    assert len([p for p in page_dir.iterdir() if p.is_dir()]) == VERSION_LIMIT + 2
    assert write(many, False).written == []
    fewer = ProjectState(name=many.name, display_name=many.display_name, source="local",
                         serial=2, files=many.files[1:])
    report = write(fewer, False)
    assert sorted(report.deleted) == ["python/project/big-project/0.0.0",
                                      "python/project/big-project/versions"]
    assert report.written == ["python/project/big-project/index.html"]
    assert not (page_dir / "0.0.0").exists()


def test_the_home_page_shows_projects_newest_upload_snapshot_and_sources(
    installation: Installation, dists: Dists, clock: FakeClock
) -> None:
    add(installation, dists.wheel("alpha", "1.0"))
    clock.advance(days=2)
    add(installation, dists.wheel("Beta_Two", "2.0"))
    installation.generate()
    output = installation.config.output_path
    home = (output / "index.html").read_text()
    facts = home[home.index('<dl class="home-facts">'):home.index("</dl>")]
    assert "<dt>Projects</dt><dd>2</dd>" in facts
    assert re.search(r'<dt>Newest upload</dt><dd><a href="python/project/beta-two/">'
                     r"Beta_Two 2.0</a>, <time>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time></dd>", facts)
    assert re.search(r'<dt>Newest snapshot</dt><dd><a href="python/(\d{4}-\d\d-\d\d)/simple/">',
                     facts)
    assert '<span class="source">local</span>' in facts
    # The version pages the generation wrote are there, with the package page's link.
    assert (output / "python/project/beta-two/2.0/index.html").is_file()
    assert 'href="2.0/"' in (output / "python/project/beta-two/index.html").read_text()


def test_the_repository_page_has_one_date_picker_and_options_that_do_not_break(
    installation: Installation, dists: Dists
) -> None:
    add(installation, dists.wheel("alpha", "1.0"))
    installation.generate()
    page = (installation.config.output_path / "python/index.html").read_text()
    assert 'type="date"' not in page
    assert page.count('id="calendar"') == 1
    assert '<span class="nobr">--description WHO</span>' in page
    assert '<td data-label="File" class="filename">alpha-1.<wbr>0-py3-none-any.<wbr>whl</td>' in page
