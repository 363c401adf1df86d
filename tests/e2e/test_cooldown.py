"""A 7-day cooldown repository end to end: real nginx, real ``timeshelf serve``, real pip
and uv, ten days played out with ``TIMESHELF_NOW``.

Repository ``cool`` has a 7-day cooldown, subscribes to ``vendor`` (a local-python
source standing for what teams take from outside) and to ``local``, which is exempt.
Repository ``plain`` subscribes to ``vendor`` without a cooldown, for the clients' own
upload-time limits (``uv pip install --exclude-newer``, ``pip install
--uploaded-prior-to``) to compare with.

    day 1   10:00  vendor: slow 1.0, urgent 1.0; local: inhouse 1.0
    day 2   10:00  vendor: urgent 2.0; allowed into cool at once ("CVE fix")
    day 3   10:00  vendor: slow 2.0
    days 2-11      `timeshelf generate` at 11:00 (the daily cron)

Each day, before its generate, the day before is fetched through nginx while not on
disk (the sidecar renders it), then again once generate wrote it: the same bytes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import PYTHON, TIMESHELF, UV, client_env, installed, run, timeshelf_env
from tests.factory import WheelSpec, build_wheel
from tests.servers import (
    NGINX,
    Server,
    free_port,
    http_get,
    nginx_conf_for,
    run_nginx,
    run_timeshelf_serve,
)

pytestmark = pytest.mark.e2e

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
PROJECTS = ("slow", "urgent", "inhouse")
LAST_DAY = 10
Page = tuple[int, bytes, bytes]  # status, HTML, JSON


def moment(day: int, hour: int = 11) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00Z"


def date_of(day: int) -> str:
    return f"2026-03-{day:02d}"


@dataclass
class Play:
    home: Path
    config: Path
    dists: Path
    nginx: Server
    sidecar_port: int
    client_home: Path
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    # {day: {page: (status, html, json)}}, as served once the day was materialized, and
    # as the sidecar rendered it before.
    frozen: dict[int, dict[str, Page]] = field(default_factory=dict)
    on_demand: dict[int, dict[str, Page]] = field(default_factory=dict)
    # {(day, what): {name: version}}: what a client installed on that day.
    seen: dict[tuple[int, str], dict[str, str]] = field(default_factory=dict)
    outputs: dict[tuple[int, str], str] = field(default_factory=dict)
    work: int = 0

    def timeshelf(self, day: int, *args: str | Path, hour: int = 11) -> str:
        done = run([TIMESHELF, "--config", self.config, *args],
                   env=timeshelf_env({"TIMESHELF_NOW": moment(day, hour)}))
        return done.stderr

    def start_sidecar(self, day: int) -> None:
        self.stack.close()
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(run_timeshelf_serve(
            self.config, port=self.sidecar_port,
            env=timeshelf_env({"TIMESHELF_NOW": moment(day, 9)}),
        ))

    def pages(self, day: int) -> dict[str, Page]:
        found = {}
        for page in ("", *(f"{p}/" for p in PROJECTS)):
            url = self.nginx.url(f"/cool/{date_of(day)}/simple/{page}")
            html, data = http_get(url), http_get(url, accept=JSON_ACCEPT)
            assert html.status == data.status, (url, html, data)
            found[page] = (html.status, html.body, data.body)
        return found

    def install(self, day: int, key: str, client: str, repo: str, requirement: str,
                *options: str) -> None:
        """Install ``requirement`` from ``repo``'s latest index; record what came."""
        self.work += 1
        target = self.home.parent / "work" / f"{client}-{self.work}"
        target.mkdir(parents=True)
        index = ["--index-url", self.nginx.url(f"/{repo}/latest/simple/")]
        if client == "pip":
            args: list[str | Path] = [PYTHON, "-m", "pip", "install", "--target", target,
                                      *index, *options, requirement]
        else:
            args = [UV, "pip", "install", "--python", PYTHON, "--target", target, *index,
                    *options, requirement]
        done = run(args, env=client_env(self.client_home), check=False)
        self.seen[(day, key)] = installed(target)
        self.outputs[(day, key)] = done.stdout + done.stderr


