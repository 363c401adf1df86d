"""The nginx configuration: rendering, and the real nginx serving a real site.

The live tests run ``timeshelf nginx-conf --standalone`` as a subprocess and start
``/usr/sbin/nginx`` with its output on a free 127.0.0.1 port, with ``timeshelf serve``
as the sidecar; they share their tables with the ``timeshelf serve`` tests.
"""

from __future__ import annotations

import gzip
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.errors import ConfigError
from generator.serving.nginx import render_nginx_conf
from tests.servers import (
    NGINX,
    Server,
    free_port,
    http_get,
    nginx_conf_for,
    request,
    run_nginx,
    run_timeshelf_serve,
)
from tests.sitecases import (
    HEADER_CASES,
    HEADER_IDS,
    NEGOTIATION_CASES,
    NEGOTIATION_IDS,
    PIP_ACCEPT,
    HeaderCase,
    NegotiationCase,
    Site,
    build_site,
    check_header_case,
    negotiation_url,
    served_variant,
)

ROOT = Path("/srv/timeshelf/site")


def render(**changes: object) -> str:
    arguments: dict[str, object] = {
        "root": ROOT, "listen": "127.0.0.1:8080", "sidecar": "127.0.0.1:8000",
        "standalone": False,
    }
    arguments.update(changes)
    return render_nginx_conf(**arguments)  # type: ignore[arg-type]


def without_comments(conf: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in conf.splitlines())


# -- rendering --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"listen": "8080"}, "listen address '8080' is invalid: use HOST:PORT"),
        ({"listen": "127.0.0.1:99999"}, "listen address '127.0.0.1:99999' is invalid"),
        ({"listen": "127.0.0.1:80; evil"}, "listen address"),
        ({"sidecar": "127.0.0.1"}, "sidecar address '127.0.0.1' is invalid"),
        ({"root": Path("relative/site")}, "must be absolute"),
        ({"root": Path("/srv/$host/site")}, "'$'"),
        ({"root": Path('/srv/"quoted"/site')}, "double quotes"),
        ({"max_body_size": 0}, "max body size 0 is invalid"),
    ],
    ids=["no-port", "port-range", "injection", "sidecar-no-port", "relative-root",
         "variable-in-root", "quote-in-root", "zero-body"],
)
def test_render_refuses(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        render(**changes)
    assert message in str(info.value)


def test_server_block_mode_has_no_main_context() -> None:
    conf = without_comments(render())
    assert "server {" in conf
    assert "map $http_accept" in conf
    for directive in ("daemon", "events", "http {", "pid ", "master_process"):
        assert directive not in conf
    assert conf.index("map $http_accept") < conf.index("server {")
    assert "include" not in conf, "must not rely on mime.types or other files"


def test_standalone_is_a_whole_foreground_config() -> None:
    conf = without_comments(render(standalone=True))
    for line in ("daemon off;", "master_process off;", "worker_processes 1;",
                 "pid nginx.pid;", "error_log stderr;", "events {", "http {"):
        assert line in conf
    assert "include" not in conf


@pytest.mark.parametrize(
    ("sidecar", "proxied"),
    [("127.0.0.1:8000", "127.0.0.1:8000"), ("0.0.0.0:9000", "127.0.0.1:9000"),
     ("[::]:9000", "[::1]:9000"), ("[::1]:9000", "[::1]:9000")],
    ids=["loopback", "any-ipv4", "any-ipv6", "ipv6"],
)
def test_sidecar_address(sidecar: str, proxied: str) -> None:
    conf = render(sidecar=sidecar)
    assert f"proxy_pass http://{proxied};" in conf


def test_settings_reach_the_config() -> None:
    conf = render(root=Path("/srv/with space/site"), listen="[::1]:8443", max_body_size=12345)
    assert 'root "/srv/with space/site";' in conf
    assert "listen [::1]:8443;" in conf
    assert "client_max_body_size 12345;" in conf
    assert "proxy_request_buffering off;" in conf


def test_rendering_is_deterministic() -> None:
    assert render(standalone=True) == render(standalone=True)


@pytest.mark.parametrize("standalone", [False, True], ids=["server-block", "standalone"])
def test_nginx_accepts_the_config(tmp_path: Path, standalone: bool) -> None:
    site = tmp_path / "site"
    site.mkdir()
    conf = render(root=site, listen=f"127.0.0.1:{free_port()}", standalone=standalone)
    if standalone:
        main = tmp_path / "nginx.conf"
        main.write_text(conf)
    else:
        # As Debian includes conf.d/*.conf: inside http {}.
        (tmp_path / "timeshelf.conf").write_text(conf)
        main = tmp_path / "nginx.conf"
        main.write_text(
            "pid nginx.pid;\nevents {}\nhttp {\n    include timeshelf.conf;\n}\n"
        )
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(main), "-e", "stderr"],
        capture_output=True, text=True, timeout=60,
    )
    assert checked.returncode == 0, checked.stderr


