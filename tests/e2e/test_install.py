"""The foundation end to end: real pip and uv install from the generated site behind nginx.

Every test adds projects of its own to the module's installation (``timeshelf add``
regenerates the index), then installs into a fresh ``--target`` with the real client
and checks what got installed, and where useful what nginx logged.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import (
    CLIENTS,
    Clients,
    Site,
    build_buildable_sdist,
    installed,
)
from tests.factory import WheelSpec, build_wheel
from tests.servers import http_get

pytestmark = pytest.mark.e2e

# pip's Accept header (pypa/pip src/pip/_internal/index/collector.py), uv's is alike.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def wheel(dists: Path, name: str, version: str, *, requires_python: str | None = None,
          requires_dist: tuple[str, ...] = ()) -> Path:
    spec = WheelSpec(name=name, version=version, requires_python=requires_python,
                     requires_dist=requires_dist)
    return build_wheel(dists, spec)


def file_path(dist: Path) -> str:
    """The URL path a file is served at (DESIGN.md: content-addressed below /files/)."""
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    return f"/files/{digest[:2]}/{digest[2:4]}/{digest}/{dist.name}"


def project_json(site: Site, project: str) -> dict[str, object]:
    response = http_get(f"{site.index_url}{project}/", accept=JSON_TYPE)
    assert response.status == 200, response
    document: dict[str, object] = json.loads(response.body)
    return document


def parse_upload_time(value: object) -> datetime:
    """A PEP 700 ``upload-time`` (``yyyy-mm-ddThh:mm:ss[.ffffff]Z``) as an aware datetime."""
    assert isinstance(value, str)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", value), value
    return datetime.fromisoformat(value)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def filenames(document: dict[str, object]) -> set[str]:
    files = document["files"]
    assert isinstance(files, list)
    return {f["filename"] for f in files}


# -- scenario 1: wheels, sdists, dependencies ---------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_wheel_only_project_installs(
    site: Site, clients: Clients, dists: Path, client: str
) -> None:
    name = f"wheel-only-{client}"
    site.add(wheel(dists, name, "1.0"), wheel(dists, name, "1.1"))

    target, _ = clients.install(client, name)

    assert installed(target) == {name: "1.1"}
    module = name.replace("-", "_")
    assert (target / module / "__init__.py").read_text() == "__version__ = '1.1'\n"


@pytest.mark.parametrize("client", CLIENTS)
def test_sdist_only_project_builds_and_installs(
    site: Site, clients: Clients, dists: Path, client: str
) -> None:
    name = f"sdist-only-{client}"
    site.add(build_buildable_sdist(dists, name, "2.0"))

    target, _ = clients.install(client, name)

    assert installed(target) == {name: "2.0"}


def test_sdist_downloads_with_verified_hash(site: Site, clients: Clients, dists: Path) -> None:
    sdist = build_buildable_sdist(dists, "sdist-download", "1.0")
    site.add(sdist)
    download = clients.fresh_dir("download")
    mark = site.log_mark()

    clients.pip(
        "download", "--no-deps", "--no-binary", ":all:", "--index-url", site.index_url,
        "--dest", download, "sdist-download",
    )

    assert (download / sdist.name).read_bytes() == sdist.read_bytes()
    assert ("GET", file_path(sdist), 200) in site.requests_since(mark)


@pytest.mark.parametrize("client", CLIENTS)
def test_dependency_on_another_of_our_projects_installs(
    site: Site, clients: Clients, dists: Path, client: str
) -> None:
    app, lib = f"app-{client}", f"lib-{client}"
    site.add(
        wheel(dists, lib, "1.0"), wheel(dists, lib, "2.0"),
        wheel(dists, app, "1.0", requires_dist=(f"{lib}<2",)),
    )

    target, _ = clients.install(client, app)

    assert installed(target) == {app: "1.0", lib: "1.0"}


# -- scenario 2: yanked versions (PEP 592) --------------------------------------------------


# Over HTTP nginx hands pip and uv the PEP 691 JSON page; from a file: index they read
# the HTML page, so both renderings of yanked and Requires-Python are installed from.
CLIENT_FORMATS = [
    pytest.param(client, page, id=f"{client}-{page}") for client in CLIENTS for page in ("json", "html")
]


def index_for(site: Site, page: str) -> str:
    return site.index_url if page == "json" else site.file_index_url


@pytest.mark.parametrize(("client", "page"), CLIENT_FORMATS)
def test_yanked_version_is_chosen_only_when_pinned(
    site: Site, clients: Clients, dists: Path, client: str, page: str
) -> None:
    name = f"yanked-{client}-{page}"
    site.add(wheel(dists, name, "1.0"), wheel(dists, name, "2.0"), wheel(dists, name, "3.0"))
    site.timeshelf("yank", name, "2.0", "--reason", "broken")
    site.timeshelf("yank", name, "3.0")
    index = index_for(site, page)

    target, _ = clients.install(client, name, index_url=index)
    assert installed(target) == {name: "1.0"}

    pinned, done = clients.install(client, f"{name}==2.0", index_url=index)
    assert installed(pinned) == {name: "2.0"}
    assert "broken" in done.stdout + done.stderr


# -- scenario 3: Requires-Python ------------------------------------------------------------


@pytest.mark.parametrize(("client", "page"), CLIENT_FORMATS)
def test_requires_python_excluded_version_is_skipped(
    site: Site, clients: Clients, dists: Path, client: str, page: str
) -> None:
    name = f"future-python-{client}-{page}"
    site.add(
        wheel(dists, name, "1.0", requires_python=">=3.8"),
        wheel(dists, name, "2.0", requires_python=">=99"),
        wheel(dists, name, "3.0", requires_python="<100,>=99"),
    )

    target, _ = clients.install(client, name, index_url=index_for(site, page))

    assert installed(target) == {name: "1.0"}


# -- scenario 4: source priority by project name --------------------------------------------


def test_project_in_two_sources_is_served_only_from_the_first(
    site: Site, clients: Clients, dists: Path
) -> None:
    site.timeshelf("create", "source", "--name", "second", "--type", "local-python")
    site.timeshelf("subscribe", "--repo", "python", "--source", "second")
    mine, theirs = wheel(dists / "local", "shared", "1.0"), wheel(dists / "second", "shared", "9.0")
    site.add(theirs, source="second")
    site.add(mine, source="local")

    assert filenames(project_json(site, "shared")) == {mine.name}
    html = http_get(f"{site.index_url}shared/", accept="text/html").body.decode()
    assert mine.name in html
    assert theirs.name not in html
    target, _ = clients.install("pip", "shared")
    assert installed(target) == {"shared": "1.0"}
    uv_target, _ = clients.install("uv", "shared")
    assert installed(uv_target) == {"shared": "1.0"}

    site.timeshelf("reorder", "--repo", "python", "--sources", "second,local")
    try:
        assert filenames(project_json(site, "shared")) == {theirs.name}
        flipped, _ = clients.install("pip", "shared")
        assert installed(flipped) == {"shared": "9.0"}
    finally:
        site.timeshelf("reorder", "--repo", "python", "--sources", "local,second")
    assert filenames(project_json(site, "shared")) == {mine.name}


# -- scenario 5: PEP 658 core metadata ------------------------------------------------------


def test_pip_reads_core_metadata_before_the_wheel(
    site: Site, clients: Clients, dists: Path
) -> None:
    dist = wheel(dists, "metadata-first", "1.0")
    site.add(dist)
    url_path = file_path(dist)

    mark = site.log_mark()
    clients.pip("install", "--dry-run", "--index-url", site.index_url, "metadata-first")
    resolved = [(method, path) for method, path, _ in site.requests_since(mark)]
    assert ("GET", url_path + ".metadata") in resolved
    assert ("GET", url_path) not in resolved, "pip downloaded the wheel only to resolve"

    mark = site.log_mark()
    target, _ = clients.install("pip", "metadata-first")
    assert installed(target) == {"metadata-first": "1.0"}
    requests = [(method, path, status) for method, path, status in site.requests_since(mark)]
    metadata_at = requests.index(("GET", url_path + ".metadata", 200))
    wheel_at = requests.index(("GET", url_path, 200))
    assert metadata_at < wheel_at


# -- scenario 6: regeneration is a no-op ----------------------------------------------------


def test_regenerating_rewrites_nothing(site: Site, clients: Clients, dists: Path) -> None:
    site.add(wheel(dists, "steady", "1.0"))

    def snapshot() -> dict[str, tuple[int, int]]:
        """Inode and mtime of every file of the site (pages, snapshots, files)."""
        return {
            str(p.relative_to(site.output)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(site.output.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }

    before = snapshot()
    assert "python/latest/simple/steady/index.json" in before
    incremental = site.timeshelf("generate")
    assert "python: up to date" in incremental.stderr
    full = site.timeshelf("generate", "--full")
    assert "0 page(s) written" in full.stderr, full.stderr
    assert snapshot() == before

    target, _ = clients.install("pip", "steady")
    assert installed(target) == {"steady": "1.0"}


# -- scenario 7: PEP 691 JSON and upload times ----------------------------------------------


def test_installers_get_json_by_content_negotiation(
    site: Site, clients: Clients, dists: Path
) -> None:
    site.add(wheel(dists, "negotiated", "1.0"))
    page = f"{site.index_url}negotiated/"

    as_json = http_get(page, accept=PIP_ACCEPT)
    assert as_json.status == 200
    assert (as_json.header("Content-Type") or "").startswith(JSON_TYPE)
    assert json.loads(as_json.body)["name"] == "negotiated"
    as_html = http_get(page)
    assert as_html.status == 200
    assert (as_html.header("Content-Type") or "").startswith("text/html")

    target, done = clients.install("pip", "negotiated", options=["-vv"])
    assert installed(target) == {"negotiated": "1.0"}
    assert f"Fetched page {page} as {JSON_TYPE}" in done.stdout


@pytest.mark.parametrize(
    ("client", "option"), [("pip", "--uploaded-prior-to"), ("uv", "--exclude-newer")],
    ids=CLIENTS,
)
def test_upload_time_cutoff_uses_json_upload_times(
    site: Site, clients: Clients, dists: Path, client: str, option: str
) -> None:
    name = f"timed-{client}"
    site.add(wheel(dists, name, "1.0"))
    site.add(wheel(dists, name, "2.0"))
    files = project_json(site, name)["files"]
    assert isinstance(files, list)
    uploaded = {f["filename"]: parse_upload_time(f["upload-time"]) for f in files}
    first, second = uploaded[f"{name.replace('-', '_')}-1.0-py3-none-any.whl"], max(uploaded.values())
    assert first < second

    # The clock is real (a backdated TIMESHELF_NOW would rewrite finished days).
    between = first + (second - first) / 2
    older, _ = clients.install(client, name, options=[option, format_time(between)])
    assert installed(older) == {name: "1.0"}

    future = second + timedelta(days=365)
    newest, _ = clients.install(client, name, options=[option, format_time(future)])
    assert installed(newest) == {name: "2.0"}


# -- scenario 8: redirects ------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_relative_links_survive_the_trailing_slash_redirect(
    site: Site, clients: Clients, dists: Path, client: str
) -> None:
    name = f"redirected-{client}"
    dist = wheel(dists, name, "1.0")
    site.add(dist)
    no_slash = f"{site.index_url}{name}"

    response = http_get(no_slash)
    assert response.status == 301
    assert response.header("Location") in (f"{no_slash}/", f"{urlsplit(no_slash).path}/")

    # A find-links page is fetched at exactly the URL given: the redirect is followed and
    # its relative links resolve against the final URL, as for an index page.
    target, _ = clients.install(
        client, name, index_url="", options=["--find-links", no_slash],
    )
    assert installed(target) == {name: "1.0"}
