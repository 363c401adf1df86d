"""Dated snapshots end to end: real nginx, real ``timeshelf serve``, real pip, uv, pip-tools.

One history is played out day by day through the real interfaces, with the clock set by
``TIMESHELF_NOW`` for every CLI call and for the sidecar (restarted each "day"):

    day 1  tempo 1.0 uploaded with twine (through nginx), other 1.0 added
    day 2  tempo 2.0 (needs other) added
    day 3  tempo 1.0 yanked ("bad build")
    day 4  tempo 2.0 removed
    day 5  timeshelf generate, then generate --full

Then clients install from ``/python/<day>/simple/`` through nginx. Materialized days are
files nginx serves alone; a day that is not on disk (not written yet, or pruned by the
retention policy) goes to the sidecar, which renders it with the same bytes.

The tests of this module share that history and run in file order: the last ones add
later uploads and prune days.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    PYTHON,
    TIMESHELF,
    UV,
    client_env,
    installed,
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
    run_nginx,
    run_timeshelf_serve,
)

pytestmark = pytest.mark.e2e

TWINE = Path(sys.executable).with_name("twine")
PIP_COMPILE = Path(sys.executable).with_name("pip-compile")
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04")
PAGES = ("", "tempo/", "other/")  # the root and both project pages of a day


def moment(day: int, hour: int = 10) -> str:
    """``TIMESHELF_NOW`` for an hour of day ``day`` (day 1 = 2026-03-01)."""
    return f"2026-03-{day:02d}T{hour:02d}:00:00Z"


@dataclass
class History:
    """The installation, its nginx and its (restartable) sidecar, and what was seen."""

    home: Path
    config: Path
    dists: Path
    nginx: Server
    sidecar_port: int
    access_log: Path
    client_home: Path
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    sidecar: Server | None = None
    # Pages of each day as nginx served them right after the day was materialized:
    # {day: {page path: (html, json)}}.
    frozen: dict[str, dict[str, tuple[bytes, bytes]]] = field(default_factory=dict)
    work_count: int = 0

    @property
    def output(self) -> Path:
        return self.home / "site"

    @property
    def client_env(self) -> dict[str, str]:
        return client_env(self.client_home)

    def url(self, day: str, page: str = "") -> str:
        return self.nginx.url(f"/python/{day}/simple/{page}")

    def timeshelf(self, day: int, *args: str | Path, hour: int = 10) -> str:
        """Run the real CLI on day ``day``; its stderr (where it reports)."""
        done = run([TIMESHELF, "--config", self.config, *args],
                   env=timeshelf_env({"TIMESHELF_NOW": moment(day, hour)}))
        return done.stderr

    def start_sidecar(self, day: int, hour: int = 10) -> None:
        """(Re)start ``timeshelf serve`` on its fixed port with the clock on ``day``."""
        self.stop_sidecar()
        self.sidecar = self.stack.enter_context(run_timeshelf_serve(
            self.config, port=self.sidecar_port,
            env=timeshelf_env({"TIMESHELF_NOW": moment(day, hour)}),
        ))

    def stop_sidecar(self) -> None:
        if self.sidecar is not None:
            self.stack.close()
            self.stack = contextlib.ExitStack()
            self.sidecar = None

    def pages(self, day: str) -> dict[str, tuple[bytes, bytes]]:
        """Every page of a day through nginx, as (html, json); each must be a 200."""
        found = {}
        for page in PAGES:
            html, data = http_get(self.url(day, page)), http_get(self.url(day, page),
                                                                 accept=JSON_ACCEPT)
            assert (html.status, data.status) == (200, 200), (day, page, html, data)
            found[page] = (html.body, data.body)
        return found

    def fresh_dir(self, stem: str) -> Path:
        self.work_count += 1
        path = self.home.parent / "work" / f"{stem}-{self.work_count}"
        path.mkdir(parents=True)
        return path

    def install(self, client: str, day: str, *requirements: str,
                options: tuple[str, ...] = (), check: bool = True
                ) -> tuple[dict[str, str], str]:
        """Install into a fresh target from a day's URL; (what got installed, output)."""
        target = self.fresh_dir(f"{client}-{day}")
        index = ["--index-url", self.url(day)]
        if client == "pip":
            args: list[str | Path] = [PYTHON, "-m", "pip", "install", "--target", target,
                                      *index, *options, *requirements]
        else:
            args = [UV, "pip", "install", "--python", PYTHON, "--target", target, *index,
                    *options, *requirements]
        done = run(args, env=self.client_env, check=check)
        return installed(target), done.stdout + done.stderr


