"""The web UI's vulnerability sections (``generator.render.uiadvisories`` through
``UiRenderer``): what they show, escaped, and nothing at all without advisories."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from packaging.utils import NormalizedName

from generator.records import Advisory, FileRecord, ProjectState, Repo
from generator.render.ui import UiRenderer, versions_of
from generator.render.uiadvisories import AdvisoryView

REPO = Repo(id=1, name="python", type="python", description="", sources=("local",))
BASE = "http://127.0.0.1:8000/"


def _file(version: str) -> FileRecord:
    return FileRecord(
        filename=f"demo-{version}.tar.gz", version=version, packagetype="sdist",
        sha256="ab" * 32, blake2_256="cd" * 32, size=10, requires_python=None,
        upload_time="2026-03-01T12:00:00.000000Z", metadata_sha256=None,
        has_signature=False, yanked=False, yanked_reason="",
    )


PROJECT = ProjectState(name=NormalizedName("demo"), display_name="Demo", source="local",
                       serial=1, files=tuple(_file(v) for v in ("1.0", "1.1", "2.0")))


def _view(id: str = "GHSA-x", **fields: object) -> AdvisoryView:
    values: dict[str, object] = {"id": id, "aliases": ("CVE-2026-1",), "summary": "bad",
                                 "severity": "HIGH", "vectors": "CVSS:3.1/AV:N",
                                 "fixed_in": ("3.0",)}
    return AdvisoryView(**{**values, **fields})  # type: ignore[arg-type]


def _pages(advisories: dict[str, tuple[AdvisoryView, ...]] | None) -> list[bytes]:
    renderer = UiRenderer()
    versions = versions_of(PROJECT)
    package = renderer.package_html(repo=REPO, project=PROJECT, summary="s", description="",
                                    base_url=BASE, versions=versions, advisories=advisories)
    return [package, *(html for _d, html in renderer.version_pages(
        repo=REPO, project=PROJECT, base_url=BASE, versions=versions, advisories=advisories))]


def test_without_advisories_the_pages_are_as_before() -> None:
    assert _pages(None) == _pages({})
    assert all(b"vulnerab" not in page for page in _pages(None))


def test_the_package_and_version_pages_list_each_versions_advisories() -> None:
    old, new = _view("PYSEC-1", fixed_in=("1.1",), severity=""), _view("GHSA-x")
    package, v20, v11, v10 = (p.decode() for p in _pages(
        {"2.0": (new,), "1.1": (new,), "1.0": (old,)}))
    assert "The latest version, 2.0, is affected by 1 of them: GHSA-x." in package
    assert "(2 advisories)" in package
    assert '<td data-label="Versions here">2.0, 1.1</td>' in package
    assert '<td data-label="Versions here">1.0</td>' in package
    assert package.index("GHSA-x</span>") < package.index("PYSEC-1</span>")  # by id
    assert '<a href="#vulnerabilities">Vulnerabilities</a>' in package
    assert package.count('class="tag tag-vulnerable"') == 3
    assert '<span title="CVSS:3.1/AV:N">HIGH</span>' in package
    assert "PYSEC-1" in v10
    assert "GHSA-x" not in v10
    assert "GHSA-x" in v20
    assert "GHSA-x" in v11
    assert "1.0 is affected by 1 known advisory." in v10


def test_a_latest_version_no_advisory_affects_is_said_so() -> None:
    (package, *_rest) = _pages({"1.0": (_view(),)})
    assert b"The latest version, 2.0, is affected by none of them." in package


def test_a_long_list_of_versions_is_cut() -> None:
    files = tuple(_file(f"1.{n}") for n in range(15))
    project = ProjectState(name=NormalizedName("demo"), display_name="Demo", source="local",
                           serial=1, files=files)
    page = UiRenderer().package_html(
        repo=REPO, project=project, summary="", description="", base_url=BASE,
        advisories={f.version: (_view(),) for f in files},
    ).decode()
    assert "1.14, 1.13, 1.12, 1.11, 1.10, 1.9, 1.8, 1.7, 1.6, 1.5 and 5 more" in page


_hostile = st.text(alphabet="a<>&'\"/ ", min_size=1, max_size=10)


@settings(max_examples=100, deadline=None)
@given(id=_hostile, alias=_hostile, summary=_hostile, severity=_hostile, fixed=_hostile)
def test_every_advisory_value_is_escaped(id: str, alias: str, summary: str, severity: str,
                                         fixed: str) -> None:
    view = _view(id, aliases=(alias,), summary=summary, severity=severity, vectors=severity,
                 fixed_in=(fixed,))
    page = _pages({"2.0": (view,)})[0].decode()
    for value in (id, alias, summary, severity, fixed):
        assert str(escape(value)) in page
    assert "<a<" not in page


def test_an_advisory_view_prefers_the_databases_rating() -> None:
    advisory = Advisory(id="GHSA-x", modified="m", severity=(("CVSS_V3", "CVSS:3.1/AV:N"),))
    assert AdvisoryView.of(advisory, ()).severity == "CVSS_V3"
    rated = Advisory(id="GHSA-x", modified="m", level="MODERATE",
                     severity=(("CVSS_V3", "CVSS:3.1/AV:N"),))
    assert AdvisoryView.of(rated, ("1.0",)).severity == "MODERATE"
    assert AdvisoryView.of(rated, ("1.0",)).vectors == "CVSS:3.1/AV:N"


def test_the_repository_page_counts_affected_latest_versions() -> None:
    renderer = UiRenderer()

    def page(vulnerable: tuple[str, ...] | None) -> str:
        return renderer.repo_html(repo=REPO, sources=(), base_url=BASE, projects=3, shards="d",
                                  rows=None, activity=(), vulnerable=vulnerable).decode()

    assert "known vulnerability" not in page(None)
    assert "0 projects with a known vulnerability in their latest version" in page(())
    two = page(("demo", "other"))
    assert "2 projects with a known vulnerability in their latest version" in two
    assert '<a href="project/demo/#vulnerabilities">demo</a>' in two
