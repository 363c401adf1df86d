"""One table of serving cases, checked against nginx, ``timeshelf serve`` and the pure code.

``NEGOTIATION_CASES`` pins the PEP 691 choice for ``Accept``/``?format=`` inputs;
``HEADER_CASES`` the status and headers of each kind of URL. ``build_site`` makes a
real installation with a wheel (with ``.metadata``), an sdist (with ``.asc``), two
dated snapshot copies stored as frozen days are (compressed; one long over, one in the
future), one stored as days were before that, and hidden files that must never be
served. ``check_header_case`` runs one case against a server.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote_plus

from generator.serving.negotiate import Variant
from generator.snapshots.frozen import compress_page
from tests.factory import SIGNATURE, WheelSpec, build_sdist, build_wheel
from tests.servers import Reply, make_installation, request

PROJECT = "demo-pkg"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UV_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
POETRY_ACCEPT = "application/vnd.pypi.simple.v1+json, */*;q=0.1"
FIREFOX_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROME_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html; charset=utf-8"
SHORT = "max-age=60"
IMMUTABLE = "public, max-age=31536000, immutable"
PAST_DAY = "2000-01-01"
# A day written before frozen pages were stored compressed: its index.html is on disk.
LEGACY_DAY = "2000-01-02"
FUTURE_DAY = "2999-12-31"


@dataclass(frozen=True, slots=True)
class NegotiationCase:
    """``accept`` (``None``: no header) and the raw, still URL-encoded ``format`` query."""

    id: str
    accept: str | None
    expected: Variant | None
    format_query: str | None = None

    @property
    def format_value(self) -> str | None:
        """The ``?format=`` value as a WSGI framework decodes it."""
        return None if self.format_query is None else unquote_plus(self.format_query)


NEGOTIATION_CASES: tuple[NegotiationCase, ...] = (
    NegotiationCase("no-header", None, "html"),
    NegotiationCase("empty-header", "", "html"),
    NegotiationCase("pip", PIP_ACCEPT, "json"),
    NegotiationCase("uv", UV_ACCEPT, "json"),
    NegotiationCase("poetry", POETRY_ACCEPT, "json"),
    NegotiationCase("firefox", FIREFOX_ACCEPT, "html"),
    NegotiationCase("chrome", CHROME_ACCEPT, "html"),
    NegotiationCase("curl-any", "*/*", "html"),
    NegotiationCase("json-only", "application/vnd.pypi.simple.v1+json", "json"),
    NegotiationCase("latest-json", "application/vnd.pypi.simple.latest+json", "json"),
    NegotiationCase("latest-html", "application/vnd.pypi.simple.latest+html", "html"),
    NegotiationCase("v1-html", "application/vnd.pypi.simple.v1+html", "html"),
    NegotiationCase("text-html", "text/html", "html"),
    NegotiationCase("text-any", "text/*", "html"),
    NegotiationCase("application-any-tie", "application/*", "html"),
    NegotiationCase("application-json-406", "application/json", None),
    NegotiationCase("image-406", "image/png", None),
    NegotiationCase("garbage-406", "garbage", None),
    NegotiationCase("html-q0-406", "text/html;q=0", None),
    NegotiationCase("any-q0-406", "*/*;q=0", None),
    NegotiationCase("json-q0-beats-any", "application/vnd.pypi.simple.v1+json;q=0, */*", "html"),
    NegotiationCase(
        "html-q0-json-low", "text/html;q=0, application/vnd.pypi.simple.v1+json;q=0.1", "json"
    ),
    NegotiationCase(
        "tie-html", "application/vnd.pypi.simple.v1+json;q=0.5, text/html;q=0.5", "html"
    ),
    NegotiationCase(
        "json-by-a-thousandth",
        "application/vnd.pypi.simple.v1+json;q=0.501, text/html;q=0.5", "json",
    ),
    NegotiationCase(
        "bad-q-is-0", "application/vnd.pypi.simple.v1+json;q=abc, text/html;q=0.1", "html"
    ),
    NegotiationCase(
        "q-over-1-is-0", "application/vnd.pypi.simple.v1+json;q=2, text/html;q=0.5", "html"
    ),
    NegotiationCase("case-insensitive", "Application/VND.PyPI.Simple.V1+JSON; Q=1", "json"),
    NegotiationCase(
        "params-before-q",
        "application/vnd.pypi.simple.v1+json;charset=utf-8;q=0.9, text/html;q=0.8", "json",
    ),
    NegotiationCase(
        "spaces", "application/vnd.pypi.simple.v1+json ; q=0.3 , text/html ; q = 0.2", "json"
    ),
    NegotiationCase(
        "first-duplicate-counts",
        "text/html;q=0.1, text/html;q=0.9, application/vnd.pypi.simple.v1+json;q=0.5", "json",
    ),
    NegotiationCase(
        "best-html-offer",
        "text/html;q=0.1, application/vnd.pypi.simple.v1+html;q=0.9, "
        "application/vnd.pypi.simple.v1+json;q=0.5", "html",
    ),
    NegotiationCase(
        "best-json-alias",
        "application/vnd.pypi.simple.latest+json;q=0.9, "
        "application/vnd.pypi.simple.v1+json;q=0.1, text/html;q=0.5", "json",
    ),
    NegotiationCase(
        "specific-beats-wildcard",
        "*/*;q=0.9, text/*;q=0.1, application/*;q=0.1, "
        "application/vnd.pypi.simple.v1+json;q=0.5", "json",
    ),
    NegotiationCase("any-offers-vnd-html",
                    "*/*;q=0.9, text/*;q=0.1, application/vnd.pypi.simple.v1+json;q=0.5", "html"),
    NegotiationCase("application-any-offers-vnd-html", "application/*;q=0.2, text/html;q=0.1",
                    "html"),
    NegotiationCase("not-a-prefix", "text/htmlx, application/vnd.pypi.simple.v1+jsonx", None),
    NegotiationCase("format-json-plus", FIREFOX_ACCEPT, "json",
                    "application/vnd.pypi.simple.v1+json"),
    NegotiationCase("format-json-encoded", FIREFOX_ACCEPT, "json",
                    "application%2Fvnd.pypi.simple.v1%2Bjson"),
    NegotiationCase("format-json-space", None, "json", "application/vnd.pypi.simple.v1%20json"),
    NegotiationCase("format-latest-json", None, "json",
                    "application/vnd.pypi.simple.latest%2Bjson"),
    NegotiationCase("format-uppercase", None, "json", "APPLICATION/VND.PYPI.SIMPLE.V1%2BJSON"),
    NegotiationCase("format-text-html-over-pip", PIP_ACCEPT, "html", "text/html"),
    NegotiationCase("format-v1-html", PIP_ACCEPT, "html", "application/vnd.pypi.simple.v1%2Bhtml"),
    NegotiationCase("format-unknown-406", PIP_ACCEPT, None, "json"),
    NegotiationCase("format-wildcard-406", None, None, "*/*"),
    NegotiationCase("format-empty-ignored", PIP_ACCEPT, "json", ""),
)
NEGOTIATION_IDS = [case.id for case in NEGOTIATION_CASES]


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A built installation and the URL paths of what it serves."""

    config: Path
    output: Path
    paths: dict[str, str]
    files: dict[str, bytes]

    def path(self, template: str) -> str:
        """``template`` with ``{wheel}``-style keys replaced by URL paths."""
        return template.format(**self.paths)