def wheel(directory: Path, name: str, version: str) -> Path:
    return build_wheel(directory, WheelSpec(name=name, version=version))


@pytest.fixture(scope="module")
def play(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Play]:
    if not Path(NGINX).exists():
        pytest.fail(f"nginx ({NGINX}) is not installed: `make test` installs it")
    base = tmp_path_factory.mktemp("cooldown")
    home = base / "installation"
    run([TIMESHELF, "init", home], env=timeshelf_env({"TIMESHELF_NOW": moment(1, 8)}))
    config = home / "timeshelf.toml"
    sidecar_port = free_port()
    conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                          sidecar=f"127.0.0.1:{sidecar_port}")
    (base / "client-home").mkdir()
    with run_nginx(conf, base / "nginx") as nginx:
        p = Play(home=home, config=config, dists=base / "dists", nginx=nginx,
                 sidecar_port=sidecar_port, client_home=base / "client-home")
        try:
            play_ten_days(p)
            yield p
        finally:
            p.stack.close()


def play_ten_days(p: Play) -> None:
    p.timeshelf(1, "create", "source", "--name", "vendor", "--type", "local-python", hour=9)
    p.timeshelf(1, "create", "repo", "--name", "cool", "--cooldown", "7d",
                "--cooldown-exempt-source", "local", hour=9)
    p.timeshelf(1, "subscribe", "--repo", "cool", "--source", "vendor", hour=9)
    p.timeshelf(1, "subscribe", "--repo", "cool", "--source", "local", hour=9)
    p.timeshelf(1, "create", "repo", "--name", "plain", hour=9)
    p.timeshelf(1, "subscribe", "--repo", "plain", "--source", "vendor", hour=9)
    for name in ("slow", "urgent"):
        p.timeshelf(1, "add", "--source", "vendor", wheel(p.dists, name, "1.0"), hour=10)
    p.timeshelf(1, "add", "--source", "local", wheel(p.dists, "inhouse", "1.0"), hour=10)
    observe(p, 1)
    for day in range(2, LAST_DAY + 2):
        p.start_sidecar(day)
        p.on_demand[day - 1] = p.pages(day - 1)  # not on disk yet: the sidecar renders it
        assert f"snapshot(s) written for {date_of(day - 1)}" in p.timeshelf(day, "generate")
        p.frozen[day - 1] = p.pages(day - 1)
        if day == 2:
            p.timeshelf(2, "add", "--source", "vendor", wheel(p.dists, "urgent", "2.0"),
                        hour=10)
            p.timeshelf(2, "cooldown", "allow", "--repo", "cool", "urgent==2.0",
                        "--reason", "CVE fix", "--by", "alice", hour=10)
        if day == 3:
            p.timeshelf(3, "add", "--source", "vendor", wheel(p.dists, "slow", "2.0"), hour=10)
        if day <= LAST_DAY:
            observe(p, day)


def observe(p: Play, day: int) -> None:
    """What pip and uv install on ``day`` (after its generate)."""
    for client in ("pip", "uv"):
        if day in (1, 7, 8):
            p.install(day, f"{client} slow==1.0", client, "cool", "slow==1.0")
        if day in (1, 2):
            p.install(day, f"{client} inhouse", client, "cool", "inhouse")
        if day == 2:
            p.install(day, f"{client} urgent==2.0", client, "cool", "urgent==2.0")
            p.install(day, f"{client} urgent==1.0", client, "cool", "urgent==1.0")
        if day in (7, 8, 10):
            # The cooldown repository against the plain one with the client's own limit:
            # the cooldown's cutoff is 7 days before now (11:00).
            cutoff = (datetime.fromisoformat(moment(day)) - timedelta(days=7)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            p.install(day, f"{client} slow", client, "cool", "slow")
            option = "--exclude-newer" if client == "uv" else "--uploaded-prior-to"
            p.install(day, f"{client} slow limited", client, "plain", "slow", option, cutoff)


# -- installs -----------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize(("day", "expected"), [(1, {}), (7, {}), (8, {"slow": "1.0"})],
                         ids=["day1", "day7", "day8"])
