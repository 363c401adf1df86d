"""The deployment API against a real ``timeshelf serve``: status and message of every
refusal, and real environments built from the server's own repository of fixture wheels.

Two sidecars per module: ``sidecar`` builds with uv from two Pythons of different full
versions, with ``jinja2`` as an external taken from the system whatever the pin (the
second Python lacks it, so the startup check only warns); ``strict`` builds with pip,
matches Python versions exactly and installs an external's other version from the
repository.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from generator.installation import Installation
from tests.deployment import (
    Member,
    auth,
    bundle_bytes,
    deploy,
    deploy_config,
    fixture_wheels,
    manifest_for,
    message,
    other_python,
    post_bundle,
    special,
    tar_bytes,
    wait_task,
)
from tests.servers import make_installation, request, run_timeshelf, run_timeshelf_serve
from tests.uploader.conftest import create_token, start_installation
from uploader.app import create_app
from uploader.deploy.pythons import analyse

MAX_REQUEST_SIZE = 1_000_000


@dataclass(frozen=True)
class Sidecar:
    base_url: str
    config: Path
    token: str
    log: str

    @property
    def environments(self) -> Path:
        return self.config.parent / "environments"

    def builds(self, key: str) -> list[str]:
        """The build directories of environment ``key`` (one per installer run)."""
        directory = self.environments / f"{key}.d"
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def token(config: Path, *, sources: str = "*", scope: str = "deploy") -> str:
    return run_timeshelf(
        "--config", str(config), "create", "token", "--description", "tests", "--sources",
        sources, "--scope", scope, "-q",
    ).stdout.strip()


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    home = tmp_path_factory.mktemp("deploy")
    config = make_installation(home / "inst", *fixture_wheels(home / "dists"))
    deploy_config(
        config, max_request_size=MAX_REQUEST_SIZE,
        executables=[sys.executable, other_python()], installer="uv", external=["jinja2"],
        externals_check_is_fatal=False,
    )
    with run_timeshelf_serve(config) as server:
        yield Sidecar(server.base_url, config, token(config), server.output())


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    home = tmp_path_factory.mktemp("strict")
    config = make_installation(home / "inst", *fixture_wheels(home / "dists"))
    deploy_config(
        config, executables=[sys.executable], installer="pip", external=["jinja2"],
        external_version_matching=True, exact_version_matching=True,
    )
    with run_timeshelf_serve(config) as server:
        yield Sidecar(server.base_url, config, token(config), server.output())


def run_in(sidecar: Sidecar, key: str, code: str) -> str:
    """Run ``code`` with the Python of environment ``key``; its stdout."""
    reply = request(f"{sidecar.base_url}/__api__/environments/{key}", headers=auth(sidecar.token))
    assert reply.status == 200, reply.body
    python = json.loads(reply.body)["python_executable"]
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- refusals: status and message ------------------------------------------------------------


def _hostile(*members: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    return tar_bytes([("app.py", b"x"), ("requirements.txt", b"alpha\n"), *members])


def _many_files() -> bytes:
    return tar_bytes([(f"f{i}", b"") for i in range(20_001)])


REFUSED = [
    # archives
    ("not-gzip", lambda: b"definitely not a tar", 400, "not a valid gzip tar archive"),
    ("empty-body", lambda: b"", 400, "no bundle"),
    ("absolute-path", lambda: _hostile(("/etc/cron.d/x", b"x")), 400, "absolute path"),
    ("dotdot", lambda: _hostile(("../../escape.txt", b"x")), 400, "leaves the bundle"),
    ("symlink-out", lambda: _hostile(special("l", tarfile.SYMTYPE, "/etc/passwd")), 400,
     "link leaving the bundle"),
    ("symlink-up", lambda: _hostile(special("d/l", tarfile.SYMTYPE, "../../x")), 400,
     "link leaving the bundle"),
    ("hard-link", lambda: _hostile(special("h", tarfile.LNKTYPE, "app.py")), 400, "hard link"),
    ("device", lambda: _hostile(special("dev", tarfile.CHRTYPE)), 400, "device, FIFO"),
    ("fifo", lambda: _hostile(special("fifo", tarfile.FIFOTYPE)), 400, "device, FIFO"),
    ("too-many-files", _many_files, 400, "more than 20000 files"),
    # manifests
    ("checksum-mismatch", lambda: bundle_bytes(
        "alpha\n", manifest=manifest_for({"app.py": b"other\n", "requirements.txt": b"alpha\n"})),
     400, "app.py: checksum mismatch"),
    ("listed-file-missing", lambda: bundle_bytes(
        "alpha\n", manifest=manifest_for({"app.py": b"app = None\n", "gone.py": b""})),
     400, "gone.py: listed in manifest.json but missing"),
    ("manifest-not-json", lambda: bundle_bytes("alpha\n", manifest=b"{oops"), 400,
     "manifest.json is not valid JSON"),
    ("manifest-version-type", lambda: bundle_bytes(
        "alpha\n", manifest=b'{"python": {"version": 3.11}}'), 400,
     "python.version must be a string"),
    ("no-requirements", lambda: bundle_bytes(None), 400, "the bundle has no requirements.txt"),
    ("package-file-outside", lambda: bundle_bytes("alpha\n", package_file="../../etc/passwd"),
     400, "leaves the bundle"),
    # requirement lines
    ("index-url", lambda: bundle_bytes("-i http://127.0.0.1:9/simple\nalpha\n"), 422,
     "-i is not allowed"),
    ("extra-index-url", lambda: bundle_bytes("--extra-index-url http://127.0.0.1:9/s\n"), 422,
     "--extra-index-url is not allowed"),
    ("find-links", lambda: bundle_bytes("--find-links /tmp\nalpha\n"), 422,
     "--find-links is not allowed"),
    ("trusted-host", lambda: bundle_bytes("--trusted-host 127.0.0.1\n"), 422,
     "--trusted-host is not allowed"),
    ("editable", lambda: bundle_bytes("-e ./src\n"), 422, "editable installs (-e) are not allowed"),
    ("direct-url", lambda: bundle_bytes("alpha @ http://127.0.0.1:9/alpha-1.0.whl\n"), 422,
     "direct URL references are not allowed"),
    ("vcs-url", lambda: bundle_bytes("git+https://127.0.0.1/r.git#egg=alpha\n"), 422,
     "direct URL or path references are not allowed"),
    ("include-outside", lambda: bundle_bytes("-r ../../etc/passwd\n"), 422,
     "cannot include '../../etc/passwd'"),
    ("include-url", lambda: bundle_bytes("-r http://127.0.0.1:9/r.txt\n"), 422, "is a URL"),
    ("env-variable", lambda: bundle_bytes("alpha==${SECRET}\n"), 422,
     "environment variable references"),
    ("build-options", lambda: bundle_bytes("alpha --config-settings=x=y\n"), 422,
     "per-requirement build options are not allowed"),
    ("garbage-line", lambda: bundle_bytes("alpha>=>1\n"), 422, "invalid requirement"),
    ("all-problems-at-once", lambda: bundle_bytes("-i http://127.0.0.1:9/\n-e .\nok\n"), 422,
     "requirements refused, 2 problems"),
    # Python selection
    ("python-2", lambda: bundle_bytes("alpha\n", python="2.7.18"), 422,
     "no configured Python matches the same major.minor as 2.7.18 (available:"),
    ("python-requires", lambda: bundle_bytes("alpha\n", requires=">=4"), 422,
     "no configured Python satisfies >=4"),
    ("python-invalid", lambda: bundle_bytes("alpha\n", python="three"), 422,
     "invalid Python version 'three'"),
]


@pytest.mark.parametrize(("body", "status", "text"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_refused_bundles(sidecar: Sidecar, body: object, status: int, text: str) -> None:
    assert callable(body)
    reply = post_bundle(sidecar.base_url, sidecar.token, body())
    assert reply.status == status, reply.body
    assert text in message(reply)
    incoming = sidecar.environments / ".incoming"
    assert not incoming.exists() or not any(incoming.iterdir()), "a refused bundle left files"


# -- every problem on a line of its own: the Flask app itself ------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlaskClient, str]]:
    """A test client of the sidecar's app (no server, no build) and a deploy token."""
    config = start_installation(tmp_path_factory.mktemp("flask") / "inst")
    # The app runs on the real clock: the token is made now.
    deploy_token = create_token(config, sources="*", scope="deploy", now=datetime.now(UTC))
    inst = Installation.from_config_file(config)
    try:
        yield create_app(inst, serve_site=False).test_client(), deploy_token
    finally:
        inst.close()