def wheel(directory: Path, name: str, version: str, *requires: str) -> Path:
    return build_wheel(directory, WheelSpec(name=name, version=version, requires_dist=requires))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    if not Path(NGINX).exists():
        pytest.fail(f"nginx ({NGINX}) is not installed: `make test` installs it")
    base = tmp_path_factory.mktemp("snapshots")
    home, dists = base / "installation", base / "dists"
    run([TIMESHELF, "init", home], env=timeshelf_env({"TIMESHELF_NOW": moment(1, 8)}))
    config = home / "timeshelf.toml"
    sidecar_port = free_port()
    conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                          sidecar=f"127.0.0.1:{sidecar_port}")
    client_home = base / "client-home"
    client_home.mkdir()
    with run_nginx(conf, base / "nginx") as nginx:
        h = History(home=home, config=config, dists=dists, nginx=nginx,
                    sidecar_port=sidecar_port, access_log=nginx.extra["access_log"],
                    client_home=client_home)
        try:
            play_history(h)
            yield h
        finally:
            h.stop_sidecar()


def play_history(h: History) -> None:
    token = run(
        [TIMESHELF, "--config", h.config, "create", "token", "--description", "e2e",
         "--sources", "local", "--expires", "never", "-q"],
        env=timeshelf_env({"TIMESHELF_NOW": moment(1, 8)}),
    ).stdout.strip()

    # Day 1: tempo 1.0 through twine → nginx → sidecar; other 1.0 with the CLI.
    h.start_sidecar(1)
    twine_env = {
        **h.client_env, "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": token,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    run([TWINE, "upload", "--non-interactive", "--disable-progress-bar", "--repository-url",
         h.nginx.url("/upload/pypi/local/"), wheel(h.dists, "tempo", "1.0")], env=twine_env)
    h.timeshelf(1, "add", "--source", "local", wheel(h.dists, "other", "1.0"))

    # Day 2: day 1 is over but not written yet: nginx passes it to the sidecar, which
    # renders it; once `generate` writes it, nginx serves the same bytes from disk.
    h.start_sidecar(2)
    assert not (h.output / "python" / DAYS[0]).exists()
    on_demand = h.pages(DAYS[0])
    assert "snapshot(s) written for 2026-03-01" in h.timeshelf(2, "generate")
    h.frozen[DAYS[0]] = h.pages(DAYS[0])
    assert h.frozen[DAYS[0]] == on_demand
    h.timeshelf(2, "add", "--source", "local", wheel(h.dists, "tempo", "2.0", "other"))

    # Days 3, 4, 5.
    h.timeshelf(3, "yank", "tempo", "1.0", "--reason", "bad build")
    h.timeshelf(4, "remove", "tempo", "2.0")
    h.timeshelf(5, "generate")
    h.timeshelf(5, "generate", "--full")
    h.start_sidecar(5)
    for day in DAYS[1:]:
        h.frozen[day] = h.pages(day)


# -- what each day holds ----------------------------------------------------------------


@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize(
    ("day", "requirement", "expected"),
    [
        (DAYS[0], "tempo", {"tempo": "1.0"}),
        (DAYS[1], "tempo", {"tempo": "2.0", "other": "1.0"}),
        (DAYS[2], "tempo", {"tempo": "2.0", "other": "1.0"}),
        # Only the yanked 1.0 is left: PEP 592 lets an installer take it when pinned.
        (DAYS[3], "tempo==1.0", {"tempo": "1.0"}),
        (DAYS[2], "tempo==1.0", {"tempo": "1.0"}),
    ],
    ids=["day1-v1", "day2-v2", "day3-v2-v1-yanked", "day4-pinned-yanked", "day3-pinned-yanked"],
)
def test_each_day_installs_what_existed_then(
    history: History, client: str, day: str, requirement: str, expected: dict[str, str]
) -> None:
    got, output = history.install(client, day, requirement)
    assert got == expected, output
    if "==1.0" in requirement:
        assert "bad build" in output, output  # both clients show the yank reason


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_a_day_with_only_a_yanked_version_installs_nothing_unpinned(
    history: History, client: str
) -> None:
    got, output = history.install(client, DAYS[3], "tempo", check=False)
    assert got == {}
    # pip: "Ignored the following yanked versions: 1.0"; uv: "tempo==1.0 was yanked".
    assert "yanked" in output, output
    assert "1.0" in output, output


def test_day_pages_list_exactly_that_days_files(history: History) -> None:
    def listed(day: str) -> dict[str, object]:
        document = json.loads(history.frozen[day]["tempo/"][1])
        return {f["filename"].split("-")[1]: f["yanked"] for f in document["files"]}

    assert listed(DAYS[0]) == {"1.0": False}
    assert listed(DAYS[1]) == {"1.0": False, "2.0": False}
    assert listed(DAYS[2]) == {"1.0": "bad build", "2.0": False}
    assert listed(DAYS[3]) == {"1.0": "bad build"}


# -- frozen bytes, served by nginx from disk ----------------------------------------------


def test_day1_bytes_survive_later_days_and_full_generate(history: History) -> None:
    # Captured on day 2 just after day 1 was written; since then: an upload, a yank, a
    # removal, an incremental and a full generate.
    assert history.pages(DAYS[0]) == history.frozen[DAYS[0]]


def test_materialized_days_are_symlinked_pages_nginx_serves_alone(history: History) -> None:
    simple = history.output / "python" / DAYS[1] / "simple"
    for project in ("tempo", "other"):
        link = simple / project
        assert link.is_symlink(), link
        assert os.readlink(link).startswith("../../.pages/"), link
    # An unchanged project shares its pages with the day before.
    assert os.readlink(simple / "other") == os.readlink(
        history.output / "python" / DAYS[2] / "simple" / "other")

    history.stop_sidecar()
    try:
        for day in DAYS:
            assert history.pages(day) == history.frozen[day], day
        started = time.monotonic()
        missing = http_get(history.url("2026-02-28", "tempo/"), accept=JSON_ACCEPT)
        assert missing.status == 404, missing  # not a 502: the sidecar is down
        assert time.monotonic() - started < 3
    finally:
        history.start_sidecar(5)
    # Nothing of days 2-4 was ever rendered by the sidecar.
    cache = history.output / "python" / ".ondemand"
    assert not [p for p in cache.glob("*/*") if p.name in DAYS[1:]], list(cache.glob("*/*"))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("2026-03-05/simple/", "no snapshot for 2026-03-05: today is not over yet"),
        ("2026-04-01/simple/tempo/", "no snapshot for 2026-04-01: that day is not over yet"),
        ("2026-02-28/simple/", "repository 'python' begins on 2026-03-01"),
        ("2026-02-30/simple/tempo/", "invalid date '2026-02-30': use YYYY-MM-DD"),
        ("2026-3-1/simple/", "invalid date '2026-3-1': use YYYY-MM-DD"),
    ],
    ids=["today", "future", "before-history", "impossible-date", "malformed-date"],
)
def test_days_without_a_snapshot_are_explained_404s(
    history: History, path: str, reason: str
) -> None:
    for accept in (None, JSON_ACCEPT):
        reply = http_get(history.nginx.url(f"/python/{path}"), accept=accept)
        assert reply.status == 404, reply
        text = reply.body.decode()
        assert reason in text, text
        assert text.count("\n") == 1, text  # one line
        assert text.endswith("\n"), text


