"""nginx logs no ``[error]`` where a 404 is an answer, not a fault (issue #24, item 11).

A browser asks every site for ``/favicon.ico``; a dated page not on disk is the
sidecar's to render or explain; a web UI page of a project that is not there is simply
not there. The real nginx, with ``timeshelf nginx-conf --standalone`` and a real
sidecar, must answer all of them and keep its error log (stderr) free of ``[error]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generator.resources import site_dir
from tests.servers import (
    Server,
    free_port,
    http_get,
    nginx_conf_for,
    run_nginx,
    run_timeshelf_serve,
)
from tests.sitecases import PIP_ACCEPT, Site, build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("nginx-logs-site"))


@pytest.fixture(scope="module")
def nginx(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_timeshelf_serve(site.config) as sidecar:
        conf = nginx_conf_for(site.config, listen=f"127.0.0.1:{free_port()}",
                              sidecar=sidecar.address)
        with run_nginx(conf, tmp_path_factory.mktemp("nginx-logs")) as server:
            yield server


def test_favicon_is_served(nginx: Server) -> None:
    icon = http_get(nginx.url("/favicon.ico"))
    assert icon.status == 200
    assert icon.header("Content-Type") == "image/x-icon"
    assert icon.body == (site_dir() / "static" / "favicon.ico").read_bytes()
    svg = http_get(nginx.url("/static/favicon.svg"))
    assert (svg.status, svg.header("Content-Type")) == (200, "image/svg+xml")


def test_ui_pages_link_the_favicon(site: Site, nginx: Server) -> None:
    page = http_get(nginx.url("/python/project/demo-pkg/")).body.decode()
    assert '<link rel="icon" href="../../../static/favicon.svg" type="image/svg+xml">' in page


@pytest.mark.parametrize(
    ("path", "status"),
    [("/python/2001-02-03/simple/", 404),
     ("/python/2001-02-03/simple/demo-pkg/", 404),
     ("/python/2999-12-30/simple/index.json", 404),
     ("{on_demand}", 200),
     ("/python/project/no-such-project/", 404),
     ("/no-such-repo/", 404),
     ("/python/latest/simple/no-such-project/", 404)],
    ids=["before-history", "before-history-project", "future-by-name", "on-demand",
         "ui-missing-project", "missing-repo", "latest-missing"],
)
def test_answers_that_are_404s_or_rendered_on_demand(
    nginx: Server, site: Site, path: str, status: int
) -> None:
    assert http_get(nginx.url(site.path(path)), accept=PIP_ACCEPT).status == status


def test_no_error_logged(nginx: Server, site: Site) -> None:
    # Runs after the requests above (the module's order); asks again to be sure.
    for path in ("/favicon.ico", "/python/2001-02-03/simple/", "{on_demand}",
                 "/python/project/no-such-project/"):
        http_get(nginx.url(site.path(path)), accept=PIP_ACCEPT)
    logged = [line for line in nginx.output().splitlines() if "[error]" in line
              or "[crit]" in line or "[alert]" in line or "[emerg]" in line]
    assert logged == []


def test_static_assets_ship_the_favicon() -> None:
    assert {"favicon.ico", "favicon.svg"} <= {p.name for p in (site_dir() / "static").iterdir()}
    assert (site_dir() / "static" / "favicon.ico").read_bytes()[:4] == b"\0\0\1\0"