THREE_BAD_LINES = "-i http://127.0.0.1:9/simple\n-e ./src\nalpha\nalpha>=>1\n"
THREE_PROBLEMS = [
    "requirements.txt:1: -i is not allowed: environments install only from this server's "
    "repository; remove the option",
    "requirements.txt:2: editable installs (-e) are not allowed: list a released version "
    "instead",
    "requirements.txt:4: invalid requirement 'alpha>=>1': ",
]
BAD_MEMBERS: list[Member] = [("app.py", b"x"), ("requirements.txt", b"alpha\n"),
               special("h", tarfile.LNKTYPE, "app.py"), ("/abs", b"x"),
               special("p", tarfile.FIFOTYPE)]
MEMBER_PROBLEMS = [
    "bundle member 'h' is a hard link: not allowed",
    "bundle member '/abs' is an absolute path: use paths relative to the app",
    "bundle member 'p' is a device, FIFO or other special file",
]


@pytest.mark.parametrize(
    ("body", "status", "summary", "problems"),
    [
        (lambda: bundle_bytes(THREE_BAD_LINES), 422, "requirements refused, 3 problems",
         THREE_PROBLEMS),
        (lambda: tar_bytes(BAD_MEMBERS), 400,
         "invalid bundle: the bundle cannot be extracted, 3 problems", MEMBER_PROBLEMS),
        (lambda: bundle_bytes("-e .\n"), 422,
         "requirements refused: requirements.txt:1: editable installs (-e) are not allowed: "
         "list a released version instead",
         ["requirements.txt:1: editable installs (-e) are not allowed: list a released "
          "version instead"]),
    ],
    ids=["requirements", "members", "one-problem"],
)
def test_every_problem_is_listed_in_the_answer(
    client: tuple[FlaskClient, str], body: Callable[[], bytes], status: int, summary: str,
    problems: list[str],
) -> None:
    app, deploy_token = client
    headers = {"Authorization": f"Bearer {deploy_token}", "Content-Type": "application/gzip"}
    data = body()
    as_json = app.post("/__api__/bundles", data=data,
                       headers={**headers, "Accept": "application/json"})
    assert as_json.status_code == status
    document = as_json.get_json()
    assert document["message"] == summary
    assert document["code"] == f"{status} {summary}"
    assert len(document["problems"]) == len(problems)
    for got, expected in zip(document["problems"], problems, strict=True):
        assert got.startswith(expected)
        assert "\n" not in got
    as_text = app.post("/__api__/bundles", data=data, headers=headers)
    assert as_text.status_code == status
    lines = as_text.get_data(as_text=True).splitlines()
    if len(problems) == 1:
        assert lines == [f"{status} {summary}"]
    else:
        assert lines == [f"{status} {summary}:", *(f"  {p}" for p in document["problems"])]


