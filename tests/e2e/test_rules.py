"""Blocklist rules end to end: a loopback OSV feed (the real schema, as a zip), the real
``timeshelf`` commands, real nginx and ``timeshelf serve``, real pip and uv.

One history, played out with ``TIMESHELF_NOW``:

    day 1  bad-lib 1.0 and 2.0 (an advisory affects < 2.0), gpl-lib 1.0 and gpl-ok 1.0
           (License-Expression GPL-3.0-only), mit-lib 1.0 (MIT) added; advisories synced
    day 2  day 1's pages read (on demand); then a --vulns rule, a GPL rule and an
           exception for gpl-ok; day 1's pages read again, then ``generate``
    day 3  ``generate`` writes day 2

Then: pip and uv cannot install bad-lib==1.0 or gpl-lib, and install bad-lib==2.0,
gpl-ok and mit-lib; the blocked files answer 403 with their rule's description on every
URL, from both servers; day 1 keeps its pages byte for byte (listing bad-lib 1.0) while
its download is refused; day 2 does not list it; ``test blocklist-rules`` says which rule
decides; deleting the rule lists and serves the file again.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.factory import WheelSpec, build_wheel, metadata_text
from tests.osv import OsvFeed, export_zip, pysec, serve_osv
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

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
DAY1, DAY2 = "2026-04-01", "2026-04-02"
VULN_REASON = "known vulnerable: upgrade to 2.0"
GPL_REASON = "GPL-3.0 cannot ship in our products"
LICENSES = {"gpl-lib": "GPL-3.0-only", "gpl-ok": "GPL-3.0-only", "mit-lib": "MIT"}


def moment(day: int, hour: int = 10) -> str:
    return f"2026-04-{day:02d}T{hour:02d}:00:00Z"


def _licensed(dists: Path, name: str, expression: str) -> Path:
    text = metadata_text(name, "1.0", metadata_version="2.4").replace(
        "\n\n", f"\nLicense-Expression: {expression}\n\n"
    )
    return build_wheel(dists, WheelSpec(name=name, version="1.0", metadata=text))


@dataclass
class Stack:
    home: Path
    config: Path
    nginx: Server
    sidecar: Server
    client_home: Path
    day1_before: dict[str, bytes]
    rules_output: str

    def timeshelf(self, day: int, *args: str | Path, check: bool = True, hour: int = 10) -> str:
        done = run([TIMESHELF, "--config", self.config, *args],
                   env=timeshelf_env({"TIMESHELF_NOW": moment(day, hour)}), check=check)
        return done.stdout + done.stderr

    def servers(self) -> dict[str, Server]:
        return {"nginx": self.nginx, "serve": self.sidecar}


def _day_pages(server: Server, day: str) -> dict[str, bytes]:
    found = {}
    for page in ("", "bad-lib/", "gpl-lib/"):
        url = server.url(f"/python/{day}/simple/{page}")
        for kind, accept in (("html", "text/html"), ("json", JSON_ACCEPT)):
            reply = http_get(url, accept=accept)
            assert reply.status == 200, (url, reply)
            found[f"{page}{kind}"] = reply.body
    return found


def _file_path(server: Server, day: str, project: str, filename: str) -> str:
    data = json.loads(http_get(server.url(f"/python/{day}/simple/{project}/"),
                               accept=JSON_ACCEPT).body)
    (url,) = [str(f["url"]) for f in data["files"] if f["filename"] == filename]
    return "/files/" + url.split("/files/", 1)[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(NGINX).exists():
        pytest.fail(f"nginx ({NGINX}) is not installed: `make test` installs it")
    base = tmp_path_factory.mktemp("rules")
    home, dists = base / "installation", base / "dists"
    env1 = timeshelf_env({"TIMESHELF_NOW": moment(1)})
    run([TIMESHELF, "init", home], env=timeshelf_env({"TIMESHELF_NOW": moment(1, 8)}))
    config = home / "timeshelf.toml"
    wheels = [build_wheel(dists, WheelSpec(name="bad-lib", version=v)) for v in ("1.0", "2.0")]
    wheels += [_licensed(dists, name, expression) for name, expression in LICENSES.items()]
    run([TIMESHELF, "--config", config, "add", "--source", "local", *wheels], env=env1)
    with serve_osv(OsvFeed(body=export_zip([pysec(1, "bad-lib", fixed="2.0")]))) as feed:
        text = config.read_text()
        config.write_text(re.sub(r'(\[vulnerabilities\][^\[]*?)url = ""',
                                 rf'\1url = "{feed.url}"', text))
        run([TIMESHELF, "--config", config, "vulns", "sync"], env=env1)
    sidecar_port = free_port()
    conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                          sidecar=f"127.0.0.1:{sidecar_port}")
    client_home = base / "client-home"
    client_home.mkdir()
    env2 = timeshelf_env({"TIMESHELF_NOW": moment(2)})
    with contextlib.ExitStack() as servers:
        nginx = servers.enter_context(run_nginx(conf, base / "nginx"))
        sidecar = servers.enter_context(run_timeshelf_serve(
            config, port=sidecar_port, env=timeshelf_env({"TIMESHELF_NOW": moment(3)})))
        before = _day_pages(nginx, DAY1)
        for rule in (
            ["--vulns", "--description", VULN_REASON],
            ["--license-types", "GPL-3.0-only", "--description", GPL_REASON],
            ["--exception", "--package-name", "gpl-ok", "--description", "approved by legal"],
        ):
            run([TIMESHELF, "--config", config, "create", "blocklist-rule", *rule], env=env2)
        listed = run([TIMESHELF, "--config", config, "list", "blocklist-rules"], env=env2).stdout
        run([TIMESHELF, "--config", config, "generate"],
            env=timeshelf_env({"TIMESHELF_NOW": moment(3)}))
        yield Stack(home=home, config=config, nginx=nginx, sidecar=sidecar,
                    client_home=client_home, day1_before=before, rules_output=listed)


def _install(stack: Stack, client: str, requirement: str) -> tuple[int, dict[str, str], str]:
    return install_into(stack.home.parent / f"target-{client}-{requirement}", client,
                        stack.nginx.url("/python/latest/simple/"), requirement,
                        stack.client_home)


def test_rules_are_listed_in_order_of_execution(stack: Stack) -> None:
    lines = stack.rules_output.splitlines()
    assert lines[0] == "ID\tACTION\tCONDITIONS\tDESCRIPTION\tSINCE"
    assert [line.split("\t")[:3] for line in lines[1:]] == [
        ["3", "allow", "--package-name gpl-ok"],
        ["1", "block", "--vulns"],
        ["2", "block", "--license-types GPL-3.0-only"],
    ]


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_a_vulnerable_version_does_not_install_and_the_fixed_one_does(
    stack: Stack, client: str
) -> None:
    code, found, output = _install(stack, client, "bad-lib==1.0")
    assert code != 0, output
    assert "bad-lib" not in found
    code, found, output = _install(stack, client, "bad-lib==2.0")
    assert code == 0, output
    assert found["bad-lib"] == "2.0"


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_a_license_rule_blocks_and_its_exception_allows(stack: Stack, client: str) -> None:
    code, found, output = _install(stack, client, "gpl-lib")
    assert code != 0, output
    assert "gpl-lib" not in found
    for name in ("gpl-ok", "mit-lib"):
        code, found, output = _install(stack, client, name)
        assert code == 0, output
        assert found[name] == "1.0"


@pytest.mark.parametrize("via", ["nginx", "serve"])
@pytest.mark.parametrize("suffix", ["", ".metadata"])
def test_a_blocked_file_answers_403_with_its_rule(stack: Stack, via: str, suffix: str) -> None:
    server = stack.servers()[via]
    cases = (("bad-lib", "bad_lib-1.0-py3-none-any.whl", 1, VULN_REASON),
             ("gpl-lib", "gpl_lib-1.0-py3-none-any.whl", 2, GPL_REASON))
    for project, filename, rule, reason in cases:
        path = _file_path(stack.nginx, DAY1, project, filename)
        reply = request(server.url(path + suffix))
        assert reply.status == 403, (path, reply)
        assert reply.body.decode() == (
            f"403 Forbidden: {filename} is blocked by blocklist rule {rule}: {reason}\n"
        )
    allowed = _file_path(stack.nginx, DAY1, "bad-lib", "bad_lib-2.0-py3-none-any.whl")
    assert http_get(server.url(allowed)).status == 200


@pytest.mark.parametrize("via", ["nginx", "serve"])
def test_latest_does_not_list_blocked_files(stack: Stack, via: str) -> None:
    server = stack.servers()[via]
    page = http_get(server.url("/python/latest/simple/bad-lib/"), accept="text/html").body
    assert b"bad_lib-2.0-py3-none-any.whl" in page
    assert b"bad_lib-1.0" not in page
    data = json.loads(http_get(server.url("/python/latest/simple/gpl-lib/"),
                               accept=JSON_ACCEPT).body)
    assert data["files"] == []


@pytest.mark.parametrize("via", ["nginx", "serve"])
def test_a_day_before_the_rule_keeps_its_pages_and_refuses_the_download(
    stack: Stack, via: str
) -> None:
    server = stack.servers()[via]
    assert (stack.home / "site" / "python" / DAY1).is_dir()
    assert _day_pages(server, DAY1) == stack.day1_before
    assert b"bad_lib-1.0-py3-none-any.whl" in stack.day1_before["bad-lib/html"]
    path = _file_path(server, DAY1, "bad-lib", "bad_lib-1.0-py3-none-any.whl")
    assert request(server.url(path)).status == 403


def test_the_day_of_the_rule_does_not_list_the_file(stack: Stack) -> None:
    page = http_get(stack.nginx.url(f"/python/{DAY2}/simple/bad-lib/"), accept="text/html")
    assert page.status == 200
    assert b"bad_lib-2.0-py3-none-any.whl" in page.body
    assert b"bad_lib-1.0" not in page.body


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_the_dated_day_before_the_rule_cannot_install_the_blocked_file(
    stack: Stack, client: str
) -> None:
    target = stack.home.parent / f"dated-{client}"
    index = ["--index-url", stack.nginx.url(f"/python/{DAY1}/simple/")]
    if client == "pip":
        args: list[str | Path] = [PYTHON, "-m", "pip", "install", "--target", target, *index,
                                  "bad-lib==1.0"]
    else:
        args = [UV, "pip", "install", "--python", PYTHON, "--target", target, *index,
                "bad-lib==1.0"]
    done = run(args, env=client_env(stack.client_home), check=False)
    assert done.returncode != 0
    assert "403" in done.stdout + done.stderr


def test_test_blocklist_rules_says_which_rule_decides(stack: Stack) -> None:
    assert stack.timeshelf(3, "test", "blocklist-rules", "--repo", "python",
                           "--package-name", "bad-lib").splitlines() == [
        "bad_lib-1.0-py3-none-any.whl: blocked by rule 1: affected by PYSEC-2026-1",
        "bad_lib-2.0-py3-none-any.whl: allowed: no rule matches",
    ]
    assert stack.timeshelf(3, "test", "blocklist-rules", "--repo", "python",
                           "--package-name", "gpl-ok").splitlines() == [
        "gpl_ok-1.0-py3-none-any.whl: allowed by exception 3: package gpl-ok",
    ]
    assert stack.timeshelf(3, "test", "blocklist-rules", "--repo", "python",
                           "--package-name", "gpl-lib", "--version", "1.0").splitlines() == [
        "gpl_lib-1.0-py3-none-any.whl: blocked by rule 2: license GPL-3.0-only",
    ]
    assert stack.timeshelf(3, "test", "blocklist-rules", "--repo", "python",
                           "--package-name", "bad-lib", "--version", "0.9").splitlines() == [
        "bad-lib==0.9 (not in python; license Unknown): blocked by rule 1: affected by "
        "PYSEC-2026-1",
    ]


def test_deleting_a_rule_lists_and_serves_the_file_again(stack: Stack) -> None:
    """Last in this module: it changes the history the other tests read."""
    path = _file_path(stack.nginx, DAY1, "gpl-lib", "gpl_lib-1.0-py3-none-any.whl")
    output = stack.timeshelf(3, "delete", "blocklist-rule", "2", hour=12)
    assert "deleted rule 2: --license-types GPL-3.0-only" in output
    for server in stack.servers().values():
        assert http_get(server.url(path)).status == 200
        page = http_get(server.url("/python/latest/simple/gpl-lib/"), accept="text/html").body
        assert b"gpl_lib-1.0-py3-none-any.whl" in page
    code, found, out = _install(stack, "pip", "gpl-lib")
    assert code == 0, out
    assert found["gpl-lib"] == "1.0"