def test_a_version_uploaded_on_day_1_installs_from_day_8(
    play: Play, client: str, day: int, expected: dict[str, str]
) -> None:
    key = (day, f"{client} slow==1.0")
    assert play.seen[key] == expected, play.outputs[key]


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_an_allowed_release_installs_at_once(play: Play, client: str) -> None:
    key = (2, f"{client} urgent==2.0")
    assert play.seen[key] == {"urgent": "2.0"}, play.outputs[key]
    # The allowance is for 2.0 only: 1.0, a day older, still waits.
    key = (2, f"{client} urgent==1.0")
    assert play.seen[key] == {}, play.outputs[key]


@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize("day", [1, 2])
def test_an_exempt_source_lists_at_once(play: Play, client: str, day: int) -> None:
    key = (day, f"{client} inhouse")
    assert play.seen[key] == {"inhouse": "1.0"}, play.outputs[key]


@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize(("day", "expected"),
                         [(7, {}), (8, {"slow": "1.0"}), (10, {"slow": "2.0"})],
                         ids=["day7-none", "day8-v1", "day10-v2"])
def test_clients_upload_time_limits_agree_with_the_cooldown(
    play: Play, client: str, day: int, expected: dict[str, str]
) -> None:
    # uv's --exclude-newer and pip's --uploaded-prior-to against the plain repository,
    # with the cutoff the cooldown applies, pick what the cooldown repository lists.
    cool, limited = (day, f"{client} slow"), (day, f"{client} slow limited")
    assert play.seen[cool] == expected, play.outputs[cool]
    assert play.seen[limited] == expected, play.outputs[limited]


# -- dated pages --------------------------------------------------------------------------


def listed(page: Page) -> list[str]:
    status, _html, data = page
    if status == 404:
        return []
    assert status == 200, page
    return sorted(f["filename"].split("-")[1] for f in json.loads(data)["files"])


@pytest.mark.parametrize("day", range(1, LAST_DAY + 1))
def test_each_day_lists_what_had_come_of_age_by_its_end(play: Play, day: int) -> None:
    pages = play.frozen[day]
    assert listed(pages["slow/"]) == (["1.0", "2.0"] if day >= 10 else ["1.0"] if day >= 8
                                      else [])
    assert listed(pages["urgent/"]) == (["1.0", "2.0"] if day >= 8 else ["2.0"] if day >= 2
                                        else [])
    assert listed(pages["inhouse/"]) == ["1.0"]
    root = json.loads(pages[""][2])
    names = {p["name"] for p in root["projects"]}
    assert names == {"inhouse"} | ({"urgent"} if day >= 2 else set()) | (
        {"slow"} if day >= 8 else set())


@pytest.mark.parametrize("day", range(1, LAST_DAY + 1))
def test_materialized_days_are_byte_identical_to_on_demand(play: Play, day: int) -> None:
    # A project a day does not list is a 404 either way (nginx's own for a day on disk,
    # the sidecar's explained one before); the pages it lists are the same bytes.
    frozen, rendered = play.frozen[day], play.on_demand[day]
    assert {k: v[0] for k, v in frozen.items()} == {k: v[0] for k, v in rendered.items()}
    assert {k: v for k, v in frozen.items() if v[0] == 200} == {
        k: v for k, v in rendered.items() if v[0] == 200}


def test_pages_keep_the_real_upload_time(play: Play) -> None:
    files = json.loads(play.frozen[LAST_DAY]["slow/"][2])["files"]
    assert {f["filename"]: f["upload-time"] for f in files} == {
        "slow-1.0-py3-none-any.whl": "2026-03-01T10:00:00.000000Z",
        "slow-2.0-py3-none-any.whl": "2026-03-03T10:00:00.000000Z",
    }