def _link(name: str, target: str) -> tarfile.TarInfo:
    return special(name, tarfile.SYMTYPE, target)


# The bundle is extracted in environments/.incoming/bundle-*/app: four levels up is the
# installation, whose site/ nginx serves.
_CLIMB = [_link("d", "."), _link("d/up", ".."), _link("up/u2", ".."), _link("up/u2/u3", ".."),
          _link("up/u2/u3/u4", "..")]
ESCAPES = [
    ("link-chain-into-the-site", [*_CLIMB, ("up/u2/u3/u4/site/pwned.html", b"<p>pwned</p>")]),
    ("link-chain-file-first", [("up/u2/u3/u4/site/pwned.html", b"x"), *_CLIMB]),
    ("dangling-link-completed-later",
     [_link("b", "c/x/../.."), _link("c", "."), special("x", tarfile.DIRTYPE),
      ("b/pwned.html", b"x")]),
    ("link-to-a-directory", [special("lib", tarfile.DIRTYPE), ("lib/f.py", b""),
                             _link("alias", "lib")]),
]


def _tree(directory: Path) -> dict[str, str]:
    """Every path below ``directory``: 'dir', 'file' or '-> target' for a link."""
    found = {}
    for path, dirs, files in os.walk(directory):
        for entry in (Path(path) / n for n in (*dirs, *files)):
            name = entry.relative_to(directory).as_posix()
            if name.startswith("inst/catalog.sqlite3-"):
                continue  # the catalog's journal comes and goes with every request
            found[name] = (f"-> {os.readlink(entry)}" if entry.is_symlink()
                           else "dir" if entry.is_dir() else "file")
    return found


