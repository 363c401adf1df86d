"""PEP 792 project status end to end: real nginx, real ``timeshelf serve``, real twine,
pip and uv.

One history, played out with ``TIMESHELF_NOW``:

    day 1  arch 1.0, quar 1.0 and depr 1.0 added (quar's wheel with a signature)
    day 2  day 1's pages read (rendered on demand); then, without regenerating, arch
           archived, quar quarantined, depr deprecated, each with a reason; day 1's pages
           read again (still on demand), then ``generate`` writes day 1 to disk

Then: the pages say the status (both servers); day 1 stays byte for byte what it was;
twine's upload to the archived project is refused with its message; quarantined leaves
pip and uv nothing to install, and its files' URLs answer 403 with the reason; ``uv
audit`` (against a loopback OSV stub that knows no vulnerability) reports the statuses.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    PYTHON,
    TIMESHELF,
    UV,
    client_env,
    install_into,
    run,
    timeshelf_env,
)
from tests.factory import WheelSpec, build_wheel
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

pytestmark = pytest.mark.e2e

TWINE = Path(sys.executable).with_name("twine")
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
DAY1 = "2026-04-01"
SIGNATURE = b"-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n"
REASONS = {"arch": "read only from now on", "quar": 'malware found: see "ticket" $42',
           "depr": "use arch instead"}
STATUSES = {"arch": "archived", "quar": "quarantined", "depr": "deprecated"}


def moment(day: int, hour: int = 10) -> str:
    return f"2026-04-{day:02d}T{hour:02d}:00:00Z"


@dataclass
class Stack:
    home: Path
    config: Path
    dists: Path
    nginx: Server
    sidecar: Server
    client_home: Path
    token: str
    day1_before: dict[str, tuple[bytes, bytes]]
    day1_on_demand: dict[str, tuple[bytes, bytes]]

    def timeshelf(self, day: int, *args: str | Path, check: bool = True) -> str:
        done = run([TIMESHELF, "--config", self.config, *args],
                   env=timeshelf_env({"TIMESHELF_NOW": moment(day)}), check=check)
        return done.stdout + done.stderr

    def file_paths(self, project: str) -> list[str]:
        """The /files/ paths of a project's files, read from the catalog's listing."""
        data = json.loads(http_get(self.nginx.url(f"/python/{DAY1}/simple/{project}/"),
                                   accept=JSON_ACCEPT).body)
        return ["/files/" + f["url"].split("/files/", 1)[1] for f in data["files"]]


def _pages(server: Server, day: str) -> dict[str, tuple[bytes, bytes]]:
    found = {}
    for page in ("", "arch/", "quar/", "depr/"):
        url = server.url(f"/python/{day}/simple/{page}")
        html, data = http_get(url, accept="text/html"), http_get(url, accept=JSON_ACCEPT)
        assert (html.status, data.status) == (200, 200), (url, html, data)
        found[page] = (html.body, data.body)
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(NGINX).exists():
        pytest.fail(f"nginx ({NGINX}) is not installed: `make test` installs it")
    base = tmp_path_factory.mktemp("status")
    home, dists = base / "installation", base / "dists"
    run([TIMESHELF, "init", home], env=timeshelf_env({"TIMESHELF_NOW": moment(1, 8)}))
    config = home / "timeshelf.toml"
    token = run(
        [TIMESHELF, "--config", config, "create", "token", "--description", "e2e",
         "--sources", "local", "--expires", "never", "-q"],
        env=timeshelf_env({"TIMESHELF_NOW": moment(1, 8)}),
    ).stdout.strip()
    wheels = [build_wheel(dists, WheelSpec(name=name, version="1.0"))
              for name in ("arch", "quar", "depr")]
    wheels[1].with_name(wheels[1].name + ".asc").write_bytes(SIGNATURE)
    run([TIMESHELF, "--config", config, "add", "--source", "local", *wheels],
        env=timeshelf_env({"TIMESHELF_NOW": moment(1)}))
    sidecar_port = free_port()
    conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                          sidecar=f"127.0.0.1:{sidecar_port}")
    client_home = base / "client-home"
    client_home.mkdir()
    with contextlib.ExitStack() as servers:
        nginx = servers.enter_context(run_nginx(conf, base / "nginx"))
        sidecar = servers.enter_context(run_timeshelf_serve(
            config, port=sidecar_port, env=timeshelf_env({"TIMESHELF_NOW": moment(2)})))
        assert not (home / "site" / "python" / DAY1).exists()
        before = _pages(nginx, DAY1)
        for name, word in STATUSES.items():
            run([TIMESHELF, "--config", config, "status", name, word, "--reason",
                 REASONS[name], "--no-generate"],
                env=timeshelf_env({"TIMESHELF_NOW": moment(2)}))
        on_demand = _pages(nginx, DAY1)
        run([TIMESHELF, "--config", config, "generate"],
            env=timeshelf_env({"TIMESHELF_NOW": moment(2, 11)}))
        assert (home / "site" / "python" / DAY1).is_dir()
        yield Stack(home=home, config=config, dists=dists, nginx=nginx, sidecar=sidecar,
                    client_home=client_home, token=token, day1_before=before,
                    day1_on_demand=on_demand)


def _servers(stack: Stack) -> dict[str, Server]:
    return {"nginx": stack.nginx, "serve": stack.sidecar}


@pytest.mark.parametrize("via", ["nginx", "serve"])
@pytest.mark.parametrize("name", ["arch", "quar", "depr"])
def test_latest_pages_carry_the_status(stack: Stack, via: str, name: str) -> None:
    url = _servers(stack)[via].url(f"/python/latest/simple/{name}/")
    html = http_get(url, accept="text/html").body.decode()
    assert '<meta name="pypi:repository-version" content="1.4">' in html
    assert f'<meta name="pypi:project-status" content="{STATUSES[name]}">' in html
    reason = REASONS[name].replace('"', "&#34;")
    assert f'<meta name="pypi:project-status-reason" content="{reason}">' in html
    data = json.loads(http_get(url, accept=JSON_ACCEPT).body)
    assert data["meta"]["api-version"] == "1.4"
    assert data["project-status"] == {"status": STATUSES[name], "reason": REASONS[name]}
    # A quarantined project stays listed, with no files; the others keep theirs.
    assert (len(data["files"]), data["versions"]) == (
        (0, []) if name == "quar" else (1, ["1.0"])
    )
    assert (">quar-1.0" in html) is False
    root = http_get(_servers(stack)[via].url("/python/latest/simple/"), accept="text/html")
    assert f'href="{name}/"' in root.body.decode()


def test_an_active_project_says_active(stack: Stack) -> None:
    wheel = build_wheel(stack.dists, WheelSpec(name="plain", version="1.0"))
    stack.timeshelf(2, "add", "--source", "local", wheel)
    url = stack.nginx.url("/python/latest/simple/plain/")
    assert '<meta name="pypi:project-status" content="active">' in \
        http_get(url, accept="text/html").body.decode()
    assert json.loads(http_get(url, accept=JSON_ACCEPT).body)["project-status"] == \
        {"status": "active"}


def test_a_day_before_the_change_keeps_its_bytes(stack: Stack) -> None:
    # On demand after the change, then from disk (nginx alone), then through the sidecar.
    assert stack.day1_on_demand == stack.day1_before
    assert _pages(stack.nginx, DAY1) == stack.day1_before
    assert _pages(stack.sidecar, DAY1) == stack.day1_before
    assert b'content="active"' in stack.day1_before["quar/"][0]


def test_the_day_of_the_change_has_the_status(stack: Stack) -> None:
    day2 = "2026-04-02"
    run([TIMESHELF, "--config", stack.config, "generate"],
        env=timeshelf_env({"TIMESHELF_NOW": moment(3)}))
    page = http_get(stack.nginx.url(f"/python/{day2}/simple/quar/"), accept=JSON_ACCEPT)
    data = json.loads(page.body)
    assert (data["project-status"]["status"], data["files"]) == ("quarantined", [])


def _twine(stack: Stack, wheel: Path) -> tuple[int, str]:
    env = {**client_env(stack.client_home), "TWINE_USERNAME": "__token__",
           "TWINE_PASSWORD": stack.token,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    done = run([TWINE, "upload", "--non-interactive", "--disable-progress-bar",
                "--repository-url", stack.nginx.url("/upload/pypi/local/"), wheel],
               env=env, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["arch", "quar"])
def test_twine_upload_to_a_closed_project_is_refused(stack: Stack, name: str) -> None:
    code, output = _twine(stack, build_wheel(stack.dists, WheelSpec(name=name, version="2.0")))
    assert code != 0
    assert "400" in output
    assert f"project '{name}' of source 'local' is {STATUSES[name]}" in " ".join(output.split())
    assert "2.0" not in json.loads(http_get(
        stack.nginx.url(f"/python/latest/simple/{name}/"), accept=JSON_ACCEPT).body)["versions"]


def test_twine_upload_to_a_deprecated_project_is_taken(stack: Stack) -> None:
    code, output = _twine(stack, build_wheel(stack.dists, WheelSpec(name="depr", version="2.0")))
    assert code == 0, output


def test_add_to_an_archived_project_is_refused(stack: Stack) -> None:
    wheel = build_wheel(stack.dists, WheelSpec(name="arch", version="3.0"))
    output = stack.timeshelf(2, "add", "--source", "local", wheel, check=False)
    assert "refused: arch-3.0-py3-none-any.whl: project 'arch' of source 'local' is archived" \
        in output


def _install(stack: Stack, client: str, requirement: str) -> tuple[int, dict[str, str], str]:
    return install_into(stack.home.parent / f"target-{client}-{requirement}", client,
                        stack.nginx.url("/python/latest/simple/"), requirement,
                        stack.client_home)


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_quarantined_leaves_nothing_to_install(stack: Stack, client: str) -> None:
    code, found, output = _install(stack, client, "quar")
    assert code != 0, output
    assert "quar" not in found


@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize("name", ["arch", "depr"])
def test_archived_and_deprecated_still_install(stack: Stack, client: str, name: str) -> None:
    code, found, output = _install(stack, client, f"{name}==1.0")
    assert code == 0, output
    assert found.get(name) == "1.0"


@pytest.mark.parametrize("via", ["nginx", "serve"])
@pytest.mark.parametrize("suffix", ["", ".metadata", ".asc"])
def test_a_quarantined_file_answers_403_with_the_reason(
    stack: Stack, via: str, suffix: str
) -> None:
    (path,) = stack.file_paths("quar")
    for method in ("GET", "HEAD"):
        reply = request(_servers(stack)[via].url(path + suffix), method=method)
        assert reply.status == 403, (method, reply)
        assert (reply.header("Content-Type") or "").startswith("text/plain")
        assert reply.header("Cache-Control") is None
    body = request(_servers(stack)[via].url(path + suffix)).body.decode()
    assert body == (
        "403 Forbidden: project 'quar' is quarantined (PEP 792): "
        f"{REASONS['quar']}; its files are not served\n"
    )


def test_the_withheld_markers_are_not_urls(stack: Stack) -> None:
    (path,) = stack.file_paths("quar")
    sha = path.split("/")[4]
    for server in _servers(stack).values():
        assert http_get(server.url(f"/.withheld/files/{sha}")).status == 404


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_a_download_of_the_quarantined_file_url_fails(stack: Stack, client: str) -> None:
    (path,) = stack.file_paths("quar")
    url = stack.nginx.url(path)
    target = stack.home.parent / f"download-{client}"
    if client == "pip":
        args: list[str | Path] = [PYTHON, "-m", "pip", "download", "--no-deps", "-d", target,
                                  url]
    else:
        args = [UV, "pip", "install", "--python", PYTHON, "--target", target, f"quar @ {url}"]
    done = run(args, env=client_env(stack.client_home), check=False)
    assert done.returncode != 0
    assert "403" in done.stdout + done.stderr


def test_other_files_are_still_served(stack: Stack) -> None:
    (path,) = stack.file_paths("arch")
    for server in _servers(stack).values():
        assert http_get(server.url(path)).status == 200


class _NoVulnerabilities(BaseHTTPRequestHandler):
    """An OSV ``querybatch`` endpoint that knows no vulnerability (``uv audit`` asks it)."""

    def do_POST(self) -> None:
        queries = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        body = json.dumps({"results": [{} for _ in queries.get("queries", [])]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_uv_audit_reports_the_statuses(stack: Stack) -> None:
    project = stack.home.parent / "audited"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "audited"\nversion = "0.1"\nrequires-python = ">=3.9"\n'
        'dependencies = ["arch", "depr==1.0"]\n'
    )
    osv = ThreadingHTTPServer(("127.0.0.1", 0), _NoVulnerabilities)
    thread = threading.Thread(target=osv.serve_forever, daemon=True)
    thread.start()
    try:
        # The index on the command line: the client environment reads no configuration
        # (UV_NO_CONFIG), a project's [tool.uv] included.
        done = run([UV, "--directory", project, "audit", "--default-index",
                    stack.nginx.url("/python/latest/simple/"), "--service-url",
                    f"http://127.0.0.1:{osv.server_port}/"],
                   env={**client_env(stack.client_home), "UV_PYTHON": str(PYTHON)},
                   check=False)
    finally:
        osv.shutdown()
        osv.server_close()
    output = done.stdout + done.stderr
    assert f"arch is archived: {REASONS['arch']}" in output, output
    assert f"depr is deprecated: {REASONS['depr']}" in output, output


def test_active_again_serves_the_files(stack: Stack) -> None:
    (path,) = stack.file_paths("quar")
    stack.timeshelf(3, "status", "quar", "active")
    data = json.loads(http_get(stack.nginx.url("/python/latest/simple/quar/"),
                               accept=JSON_ACCEPT).body)
    assert (data["project-status"], len(data["files"])) == ({"status": "active"}, 1)
    for server in _servers(stack).values():
        assert http_get(server.url(path)).status == 200
    code, found, output = _install(stack, "pip", "quar")
    assert code == 0, output
    assert found.get("quar") == "1.0"
    assert re.search(r"quarantined", stack.timeshelf(3, "status", "quar", "quarantined"))