def _file_path(output: Path, name: str) -> str:
    found = next(output.glob(f"files/*/*/*/{name}"))
    return "/" + found.relative_to(output).as_posix()


def build_site(directory: Path) -> Site:
    """A real installation in ``directory`` with everything the cases need."""
    dists = directory / "dists"
    wheel = build_wheel(dists, WheelSpec(PROJECT, "1.0"))
    # Big enough that a range request is a real part of it.
    sdist = build_sdist(dists, PROJECT, "1.0", extra={"demo_pkg-1.0/big.bin": bytes(range(256)) * 64})
    (dists / (sdist.name + ".asc")).write_bytes(SIGNATURE)
    # Made ten days ago: the days since are over but not on disk, so the sidecar renders
    # them on demand (nginx passes it such misses).
    now = datetime.now(UTC)
    made = (now - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    on_demand_day = (now - timedelta(days=5)).date().isoformat()
    config = make_installation(directory / "inst", wheel, sdist, env={"TIMESHELF_NOW": made})
    output = directory / "inst" / "site"
    latest = output / "python" / "latest"
    for day in (PAST_DAY, FUTURE_DAY, LEGACY_DAY):
        shutil.copytree(latest, output / "python" / day)
    for day in (PAST_DAY, FUTURE_DAY):  # stored as materialization stores frozen pages
        for page in (output / "python" / day).rglob("index.*"):
            page.with_name(page.name + ".gz").write_bytes(compress_page(page.read_bytes()))
            page.unlink()
    project_dir = latest / "simple" / PROJECT
    (project_dir / ".index.html.abcd1234.tmp").write_text("half-written")
    (project_dir / ".hidden").write_text("secret")
    (output / "python" / "snapshots.json").write_text(f'{{"dates":["{PAST_DAY}"]}}\n')
    (output / "python" / "index.html").write_text("<!DOCTYPE html><title>python</title>\n")
    paths = {
        "wheel": _file_path(output, wheel.name),
        "sdist": _file_path(output, sdist.name),
        "metadata": _file_path(output, wheel.name + ".metadata"),
        "asc": _file_path(output, sdist.name + ".asc"),
        "project": f"/python/latest/simple/{PROJECT}/",
        "root": "/python/latest/simple/",
        "past": f"/python/{PAST_DAY}/simple/{PROJECT}/",
        "future": f"/python/{FUTURE_DAY}/simple/{PROJECT}/",
        "legacy": f"/python/{LEGACY_DAY}/simple/{PROJECT}/",
        "past_root": f"/python/{PAST_DAY}/simple/",
        "on_demand": f"/python/{on_demand_day}/simple/{PROJECT}/",
    }
    sdist_dir = paths["sdist"].rpartition("/")[0]
    (output / sdist_dir.lstrip("/") / ".x.tar.gz.1234.tmp").write_text("x")
    paths["files_tmp"] = f"{sdist_dir}/.x.tar.gz.1234.tmp"
    files = {key: (output / paths[key].lstrip("/")).read_bytes()
             for key in ("wheel", "sdist", "metadata", "asc")}
    files["project.json"] = (project_dir / "index.json").read_bytes()
    files["project.html"] = (project_dir / "index.html").read_bytes()
    files["root.json"] = (latest / "simple" / "index.json").read_bytes()
    files["root.html"] = (latest / "simple" / "index.html").read_bytes()
    return Site(config=config, output=output, paths=paths, files=files)


ABSENT = None


@dataclass(frozen=True, slots=True)
class HeaderCase:
    """A request (path template, method, headers) and what the answer must hold.

    ``expect`` maps header names to exact values, or to ``ABSENT``; ``vary_accept``
    says whether ``Vary`` must (True) or must not (False) name ``Accept``; ``body``
    names an entry of ``Site.files`` the body must equal (sliced by ``body_slice``).
    """

    id: str
    path: str
    status: int
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: Mapping[str, str | None] = field(default_factory=dict)
    vary_accept: bool | None = None
    body: str | None = None
    body_slice: tuple[int, int | None] | None = None
    validators: bool = False


HEADER_CASES: tuple[HeaderCase, ...] = (
    HeaderCase("root-html", "{root}", 200, headers={"Accept": "text/html"},
               expect={"Content-Type": HTML_TYPE, "Cache-Control": SHORT},
               vary_accept=True, body="root.html", validators=True),
    HeaderCase("root-json-pip", "{root}", 200, headers={"Accept": PIP_ACCEPT},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": SHORT},
               vary_accept=True, body="root.json", validators=True),
    HeaderCase("project-html", "{project}", 200,
               expect={"Content-Type": HTML_TYPE, "Cache-Control": SHORT},
               vary_accept=True, body="project.html", validators=True),
    HeaderCase("project-json-uv", "{project}", 200, headers={"Accept": UV_ACCEPT},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": SHORT,
                       "Content-Encoding": ABSENT},
               vary_accept=True, body="project.json", validators=True),
    HeaderCase("project-head", "{project}", 200, method="HEAD", headers={"Accept": PIP_ACCEPT},
               expect={"Content-Type": JSON_TYPE}, vary_accept=True),
    HeaderCase("project-406", "{project}", 406, headers={"Accept": "application/json"},
               expect={"Cache-Control": ABSENT}, vary_accept=True),
    HeaderCase("past-snapshot-immutable", "{past}", 200, headers={"Accept": PIP_ACCEPT},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": IMMUTABLE},
               vary_accept=True, body="project.json"),
    HeaderCase("future-snapshot-short", "{future}", 200,
               expect={"Content-Type": HTML_TYPE, "Cache-Control": SHORT},
               vary_accept=True, body="project.html"),
    HeaderCase("past-snapshot-gzip-client", "{past}", 200,
               headers={"Accept": UV_ACCEPT, "Accept-Encoding": "gzip"},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": IMMUTABLE},
               vary_accept=True, body="project.json"),
    HeaderCase("past-snapshot-root-json", "{past_root}", 200, headers={"Accept": PIP_ACCEPT},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": IMMUTABLE,
                       "Content-Encoding": ABSENT},
               vary_accept=True, body="root.json"),
    HeaderCase("past-snapshot-by-name", "{past}index.html", 200,
               expect={"Content-Type": HTML_TYPE, "Cache-Control": IMMUTABLE},
               vary_accept=True, body="project.html"),
    HeaderCase("past-snapshot-stored-name-404", "{past}index.json.gz", 404),
    HeaderCase("past-snapshot-missing-project-404", "/python/2000-01-01/simple/nope/", 404,
               headers={"Accept": PIP_ACCEPT}, vary_accept=True),
    HeaderCase("legacy-snapshot", "{legacy}", 200, headers={"Accept": PIP_ACCEPT},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": IMMUTABLE},
               vary_accept=True, body="project.json"),
    HeaderCase("on-demand-snapshot", "{on_demand}", 200, headers={"Accept": PIP_ACCEPT},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": IMMUTABLE},
               vary_accept=True, body="project.json"),
    HeaderCase("on-demand-snapshot-html", "{on_demand}", 200,
               expect={"Content-Type": HTML_TYPE, "Cache-Control": IMMUTABLE},
               vary_accept=True, body="project.html"),
    HeaderCase("on-demand-snapshot-406", "{on_demand}", 406, headers={"Accept": "image/png"},
               vary_accept=True),
    HeaderCase("on-demand-snapshot-by-name", "{on_demand}index.json", 200,
               headers={"Accept": "text/html"},
               expect={"Content-Type": JSON_TYPE, "Cache-Control": IMMUTABLE},
               vary_accept=True, body="project.json"),
    HeaderCase("index-json-direct", "{project}index.json", 200,
               expect={"Content-Type": JSON_TYPE, "Cache-Control": SHORT},
               body="project.json"),
    HeaderCase("missing-project-404", "/python/latest/simple/no-such-project/", 404,
               headers={"Accept": PIP_ACCEPT}, expect={"Cache-Control": ABSENT},
               vary_accept=True),
    HeaderCase("missing-snapshot-404", "/python/2001-02-03/simple/", 404,
               headers={"Accept": PIP_ACCEPT}, vary_accept=True),
    HeaderCase("missing-repo-404", "/nope/latest/simple/", 404, vary_accept=True),
    HeaderCase("project-no-slash-301", "/python/latest/simple/demo-pkg", 301,
               expect={"Location": "/python/latest/simple/demo-pkg/"}),
    HeaderCase("no-slash-keeps-query", "/python/latest/simple/demo-pkg?format=text/html", 301,
               expect={"Location": "/python/latest/simple/demo-pkg/?format=text/html"}),
    HeaderCase("repo-page", "/python/", 200, expect={"Content-Type": HTML_TYPE},
               vary_accept=False),
    HeaderCase("repo-no-slash-301", "/python", 301, expect={"Location": "/python/"}),
    HeaderCase("directory-without-index-404", "/python/latest/", 404),
    HeaderCase("snapshots-json", "/python/snapshots.json", 200,
               expect={"Content-Type": "application/json", "Cache-Control": SHORT}),
    HeaderCase("wheel", "{wheel}", 200,
               expect={"Content-Type": "application/octet-stream", "Cache-Control": IMMUTABLE,
                       "Content-Encoding": ABSENT},
               vary_accept=False, body="wheel", validators=True),
    HeaderCase("sdist-no-gzip", "{sdist}", 200,
               headers={"Accept-Encoding": "gzip, deflate, br", "Accept": UV_ACCEPT},
               expect={"Content-Type": "application/octet-stream", "Content-Encoding": ABSENT,
                       "Cache-Control": IMMUTABLE},
               body="sdist"),
    HeaderCase("metadata", "{metadata}", 200,
               expect={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": IMMUTABLE},
               body="metadata"),
    HeaderCase("signature", "{asc}", 200,
               expect={"Content-Type": "application/pgp-signature", "Cache-Control": IMMUTABLE},
               body="asc"),
    HeaderCase("wheel-head", "{wheel}", 200, method="HEAD",
               expect={"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}),
    HeaderCase("sdist-range", "{sdist}", 206, headers={"Range": "bytes=0-99"},
               expect={"Content-Type": "application/octet-stream", "Content-Encoding": ABSENT},
               body="sdist", body_slice=(0, 100)),
    HeaderCase("wheel-suffix-range", "{wheel}", 206,
               headers={"Range": "bytes=-100", "Accept-Encoding": "identity"},
               body="wheel", body_slice=(-100, None)),
    HeaderCase("tmp-file-404", "{project}.index.html.abcd1234.tmp", 404),
    HeaderCase("dotfile-404", "{project}.hidden", 404),
    HeaderCase("tmp-file-in-files-404", "{files_tmp}", 404),
    HeaderCase("lock-404", "/.generate.lock", 404),
    HeaderCase("missing-file-404", "/files/00/00/0000/nothing.whl", 404),
)
HEADER_IDS = [case.id for case in HEADER_CASES]


def check_header_case(base_url: str, site: Site, case: HeaderCase) -> Reply:
    """Send ``case``'s request to the server at ``base_url`` and assert the answer."""
    reply = request(base_url + site.path(case.path), method=case.method, headers=case.headers)
    assert reply.status == case.status, (reply.status, reply.headers, reply.body[:300])
    for name, value in case.expect.items():
        assert reply.header(name) == value, (name, reply.headers)
    if case.vary_accept is not None:
        assert ("accept" in reply.vary()) is case.vary_accept, reply.headers
    if case.body is not None:
        expected = site.files[case.body]
        if case.body_slice is not None:
            expected = expected[slice(*case.body_slice)]
        body = reply.body
        if reply.header("Content-Encoding") == "gzip":
            assert "gzip" in case.headers.get("Accept-Encoding", ""), reply.headers
            body = gzip.decompress(body)
        assert body == expected
        length = reply.header("Content-Length")
        if length is None:  # nginx decompressing a stored page (gunzip) streams it
            assert reply.header("Transfer-Encoding") == "chunked", reply.headers
        else:
            assert length == str(len(reply.body))
    if case.method == "HEAD":
        assert reply.body == b""
    if case.validators:
        assert reply.header("ETag"), reply.headers
        assert reply.header("Last-Modified"), reply.headers
    return reply


def served_variant(reply: Reply, site: Site) -> Variant | None:
    """Which variant a simple-page answer is: by status, Content-Type and exact body."""
    if reply.status == 406:
        return None
    assert reply.status == 200, (reply.status, reply.body[:300])
    assert "accept" in reply.vary()
    if reply.header("Content-Type") == JSON_TYPE:
        assert reply.body == site.files["project.json"]
        return "json"
    assert reply.header("Content-Type") == HTML_TYPE, reply.headers
    assert reply.body == site.files["project.html"]
    return "html"


def negotiation_url(base_url: str, site: Site, case: NegotiationCase) -> str:
    """The project page URL for ``case``, with its raw ``?format=`` if any."""
    url = base_url + site.paths["project"]
    return url if case.format_query is None else f"{url}?format={case.format_query}"