@pytest.mark.parametrize("members", [c[1] for c in ESCAPES], ids=[c[0] for c in ESCAPES])
def test_a_bundle_escaping_through_links_leaves_no_trace(
    sidecar: Sidecar, members: list[tarfile.TarInfo | tuple[str, bytes]]
) -> None:
    home = sidecar.config.parent.parent  # the installation, its fixture wheels
    # A first refusal makes what every request makes (.incoming, tasks/).
    assert post_bundle(sidecar.base_url, sidecar.token, b"not a tar").status == 400
    before = _tree(home)
    reply = post_bundle(sidecar.base_url, sidecar.token, _hostile(*members))
    assert reply.status == 400, reply.body
    text = message(reply)
    assert "\n" not in text
    assert text.startswith("invalid bundle: ")
    problems = json.loads(reply.body)["problems"]
    assert all(p.startswith("bundle member ") and "\n" not in p for p in problems), problems
    assert any("a link in a bundle may only point to a regular file inside it" in p
               for p in problems)
    assert str(home) not in reply.body.decode(), "the refusal shows the server's paths"
    assert not (sidecar.config.parent / "site" / "pwned.html").exists()
    after = _tree(home)
    assert {k: v for k, v in after.items() if k not in before} == {}, "new paths (or links)"
    assert after == before
    incoming = sidecar.environments / ".incoming"
    assert list(incoming.iterdir()) == [], "a refused bundle left its staging directory"


def test_a_bundle_over_the_size_limit_is_refused_from_its_headers(sidecar: Sidecar) -> None:
    with socket.create_connection(("127.0.0.1", int(sidecar.base_url.rsplit(":", 1)[1])),
                                  timeout=30) as connection:
        connection.sendall(
            f"POST /__api__/bundles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {sidecar.token}\r\nContent-Type: application/gzip\r\n"
            f"Content-Length: {MAX_REQUEST_SIZE + 1}\r\n\r\n".encode()
        )
        head = connection.recv(4096)
    assert head.startswith(b"HTTP/1.1 413 "), head


@pytest.mark.parametrize(
    ("credentials", "status", "text"),
    [
        (None, 401, "Authentication required"),
        ("upload", 403, "does not have the 'deploy' scope"),
        ("garbage", 403, "invalid token"),
    ],
    ids=["no-token", "upload-scope", "bad-token"],
)
def test_deploy_needs_a_deploy_token(
    sidecar: Sidecar, credentials: str | None, status: int, text: str
) -> None:
    presented = {
        None: None, "upload": token(sidecar.config, scope="upload"), "garbage": "tsh_nope",
    }[credentials]
    reply = post_bundle(sidecar.base_url, presented, bundle_bytes("alpha\n"))
    assert reply.status == status
    assert text in message(reply)


