"""An upgrade across a Simple format change, end to end: real nginx, real ``timeshelf
serve``, real pip and uv.

The catalog is the one the timeshelf of revision 6239c96 (format 1: API 1.1, no PEP 792
status) wrote (``tests/generator/snapshots/made_by_format1``: tempo 1.0 and other 1.0
on 03-01, tempo 2.0 and a yank on 03-02), taken over by today's timeshelf. Its old days
are served with the bytes the old timeshelf materialized for them, first rendered on
demand by the sidecar, then from disk once the new ``generate`` wrote them; the day of
the upgrade and later ones carry the status markers.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.storage.store import file_key
from tests.conftest import Dists
from tests.e2e.conftest import PYTHON, TIMESHELF, UV, client_env, installed, run, timeshelf_env
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

MADE = Path(__file__).resolve().parents[1] / "generator" / "snapshots" / "made_by_format1"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
OLD_DAYS = ("2026-03-01", "2026-03-02")
PAGES = {"root": "", "tempo": "tempo/", "other": "other/"}


@dataclass
class Upgraded:
    home: Path
    nginx: Server
    client_home: Path

    def pages(self, day: str) -> dict[str, tuple[bytes, bytes]]:
        """Every page of a day through nginx, as (html, json); each must be a 200."""
        found = {}
        for name, page in PAGES.items():
            url = self.nginx.url(f"/python/{day}/simple/{page}")
            html, data = http_get(url), http_get(url, accept=JSON_ACCEPT)
            assert (html.status, data.status) == (200, 200), (day, page, html, data)
            found[name] = (html.body, data.body)
        return found

    def timeshelf(self, now: str, *args: str) -> str:
        return run([TIMESHELF, "--config", self.home / "timeshelf.toml", *args],
                   env=timeshelf_env({"TIMESHELF_NOW": now})).stderr


def old_pages(day: str) -> dict[str, tuple[bytes, bytes]]:
    return {name: ((MADE / day / f"{name}.html").read_bytes(),
                   (MADE / day / f"{name}.json").read_bytes()) for name in PAGES}


def place_old_files(files: Path, dists: Dists) -> None:
    """The old installation's files (rebuilt: the builds are reproducible) where the
    site serves them, with the wheels' .metadata."""
    for path in (dists.wheel("tempo", "1.0"), dists.wheel("other", "1.0"),
                 dists.sdist("tempo", "2.0")):
        content = path.read_bytes()
        target = files / file_key(hashlib.sha256(content).hexdigest(), path.name)
        target.parent.mkdir(parents=True)
        target.write_bytes(content)
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
                target.with_name(path.name + ".metadata").write_bytes(wheel.read(name))


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgraded]:
    if not Path(NGINX).exists():
        pytest.fail(f"nginx ({NGINX}) is not installed: `make test` installs it")
    base = tmp_path_factory.mktemp("format-upgrade")
    home = base / "installation"
    run([TIMESHELF, "init", home], env=timeshelf_env({"TIMESHELF_NOW": "2026-03-01T08:00:00Z"}))
    catalog = home / "catalog.sqlite3"
    for leftover in home.glob("catalog.sqlite3*"):
        leftover.unlink()
    db = sqlite3.connect(catalog)
    db.executescript((MADE / "catalog.sql").read_text())
    # Its output is not carried over (a new server): no day is on disk any more.
    db.execute("DELETE FROM snapshots")
    db.commit()
    db.close()
    place_old_files(home / "site" / "files", Dists(base / "dists"))
    sidecar_port = free_port()
    conf = nginx_conf_for(home / "timeshelf.toml", listen=f"127.0.0.1:{free_port()}",
                          sidecar=f"127.0.0.1:{sidecar_port}")
    client_home = base / "client-home"
    client_home.mkdir()
    with run_nginx(conf, base / "nginx") as nginx, run_timeshelf_serve(
        home / "timeshelf.toml", port=sidecar_port,
        env=timeshelf_env({"TIMESHELF_NOW": "2026-03-03T09:00:00Z"}),
    ):
        yield Upgraded(home=home, nginx=nginx, client_home=client_home)


def test_old_days_keep_their_bytes_on_demand_then_from_disk(upgraded: Upgraded) -> None:
    # Not on disk (the output is new): nginx passes them to the sidecar, which renders
    # them from the migrated catalog.
    for day in OLD_DAYS:
        assert not (upgraded.home / "site" / "python" / day).exists()
        assert upgraded.pages(day) == old_pages(day), day
    # The new timeshelf's generate writes the old days (in format 1): every page of them
    # is what it was.
    report = upgraded.timeshelf("2026-03-03T12:00:00Z", "generate")
    assert "snapshot(s) written for 2026-03-01" in report, report
    for day in OLD_DAYS:
        assert (upgraded.home / "site" / "python" / day / "simple").is_dir()
        assert upgraded.pages(day) == old_pages(day), day


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_clients_install_from_an_old_day(upgraded: Upgraded, client: str, tmp_path: Path,
                                         ) -> None:
    index = upgraded.nginx.url("/python/2026-03-01/simple/")
    if client == "pip":
        args: list[str | Path] = [PYTHON, "-m", "pip", "install", "--target", tmp_path,
                                  "--index-url", index, "tempo"]
    else:
        args = [UV, "pip", "install", "--python", PYTHON, "--target", tmp_path,
                "--index-url", index, "tempo"]
    run(args, env=client_env(upgraded.client_home))
    assert installed(tmp_path) == {"tempo": "1.0"}


def test_the_day_of_the_upgrade_has_the_status_markers(upgraded: Upgraded) -> None:
    upgraded.timeshelf("2026-03-04T10:00:00Z", "generate")
    assert (upgraded.home / "site" / "python" / "2026-03-03" / "simple").is_dir()
    html, data = upgraded.pages("2026-03-03")["tempo"]
    assert b'<meta name="pypi:project-status" content="active">' in html
    assert b'"api-version":"1.4"' in data
    latest = http_get(upgraded.nginx.url("/python/latest/simple/tempo/"))
    assert b'<meta name="pypi:repository-version" content="1.4">' in latest.body
    with sqlite3.connect(upgraded.home / "catalog.sqlite3") as db:
        formats = db.execute("SELECT version, since FROM render_formats ORDER BY id").fetchall()
    db.close()
    assert [v for v, _since in formats] == ["1", "2"]
    assert "2026-03-02T23:59:59.999999Z" < formats[1][1] <= "2026-03-03T12:00:00.000000Z"
    # The old days still answer their old bytes.
    for day in OLD_DAYS:
        assert upgraded.pages(day) == old_pages(day), day
