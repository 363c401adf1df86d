"""The static site under ``timeshelf serve``: the same tables as nginx, plus the pure rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Blueprint, Flask

from generator.installation import Installation
from tests.servers import Server, http_get, request, run_timeshelf_serve
from tests.sitecases import (
    HEADER_CASES,
    HEADER_IDS,
    IMMUTABLE,
    NEGOTIATION_CASES,
    NEGOTIATION_IDS,
    PIP_ACCEPT,
    SHORT,
    HeaderCase,
    NegotiationCase,
    Site,
    build_site,
    check_header_case,
    negotiation_url,
    served_variant,
)
from uploader.app import create_app
from uploader.serving.static_site import cache_control_for, content_type_for, is_hidden

# -- pure rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("python/latest/simple/index.html", "text/html; charset=utf-8"),
        ("python/latest/simple/demo/index.json", "application/vnd.pypi.simple.v1+json"),
        ("python/2026-03-01/simple/demo/index.json", "application/vnd.pypi.simple.v1+json"),
        ("python/snapshots.json", "application/json"),
        ("python/index.html", "text/html; charset=utf-8"),
        ("files/ab/cd/abcd/demo-1.0-py3-none-any.whl", "application/octet-stream"),
        ("files/ab/cd/abcd/demo-1.0.tar.gz", "application/octet-stream"),
        ("files/ab/cd/abcd/demo-1.0-py3-none-any.whl.metadata", "text/plain; charset=utf-8"),
        ("files/ab/cd/abcd/demo-1.0.tar.gz.asc", "application/pgp-signature"),
        ("files/ab/cd/abcd/odd.json", "application/octet-stream"),
        ("static/site.css", "text/css"),
        ("static/app.JS", "application/javascript; charset=utf-8"),
        ("README", "application/octet-stream"),
    ],
    ids=["root-page", "project-json", "dated-json", "snapshots", "ui-page", "wheel", "sdist",
         "metadata", "signature", "json-under-files", "css", "js-uppercase", "no-extension"],
)
def test_content_type_for(path: str, content_type: str) -> None:
    assert content_type_for(path) == content_type


TODAY = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("python/latest/simple/", SHORT),
        ("python/latest/simple/demo/index.json", SHORT),
        ("python/2026-02-28/simple/demo/", IMMUTABLE),
        ("python/2025-12-31/simple/index.html", IMMUTABLE),
        ("python/2026-03-01/simple/demo/", SHORT),
        ("python/2026-03-02/simple/", SHORT),
        ("files/ab/cd/abcd/demo-1.0.tar.gz", IMMUTABLE),
        ("python/snapshots.json", SHORT),
        ("", SHORT),
    ],
    ids=["latest-root", "latest-project", "yesterday", "last-year", "today", "tomorrow",
         "file", "snapshots", "home"],
)
def test_cache_control_for(path: str, cache_control: str) -> None:
    assert cache_control_for(path, TODAY) == cache_control


@pytest.mark.parametrize(
    ("path", "hidden"),
    [(".generate.lock", True), ("python/latest/simple/demo/.index.html.x.tmp", True),
     ("python/..", True), ("python/latest/simple/demo/", False), ("files/a.b/c", False)],
    ids=["lock", "tmp", "dotdot", "page", "dot-inside-name"],
)
def test_is_hidden(path: str, hidden: bool) -> None:
    assert is_hidden(path) is hidden


# -- timeshelf serve --------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("serve-site"))


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[Server]:
    with run_timeshelf_serve(site.config) as server:
        yield server


@pytest.mark.parametrize("case", NEGOTIATION_CASES, ids=NEGOTIATION_IDS)
def test_serve_negotiation_matrix(served: Server, site: Site, case: NegotiationCase) -> None:
    reply = http_get(negotiation_url(served.base_url, site, case), accept=case.accept)
    assert served_variant(reply, site) == case.expected


@pytest.mark.parametrize("case", HEADER_CASES, ids=HEADER_IDS)
def test_serve_headers(served: Server, site: Site, case: HeaderCase) -> None:
    check_header_case(served.base_url, site, case)


@pytest.mark.parametrize(
    ("path", "accept"),
    [("{project}", PIP_ACCEPT), ("{project}", "text/html"), ("{wheel}", None),
     ("{metadata}", None)],
    ids=["project-json", "project-html", "wheel", "metadata"],
)
@pytest.mark.parametrize("validator", ["ETag", "Last-Modified"])
def test_serve_conditional_get(
    served: Server, site: Site, path: str, accept: str | None, validator: str
) -> None:
    url = served.url(site.path(path))
    first = http_get(url, accept=accept)
    assert first.status == 200
    value = first.header(validator)
    assert value
    condition = "If-None-Match" if validator == "ETag" else "If-Modified-Since"
    headers = {condition: value, **({"Accept": accept} if accept else {})}
    again = request(url, headers=headers)
    assert again.status == 304, again.headers
    assert again.body == b""
    assert again.header("Cache-Control") == first.header("Cache-Control")


@pytest.mark.parametrize(
    "path",
    ["/../timeshelf.toml", "/%2e%2e/timeshelf.toml", "/python/..%2f..%2ftimeshelf.toml",
     "/files/../../secret.key", "//etc/passwd"],
    ids=["dotdot", "encoded-dotdot", "encoded-slash", "files-dotdot", "absolute"],
)
def test_serve_refuses_traversal(served: Server, path: str) -> None:
    reply = request(served.url(path))
    assert reply.status in (400, 404)
    assert b"[server]" not in reply.body
    assert b"root:" not in reply.body


def test_serve_has_no_options_or_post_on_pages(served: Server, site: Site) -> None:
    assert request(served.url(site.paths["project"]), method="OPTIONS").status == 405
    assert request(served.url(site.paths["project"]), method="POST", body=b"").status == 405


# -- routing ----------------------------------------------------------------------------


def test_catch_all_leaves_other_routes_alone(site: Site) -> None:
    inst = Installation.from_config_file(site.config)
    try:
        app: Flask = create_app(inst)
        other = Blueprint("other", __name__)

        @other.route("/probe/<name>/", methods=["POST"])
        def probe_post(name: str) -> str:
            return f"posted {name}"

        @other.route("/probe-api/status")
        def probe_get() -> str:
            return "status"

        app.register_blueprint(other)
        client = app.test_client()
        assert client.post("/probe/x/").get_data(as_text=True) == "posted x"
        assert client.get("/probe-api/status").get_data(as_text=True) == "status"
        # The real upload route is not taken by the site's GET-only catch-all either.
        assert client.post("/upload/pypi/local/").status_code != 405
        page = client.get(site.paths["project"], headers={"Accept": PIP_ACCEPT})
        assert page.status_code == 200
        assert page.headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
        page.close()
    finally:
        inst.close()


def test_site_can_be_left_out(site: Site) -> None:
    inst = Installation.from_config_file(site.config)
    try:
        client = create_app(inst, serve_site=False).test_client()
        assert client.get(site.paths["project"]).status_code == 404
    finally:
        inst.close()