def test_cli_prints_the_rendered_config(site: Site) -> None:
    conf = nginx_conf_for(site.config, listen="127.0.0.1:18080", sidecar="127.0.0.1:18000")
    assert conf == render_nginx_conf(
        root=site.output.resolve(), listen="127.0.0.1:18080", sidecar="127.0.0.1:18000",
        standalone=True,
    )


# -- the real nginx ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("nginx-site"))


@pytest.fixture(scope="module")
def sidecar(site: Site) -> Iterator[Server]:
    with run_timeshelf_serve(site.config) as server:
        yield server


@pytest.fixture(scope="module")
def nginx(
    site: Site, sidecar: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    conf = nginx_conf_for(site.config, listen=f"127.0.0.1:{free_port()}",
                          sidecar=sidecar.address)
    with run_nginx(conf, tmp_path_factory.mktemp("nginx-prefix")) as server:
        yield server


@pytest.fixture(scope="module")
def nginx_alone(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """nginx whose sidecar is down (nothing listens on its port)."""
    conf = nginx_conf_for(site.config, listen=f"127.0.0.1:{free_port()}",
                          sidecar=f"127.0.0.1:{free_port()}")
    with run_nginx(conf, tmp_path_factory.mktemp("nginx-alone")) as server:
        yield server


@pytest.mark.parametrize("case", NEGOTIATION_CASES, ids=NEGOTIATION_IDS)
def test_nginx_negotiation_matrix(nginx: Server, site: Site, case: NegotiationCase) -> None:
    reply = http_get(negotiation_url(nginx.base_url, site, case), accept=case.accept)
    assert served_variant(reply, site) == case.expected


@pytest.mark.parametrize("case", HEADER_CASES, ids=HEADER_IDS)
def test_nginx_headers(nginx: Server, site: Site, case: HeaderCase) -> None:
    check_header_case(nginx.base_url, site, case)


@pytest.mark.parametrize(
    ("path", "accept"),
    [("{project}", PIP_ACCEPT), ("{project}", "text/html"), ("{wheel}", None),
     ("{metadata}", None)],
    ids=["project-json", "project-html", "wheel", "metadata"],
)
@pytest.mark.parametrize("validator", ["ETag", "Last-Modified"])
def test_nginx_conditional_get(
    nginx: Server, site: Site, path: str, accept: str | None, validator: str
) -> None:
    url = nginx.url(site.path(path))
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


def test_nginx_compresses_pages_only(nginx: Server, site: Site) -> None:
    page = http_get(nginx.url(site.paths["project"]), accept=PIP_ACCEPT,
                    Accept_Encoding="gzip")
    assert page.header("Content-Type") == "application/vnd.pypi.simple.v1+json"
    if len(site.files["project.json"]) >= 256:
        assert page.header("Content-Encoding") == "gzip"
    for key in ("sdist", "wheel", "metadata", "asc"):
        reply = http_get(nginx.url(site.paths[key]), Accept_Encoding="gzip")
        assert reply.header("Content-Encoding") is None, key
        assert reply.body == site.files[key]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/__api__/status"), ("POST", "/upload/pypi/local/"),
     ("POST", "/upload/pypi/local"), ("GET", "/_/anything")],
    ids=["api", "upload", "upload-no-slash", "sidecar-pages"],
)
def test_nginx_passes_sidecar_paths(nginx: Server, method: str, path: str) -> None:
    # 2 MiB: over nginx's default client_max_body_size, under ours.
    body = b"x" * (2 * 1024 * 1024) if method == "POST" else None
    reply = request(nginx.url(path), method=method, body=body,
                    headers={"Content-Type": "application/octet-stream"} if body else {})
    assert reply.status not in (413, 502, 504), reply.status
    assert b"nginx" not in reply.body, "answered by nginx, not by the sidecar"


