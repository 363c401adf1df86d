"""The mirror end to end: real pip through real nginx, files fetched lazily by the sidecar.

An upstream (``tests.upstream``) serves real wheels on 127.0.0.1; ``timeshelf sync``
mirrors it lazily (pages only); nginx serves the site and passes the first request of
each file (and of its PEP 658 ``.metadata``) to ``timeshelf serve``, which fetches,
verifies and stores it. pip runs isolated from this machine's configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import PYTHON, client_env, installed, run
from tests.factory import WheelSpec, build_wheel
from tests.servers import (
    free_port,
    http_get,
    make_installation,
    nginx_conf_for,
    run_nginx,
    run_timeshelf,
    run_timeshelf_serve,
)
from tests.upstream import FakeUpstream, serve_upstream

pytestmark = pytest.mark.e2e
OLD = datetime(2024, 6, 1, 8, tzinfo=UTC)
NEWER = datetime(2025, 6, 1, 8, tzinfo=UTC)


@dataclass
class MirrorSite:
    config: Path
    base_url: str
    upstream: FakeUpstream
    env: dict[str, str]
    work: Path

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/python/latest/simple/"

    def pip_install(self, *requirements: str, check: bool = True,
                    index_url: str | None = None) -> tuple[Path, str]:
        target = self.work / f"target-{len(list(self.work.iterdir()))}"
        done = run([PYTHON, "-m", "pip", "install", "--target", target, "--index-url",
                    index_url or self.index_url, *requirements], env=self.env, check=check)
        return target, done.stdout + done.stderr


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TIMESHELF_")}


@pytest.fixture(scope="module")
def mirror_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorSite]:
    dists = tmp_path_factory.mktemp("dists")
    with serve_upstream(FakeUpstream()) as upstream:
        upstream.add(build_wheel(dists, WheelSpec("lazyapp", "1.0",
                                                  requires_dist=("lazylib>=1",))), uploaded=OLD)
        upstream.add(build_wheel(dists, WheelSpec("lazylib", "1.0")), uploaded=OLD)
        upstream.add(build_wheel(dists, WheelSpec("lazylib", "2.0")), uploaded=NEWER)
        upstream.add(build_wheel(dists, WheelSpec("poisoned", "1.0")), uploaded=OLD)
        upstream.poison("poisoned", "poisoned-1.0-py3-none-any.whl")
        home = tmp_path_factory.mktemp("installation")
        config = make_installation(home, env=environment())
        env = environment()
        for args in (
            ("create", "source", "--name", "pypi", "--type", "pypi", "--upstream",
             upstream.index_url),
            ("subscribe", "--repo", "python", "--source", "pypi"),
            ("sync",),
        ):
            run_timeshelf("--config", str(config), *args, env=env)
        assert not upstream.paths("/packages/"), "a lazy sync downloads no file"
        work = tmp_path_factory.mktemp("clients")
        (work / "home").mkdir()
        with run_timeshelf_serve(config, env=env) as sidecar:
            conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}",
                                  sidecar=sidecar.address, env=env)
            with run_nginx(conf, tmp_path_factory.mktemp("nginx")) as nginx:
                targets = work / "targets"
                targets.mkdir()
                yield MirrorSite(config=config, base_url=nginx.base_url, upstream=upstream,
                                 env=client_env(work / "home"), work=targets)


def test_pip_installs_a_lazily_mirrored_project_with_its_dependency(
    mirror_site: MirrorSite,
) -> None:
    upstream = mirror_site.upstream
    upstream.clear_log()

    target, _ = mirror_site.pip_install("lazyapp")

    assert installed(target) == {"lazyapp": "1.0", "lazylib": "2.0"}
    fetched = sorted(p.rpartition("/")[2] for p in upstream.paths("/packages/"))
    # pip read each wheel's PEP 658 metadata first, then the wheel: each fetched once.
    assert fetched == sorted([
        "lazyapp-1.0-py3-none-any.whl", "lazyapp-1.0-py3-none-any.whl.metadata",
        "lazylib-2.0-py3-none-any.whl", "lazylib-2.0-py3-none-any.whl.metadata",
    ])

    upstream.clear_log()
    again, _ = mirror_site.pip_install("lazyapp")
    assert installed(again) == {"lazyapp": "1.0", "lazylib": "2.0"}
    assert upstream.requests() == [], "the second install is served from the store"


def test_a_poisoned_upstream_file_is_refused_through_nginx(mirror_site: MirrorSite) -> None:
    entry = mirror_site.upstream.file("poisoned", "poisoned-1.0-py3-none-any.whl")
    digest = entry.sha256
    url = (f"{mirror_site.base_url}/files/{digest[:2]}/{digest[2:4]}/{digest}/"
           "poisoned-1.0-py3-none-any.whl")

    reply = http_get(url)

    assert reply.status == 502
    assert b"refused and nothing was stored" in reply.body
    _target, output = mirror_site.pip_install("poisoned", check=False)
    assert "poisoned" in output
    assert http_get(url).status == 502, "still refused: nothing was stored"
    assert hashlib.sha256(entry.data).hexdigest() == digest


def test_a_backfilled_project_installs_at_a_date_before_the_mirror_existed(
    mirror_site: MirrorSite,
) -> None:
    """Reconstructed day: the upstream's state then, from the upload times backfilled."""
    day = f"{mirror_site.base_url}/python/2025-01-01/simple/"

    target, _ = mirror_site.pip_install("lazyapp", index_url=day)

    assert installed(target) == {"lazyapp": "1.0", "lazylib": "1.0"}
    listing = http_get(f"{mirror_site.base_url}/python/snapshots.json")
    days = {d["date"]: d for d in json.loads(listing.body)["snapshots"]}
    assert days["2025-01-01"]["reconstructed"] is True