# -- reproducible resolution ------------------------------------------------------------


def resolutions(h: History) -> dict[str, str]:
    """What uv and pip-tools resolve against day 2's URL, each as text to compare."""
    day2 = h.url(DAYS[1])
    found = {}
    # The same paths every time: the outputs name the input file.
    work = h.home.parent / "resolve"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    (work / "requirements.in").write_text("tempo\n")
    compiled = run([PIP_COMPILE, "--quiet", "--no-header", "--index-url", day2, "--cache-dir",
                    work / "cache", "--output-file", work / "pip-tools.txt",
                    work / "requirements.in"], env=h.client_env)
    assert compiled.returncode == 0
    found["pip-compile"] = (work / "pip-tools.txt").read_text()
    uv_compiled = run([UV, "pip", "compile", "--python", PYTHON, "--no-header",
                       "--index-url", day2, "--exclude-newer", "2026-03-02T23:59:59Z",
                       work / "requirements.in"], env=h.client_env)
    found["uv-compile"] = uv_compiled.stdout
    target = work / "target"
    run([UV, "pip", "install", "--python", PYTHON, "--target", target, "--index-url", day2,
         "--exclude-newer", "2026-03-02T23:59:59Z", "tempo"], env=h.client_env)
    found["uv-install"] = "\n".join(
        f"{p.relative_to(target)} {hashlib.sha256(p.read_bytes()).hexdigest()}"
        for p in sorted(target.rglob("*.py")) + sorted(target.rglob("METADATA"))
    )
    return found