def test_a_token_for_the_repository_sources_may_deploy(sidecar: Sidecar) -> None:
    reply = post_bundle(sidecar.base_url, token(sidecar.config, sources="local"),
                        bundle_bytes("-i http://127.0.0.1:9/\n"))
    assert reply.status == 422  # authorized; refused for the requirement, not the token


def test_snapshot_must_be_a_finished_day(sidecar: Sidecar) -> None:
    reply = post_bundle(sidecar.base_url, sidecar.token, bundle_bytes("alpha\n"),
                        query="?snapshot=2026-13-45")
    assert reply.status == 400
    assert "use a date YYYY-MM-DD" in message(reply)
    reply = post_bundle(sidecar.base_url, sidecar.token, bundle_bytes("alpha\n"),
                        query="?snapshot=2999-01-01")
    assert reply.status == 400
    assert "not over yet" in message(reply)


# -- builds ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first(sidecar: Sidecar) -> dict[str, object]:
    """alpha (needing beta), with a prohibited and a publishing-client line removed."""
    return deploy(sidecar.base_url, sidecar.token,
                  bundle_bytes("alpha==1.0\npywin32==306\nrsconnect-python==1.20\n"))


def test_a_bundle_builds_and_imports(sidecar: Sidecar, first: dict[str, object]) -> None:
    assert first["code"] == 0, first["output"]
    output = "\n".join(map(str, first["output"]))  # type: ignore[call-overload]
    assert "removed prohibited package 'pywin32==306'" in output
    assert "dropped 'rsconnect-python==1.20'" in output
    assert "uv pip install" in output
    key = str(first["environment"])
    assert run_in(sidecar, key, "import alpha, beta; print(alpha.__version__, beta.__version__)"
                  ) == "1.0 2.0\n"


def test_the_same_bundle_again_is_a_cache_hit(sidecar: Sidecar, first: dict[str, object]) -> None:
    key = str(first["environment"])
    before = sidecar.builds(key)
    again = deploy(sidecar.base_url, sidecar.token,
                   bundle_bytes("alpha==1.0\npywin32==306\nrsconnect-python==1.20\n"))
    assert again["code"] == 0
    assert again["environment"] == key
    assert any("is cached: reusing it (no installer run)" in line for line in again["output"])
    assert not any(line.startswith("$ ") for line in again["output"]), "an installer ran"
    assert sidecar.builds(key) == before == [before[0]]


def test_other_requirements_make_another_environment(
    sidecar: Sidecar, first: dict[str, object]
) -> None:
    other = deploy(sidecar.base_url, sidecar.token, bundle_bytes("delta==1.0\n"))
    assert other["code"] == 0, other["output"]
    assert other["environment"] != first["environment"]
    assert run_in(sidecar, str(other["environment"]), "import alpha, gamma, delta") == ""


def test_another_python_makes_another_environment(
    sidecar: Sidecar, first: dict[str, object]
) -> None:
    version = analyse(other_python()).version
    other = deploy(sidecar.base_url, sidecar.token,
                   bundle_bytes("alpha==1.0\n", requires=f"=={version}"))
    assert other["code"] == 0, other["output"]
    assert other["environment"] != first["environment"]
    assert run_in(sidecar, str(other["environment"]),
                  "import platform, alpha; print(platform.python_version())") == f"{version}\n"


def test_default_matching_takes_the_highest_patch_of_the_same_minor(sidecar: Sidecar) -> None:
    mine = analyse(sys.executable).version
    versions = [analyse(p).version for p in (sys.executable, other_python())]
    minor = mine.rsplit(".", 1)[0]
    best = max((v for v in versions if v.startswith(minor + ".")),
               key=lambda v: tuple(map(int, v.split("."))))
    reply = post_bundle(sidecar.base_url, sidecar.token, bundle_bytes("alpha\n",
                                                                      python=f"{minor}.0"))
    assert reply.status == 202
    task = wait_task(sidecar.base_url, sidecar.token, json.loads(reply.body)["task_id"])
    assert any(f"Python {best} " in line for line in task["output"]), task["output"]