@pytest.mark.parametrize(
    ("path", "explanation"),
    [("/python/2001-02-03/simple/", b"begins on"),
     ("/python/2999-12-30/simple/", b"not over"),
     ("/python/2026-02-30/simple/demo-pkg/", b"invalid date '2026-02-30'"),
     ("/python/2026-3-1/simple/", b"invalid date '2026-3-1': use YYYY-MM-DD"),
     ("/files/00/00/0000/nothing.whl", b"404")],
    ids=["before-history", "future-day", "impossible-date", "malformed-date", "missing-file"],
)
def test_nginx_passes_misses_to_the_sidecar(
    nginx: Server, site: Site, path: str, explanation: bytes
) -> None:
    reply = http_get(nginx.url(site.path(path)), accept=PIP_ACCEPT)
    assert reply.status == 404
    assert explanation in reply.body
    assert b"nginx" not in reply.body, "answered by nginx, not by the sidecar"


@pytest.mark.parametrize(
    "path",
    ["/python/latest/simple/no-such-project/", "{on_demand}", "/python/2001-02-03/simple/",
     "/files/00/00/0000/nothing.whl"],
    ids=["latest-project", "on-demand-day", "dated-root", "file"],
)
def test_nginx_without_sidecar_misses_are_quick_404s(
    nginx_alone: Server, site: Site, path: str
) -> None:
    started = time.monotonic()
    missing = http_get(nginx_alone.url(site.path(path)), accept=PIP_ACCEPT)
    assert missing.status == 404
    assert time.monotonic() - started < 2


def test_nginx_without_sidecar_serves_pages(nginx_alone: Server, site: Site) -> None:
    assert http_get(nginx_alone.url(site.paths["project"]), accept=PIP_ACCEPT).status == 200
    past = http_get(nginx_alone.url(site.paths["past"]), accept=PIP_ACCEPT)
    assert (past.status, past.body) == (200, site.files["project.json"])
    assert request(nginx_alone.url(site.paths["wheel"])).status == 200
    upload = request(nginx_alone.url("/upload/pypi/local/"), method="POST", body=b"x")
    assert upload.status == 502


def test_nginx_never_logs_an_error_for_the_matrix(nginx: Server) -> None:
    # Runs after the matrix in this module: a map or regex mistake shows up here.
    errors = [line for line in nginx.output().splitlines()
              if "[emerg]" in line or "[alert]" in line or "[crit]" in line]
    assert not errors, errors


def test_nginx_sends_a_frozen_page_as_stored_to_gzip_clients(
    nginx_alone: Server, site: Site
) -> None:
    # gzip_static: the stored .gz itself, not decompressed and compressed again.
    stored = site.output / site.paths["past"].lstrip("/") / "index.json.gz"
    reply = http_get(nginx_alone.url(site.paths["past"]), accept=PIP_ACCEPT,
                     Accept_Encoding="gzip")
    assert reply.status == 200
    assert reply.header("Content-Encoding") == "gzip"
    assert reply.body == stored.read_bytes()
    assert gzip.decompress(reply.body) == site.files["project.json"]