def test_resolution_against_a_snapshot_is_reproducible(history: History) -> None:
    first = resolutions(history)
    assert "tempo==2.0" in first["pip-compile"], first["pip-compile"]
    assert "other==1.0" in first["pip-compile"], first["pip-compile"]
    assert "tempo==2.0" in first["uv-compile"], first["uv-compile"]
    assert resolutions(history) == first

    # Later uploads that would change the answer of latest/ change nothing for day 2.
    history.start_sidecar(6)
    history.timeshelf(6, "add", "--source", "local", wheel(history.dists, "tempo", "3.0"),
                      wheel(history.dists, "other", "2.0"))
    history.timeshelf(6, "unyank", "tempo", "1.0")
    got, _ = history.install("pip", "latest", "tempo", "other")
    assert got == {"tempo": "3.0", "other": "2.0"}
    assert resolutions(history) == first
    assert history.pages(DAYS[1]) == history.frozen[DAYS[1]]


# -- retention ------------------------------------------------------------------------


def test_days_past_retention_are_rendered_on_demand_with_the_same_bytes(
    history: History,
) -> None:
    text = history.config.read_text()
    assert "daily_days = 90" in text
    assert "monthly = true" in text
    history.config.write_text(
        text.replace("daily_days = 90", "daily_days = 1").replace("monthly = true",
                                                                  "monthly = false"))
    history.start_sidecar(7)
    report = history.timeshelf(7, "generate")
    assert "past retention removed" in report, report
    for day in DAYS:
        assert not (history.output / "python" / day).exists(), day
    assert (history.output / "python" / "2026-03-06" / "simple").is_dir()

    for day in DAYS:
        assert history.pages(day) == history.frozen[day], day
    cache = history.output / "python" / ".ondemand"
    assert {p.name for p in cache.glob("*/*")} >= set(DAYS), "the sidecar rendered them"
    got, _ = history.install("pip", DAYS[2], "tempo")
    assert got == {"tempo": "2.0", "other": "1.0"}

    listing = http_get(history.nginx.url("/python/snapshots.json"))
    assert listing.status == 200
    days = {s["date"]: s["materialized"] for s in json.loads(listing.body)["snapshots"]}
    assert days == {**dict.fromkeys(DAYS, False), "2026-03-05": False, "2026-03-06": True}