def test_a_failed_build_is_not_cached_and_keeps_its_log(sidecar: Sidecar) -> None:
    reply = post_bundle(sidecar.base_url, sidecar.token, bundle_bytes("nosuchpackage==9\n"))
    assert reply.status == 202
    key = json.loads(reply.body)["environment"]
    task = wait_task(sidecar.base_url, sidecar.token, json.loads(reply.body)["task_id"])
    assert task["finished"]
    assert task["code"] == 1
    assert "failed with exit code" in task["error"]
    assert any("nosuchpackage" in line for line in task["output"])
    missing = request(f"{sidecar.base_url}/__api__/environments/{key}", headers=auth(sidecar.token))
    assert missing.status == 404
    assert not (sidecar.environments / f"{key}.d").exists(), "an empty build directory"
    assert not (sidecar.environments / ".locks" / f"{key}.lock").exists()
    assert list((sidecar.environments / "failed").glob(f"{key}-*.log"))


def test_an_external_is_taken_from_the_system_whatever_the_pin(sidecar: Sidecar) -> None:
    task = deploy(sidecar.base_url, sidecar.token, bundle_bytes("jinja2==2.0\nalpha\n"))
    assert task["code"] == 0, task["output"]
    assert any("using the system's jinja2" in line for line in task["output"])
    # The system's jinja2 imports, with its own dependency (markupsafe) linked too...
    out = run_in(sidecar, task["environment"], "import jinja2, markupsafe; print(jinja2.__version__)")
    assert out.strip() != "2.0"
    # ...and nothing else of the system is visible.
    done = subprocess.run(
        [json.loads(request(f"{sidecar.base_url}/__api__/environments/{task['environment']}",
                            headers=auth(sidecar.token)).body)["python_executable"],
         "-c", "import flask"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "No module named 'flask'" in done.stderr


def test_a_python_without_the_external_installs_it_from_the_repository(sidecar: Sidecar) -> None:
    version = analyse(other_python()).version
    task = deploy(sidecar.base_url, sidecar.token,
                  bundle_bytes("jinja2==2.0\n", requires=f"=={version}"))
    assert task["code"] == 0, task["output"]
    assert run_in(sidecar, task["environment"], "import jinja2; print(jinja2.__version__)") == "2.0\n"


def test_multipart_archive_field(sidecar: Sidecar) -> None:
    boundary = "timeshelfboundary"
    data = bundle_bytes("gamma==1.0\n")
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; "
        f"filename=\"bundle.tar.gz\"\r\nContent-Type: application/x-tar\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    reply = post_bundle(sidecar.base_url, sidecar.token, body,
                        content_type=f"multipart/form-data; boundary={boundary}")
    assert reply.status == 202, reply.body
    task = wait_task(sidecar.base_url, sidecar.token, json.loads(reply.body)["task_id"])
    assert task["code"] == 0, task["output"]


def test_multipart_without_archive_field(sidecar: Sidecar) -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n"
    reply = post_bundle(sidecar.base_url, sidecar.token, body,
                        content_type="multipart/form-data; boundary=b")
    assert reply.status == 400
    assert "multipart field 'archive'" in message(reply)


# -- tasks and environments ----------------------------------------------------------------


def test_task_log_is_read_in_pieces(sidecar: Sidecar, first: dict[str, object]) -> None:
    reply = post_bundle(sidecar.base_url, sidecar.token, bundle_bytes("alpha==1.0\n"))
    task_id = json.loads(reply.body)["task_id"]
    whole = wait_task(sidecar.base_url, sidecar.token, task_id)
    url = f"{sidecar.base_url}/__api__/tasks/{task_id}"
    tail = json.loads(request(f"{url}?first=2", headers=auth(sidecar.token)).body)
    assert tail["output"] == whole["output"][2:]
    assert tail["last"] == len(whole["output"])
    assert set(tail) >= {"id", "finished", "code", "error", "output", "last", "environment"}
    bad = request(f"{url}?first=x", headers=auth(sidecar.token))
    assert bad.status == 400
    assert "first='x' is invalid" in message(bad)
    unknown = request(f"{sidecar.base_url}/__api__/tasks/{'0' * 32}", headers=auth(sidecar.token))
    assert unknown.status == 404
    assert "no task" in message(unknown)
    assert (sidecar.environments / "tasks" / f"{task_id}.log").read_text().splitlines() == (
        whole["output"]
    )


def test_environments_are_listed_shown_and_deleted(
    sidecar: Sidecar, first: dict[str, object]
) -> None:
    headers = auth(sidecar.token)
    task = deploy(sidecar.base_url, sidecar.token, bundle_bytes("beta==1.0\n"))
    key = task["environment"]
    listed = json.loads(request(f"{sidecar.base_url}/__api__/environments", headers=headers).body)
    assert {first["environment"], key} <= {e["id"] for e in listed["environments"]}
    shown = json.loads(request(f"{sidecar.base_url}/__api__/environments/{key}",
                               headers=headers).body)
    assert shown["packages"] == ["beta==1.0"]
    assert shown["installer"] == "uv"
    url = f"{sidecar.base_url}/__api__/environments/{key}"
    assert request(url, method="DELETE", headers=headers).status == 200
    assert request(url, headers=headers).status == 404
    gone = request(url, method="DELETE", headers=headers)
    assert gone.status == 404
    assert "no environment" in message(gone)
    for unknown in ("0000", "0" * 32):
        refused = request(f"{sidecar.base_url}/__api__/environments/{unknown}", method="DELETE",
                          headers=headers)
        assert refused.status == 404
        assert message(refused) == f"no environment '{unknown}'"
    assert sorted(p.name for p in (sidecar.environments / ".locks").iterdir()) == [], (
        "a lock file was left"
    )
    assert sidecar.builds(key) == []
    assert request(f"{sidecar.base_url}/__api__/environments", headers={}).status == 401


def test_startup_warned_about_the_missing_external(sidecar: Sidecar) -> None:
    assert f"warning: {other_python()}" in sidecar.log
    assert "external package 'jinja2' is not installed" in sidecar.log


# -- the strict server: pip, exact versions, external version matching ------------------------


def test_exact_matching_refuses_another_patch(strict: Sidecar) -> None:
    reply = post_bundle(strict.base_url, strict.token, bundle_bytes("alpha\n", python="3.11.0"))
    assert reply.status == 422
    assert "no configured Python matches exactly 3.11.0" in message(reply)


def test_version_matching_installs_the_requested_external(strict: Sidecar) -> None:
    task = deploy(strict.base_url, strict.token, bundle_bytes("jinja2==2.0\nalpha==1.0\n"))
    assert task["code"] == 0, task["output"]
    output = "\n".join(task["output"])
    assert "does not satisfy 'jinja2==2.0': installing from the repository" in output
    assert "-m pip install" in output
    out = run_in(strict, task["environment"], "import jinja2, alpha; print(jinja2.__version__)")
    assert out == "2.0\n"


def test_version_matching_keeps_a_satisfied_external(strict: Sidecar) -> None:
    reply = post_bundle(strict.base_url, strict.token, bundle_bytes("jinja2>=3\n", allow_uv=True))
    assert reply.status == 202
    task = wait_task(strict.base_url, strict.token, json.loads(reply.body)["task_id"])
    assert task["code"] == 0, task["output"]
    assert any("using the system's jinja2" in line for line in task["output"])
    assert any("allow_uv is true: installing with uv" in line for line in task["output"])
