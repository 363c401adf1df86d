"""`timeshelf sync` against a fixture upstream on 127.0.0.1 (``tests.upstream``).

Each test builds real wheels, publishes them upstream, runs the real CLI in-process and
checks the catalog, the generated pages and the requests the upstream saw.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from generator.installation import Installation
from tests.conftest import CliRunner, Dists, FakeClock
from tests.upstream import FakeUpstream, serve_upstream

OLD = datetime(2024, 6, 1, 8, tzinfo=UTC)
# The [mirror] settings of `timeshelf init`, made quick for tests.
FAST = {"workers = 8": "workers = 4", "retries = 3": "retries = 2",
        "retry_backoff = 1.0": "retry_backoff = 0.01", "timeout = 30": "timeout = 10"}


def configure(inst: Installation, extra: str = "") -> None:
    """Append the fast retry settings (and ``extra`` TOML) to the configuration file."""
    path = inst.config.file
    text = path.read_text()
    for old, new in FAST.items():
        text = text.replace(old, new)
    path.write_text(text + extra)


def page(inst: Installation, project: str) -> dict[str, object]:
    path = inst.config.output_path / "python" / "latest" / "simple" / project / "index.json"
    document: dict[str, object] = json.loads(path.read_text())
    return document


def files_of(inst: Installation, project: str) -> list[dict[str, Any]]:
    files = page(inst, project)["files"]
    assert isinstance(files, list)
    return files


def filenames(inst: Installation, project: str) -> set[str]:
    path = inst.config.output_path / "python" / "latest" / "simple" / project / "index.json"
    if not path.exists():
        return set()
    files = page(inst, project)["files"]
    assert isinstance(files, list)
    return {f["filename"] for f in files}


def rows(inst: Installation, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(inst.config.catalog_path) as db:
        found = db.execute(sql, params).fetchall()
    db.close()
    return found


def publish(upstream: FakeUpstream, dists: Dists, name: str, *versions: str,
            uploaded: datetime = OLD, requires_python: str | None = None) -> list[str]:
    names = []
    for version in versions:
        wheel = dists.wheel(name, version, requires_python=requires_python)
        upstream.add(wheel, uploaded=uploaded, requires_python=requires_python)
        names.append(wheel.name)
    return names


def test_first_sync_lists_every_file_with_upstream_metadata(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    clock: FakeClock,
) -> None:
    publish(upstream, dists, "alpha", "1.0", "1.1")
    publish(upstream, dists, "beta", "2.0", requires_python=">=3.8")
    upstream.yank("beta", "beta-2.0-py3-none-any.whl", "broken")

    result = mirror("sync")

    assert result.code == 0, result.err
    assert "3 files added" in result.err
    assert filenames(installation, "alpha") == {"alpha-1.0-py3-none-any.whl",
                                                "alpha-1.1-py3-none-any.whl"}
    (beta,) = files_of(installation, "beta")
    assert beta["yanked"] == "broken"
    assert beta["requires-python"] == ">=3.8"
    assert beta["upload-time"] == "2024-06-01T08:00:00.000000Z"
    metadata = upstream.file("beta", beta["filename"]).metadata
    assert metadata is not None
    assert beta["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
    assert beta["url"].endswith(f"/files/{beta['hashes']['sha256'][:2]}/"
                                f"{beta['hashes']['sha256'][2:4]}/{beta['hashes']['sha256']}/"
                                f"{beta['filename']}")
    # History backfill: a first sync dates files from their upstream upload time.
    assert rows(installation, "SELECT DISTINCT added_at, recorded_at FROM files") == [
        ("2024-06-01T08:00:00.000000Z", "2026-03-01T12:00:00.000000Z")
    ]
    # Lazy by default: nothing was downloaded.
    assert not upstream.paths("/packages/")
    # Project pages are fetched concurrently: their order is not part of the contract.
    assert upstream.paths()[0] == "/simple/"
    assert sorted(upstream.paths()[1:]) == ["/simple/alpha/", "/simple/beta/"]


def test_mirrored_legacy_versions_are_kept_and_sort_deterministically(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    """PyPI still hosts files that are not PEP 440: a mirror keeps them (``add`` and
    uploads refuse them for local sources) and sorts them before the valid ones."""
    paths = [
        dists.sdist("foo", "2.0"),
        dists.sdist("foo", "1.0-custom-2", filename="foo-1.0-custom-2.tar.gz"),
        dists.sdist("foo", "r5"),
        dists.wheel("foo", "1.0"),
    ]
    for path in paths:
        upstream.add(path, uploaded=OLD, display_name="foo")

    result = mirror("sync")

    assert result.code == 0, result.err
    assert page(installation, "foo")["versions"] == ["1.0-custom-2", "r5", "1.0", "2.0"]
    assert [f["filename"] for f in files_of(installation, "foo")] == sorted(
        p.name for p in paths)
    listing = mirror("list", "packages")
    assert listing.out == "PROJECT\tSOURCE\tLATEST\tVERSIONS\tFILES\nfoo\tpypi\t2.0\t4 versions\t4 files\n"


def test_a_resync_without_upstream_change_makes_one_request(
    mirror: CliRunner, upstream: FakeUpstream, dists: Dists
) -> None:
    publish(upstream, dists, "alpha", "1.0")
    publish(upstream, dists, "beta", "1.0")
    assert mirror("sync").code == 0
    upstream.clear_log()

    result = mirror("sync")

    assert result.code == 0, result.err
    assert upstream.requests() == [("GET", "/simple/", 304)]
    assert "upstream unchanged (1 request" in result.err


def test_a_sync_after_one_killed_before_generating_publishes_its_changes(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists
) -> None:
    # Found by the fault trials: a sync killed between its catalog writes and its
    # generation left the projects without pages, and the next sync, finding nothing new
    # upstream, did not generate. --no-generate leaves the same state on purpose.
    names = publish(upstream, dists, "alpha", "1.0")
    assert mirror("sync", "--no-generate").code == 0
    assert filenames(installation, "alpha") == set()

    result = mirror("sync")

    assert result.code == 0, result.err
    assert "upstream unchanged" in result.err
    assert filenames(installation, "alpha") == set(names)
    assert "python: incremental generation" in result.err
    # And a sync with nothing to publish says the repository is up to date.
    assert "python: up to date" in mirror("sync").err


def test_an_incremental_sync_fetches_only_changed_projects(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    clock: FakeClock,
) -> None:
    publish(upstream, dists, "alpha", "1.0")
    publish(upstream, dists, "beta", "1.0")
    assert mirror("sync").code == 0
    upstream.clear_log()
    clock.advance(days=1)
    (new,) = publish(upstream, dists, "alpha", "2.0")

    assert mirror("sync").code == 0

    assert upstream.paths() == ["/simple/", "/simple/alpha/"]
    assert new in filenames(installation, "alpha")
    # Not a first sync: the new file counts from the sync, not its upload time.
    assert rows(installation, "SELECT added_at FROM files WHERE filename = ?", new) == [
        ("2026-03-02T12:00:00.000000Z",)
    ]


def test_yanks_and_removals_propagate_as_events(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    clock: FakeClock,
) -> None:
    one, two = publish(upstream, dists, "alpha", "1.0", "2.0")
    publish(upstream, dists, "beta", "1.0")
    assert mirror("sync").code == 0
    clock.advance(hours=1)
    upstream.yank("alpha", one, "security")
    upstream.remove_file("alpha", two)
    upstream.remove_project("beta")

    result = mirror("sync")

    assert result.code == 0, result.err
    assert "1 yanked" in result.err
    assert "2 removed" in result.err
    (only,) = files_of(installation, "alpha")
    assert only["filename"] == one
    assert only["yanked"] == "security"
    assert filenames(installation, "beta") == set()
    events = rows(installation, "SELECT kind, at FROM events WHERE kind IN "
                  "('file_yanked', 'file_removed') ORDER BY kind")
    assert events == [("file_removed", "2026-03-01T13:00:00.000000Z"),
                      ("file_removed", "2026-03-01T13:00:00.000000Z"),
                      ("file_yanked", "2026-03-01T13:00:00.000000Z")]
    upstream.yank("alpha", one, False)
    assert mirror("sync").code == 0
    (only,) = files_of(installation, "alpha")
    assert only["yanked"] is False


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ('allow = ["alpha>=2"]', {"alpha-2.0-py3-none-any.whl"}),
        ('block = ["alpha<2", "beta"]', {"alpha-2.0-py3-none-any.whl"}),
        ("keep_releases = 1",
         {"alpha-2.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl",
          "beta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
          "beta-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "beta-1.0-cp311-cp311-win_amd64.whl"}),
        ('pythons = ["3.11"]\nplatforms = ["any", "manylinux*_x86_64"]',
         {"alpha-1.0-py3-none-any.whl", "alpha-2.0-py3-none-any.whl",
          "beta-1.0-py3-none-any.whl", "beta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"}),
        ("max_file_size = 1", set()),
    ],
    ids=["allow", "block", "newest", "wheel-tags", "max-size"],
)
def test_filters_leave_files_out(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    settings: str, expected: set[str],
) -> None:
    publish(upstream, dists, "alpha", "1.0", "2.0")
    publish(upstream, dists, "beta", "1.0")
    for tag in ("cp311-cp311-manylinux_2_17_x86_64", "cp312-cp312-manylinux_2_17_x86_64",
                "cp311-cp311-win_amd64"):
        upstream.add(dists.wheel("beta", "1.0", tag=tag), uploaded=OLD)
    configure(installation, f"\n[sources.pypi]\n{settings}\n")

    assert mirror("sync").code == 0

    assert filenames(installation, "alpha") | filenames(installation, "beta") == expected


def test_a_changed_filter_reevaluates_every_project(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    publish(upstream, dists, "alpha", "1.0", "2.0")
    assert mirror("sync").code == 0
    configure(installation, '\n[sources.pypi]\nallow = ["alpha>=2"]\n')

    result = mirror("sync")

    assert result.code == 0, result.err
    assert filenames(installation, "alpha") == {"alpha-2.0-py3-none-any.whl"}


def test_an_html_only_upstream_is_mirrored_with_validators(
    installation: Installation, cli: CliRunner, dists: Dists,
) -> None:
    configure(installation)
    with serve_upstream(FakeUpstream(html_only=True)) as html_upstream:
        publish(html_upstream, dists, "alpha", "1.0")
        publish(html_upstream, dists, "beta", "1.0")
        html_upstream.yank("beta", "beta-1.0-py3-none-any.whl", "old")
        assert cli("create", "source", "--name", "old", "--type", "pypi", "--upstream",
                   html_upstream.index_url).code == 0
        assert cli("subscribe", "--repo", "python", "--source", "old").code == 0
        assert cli("sync", "--source", "old").code == 0
        (beta,) = files_of(installation, "beta")
        assert beta["yanked"] == "old"
        assert beta["size"] == (dists.directory / "beta-1.0-py3-none-any.whl").stat().st_size
        html_upstream.clear_log()

        assert cli("sync", "--source", "old").code == 0

        # No serials: the root, then one conditional request per project, each a 304.
        assert sorted(html_upstream.requests()) == [
            ("GET", "/simple/", 200), ("GET", "/simple/alpha/", 304),
            ("GET", "/simple/beta/", 304),
        ]


def test_an_upstream_failing_midway_is_resumed_by_the_next_run(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    for name in ("p1", "p2", "p3", "p4", "p5", "p6"):
        publish(upstream, dists, name, "1.0")
    upstream.fail_projects_after(3)

    failed = mirror("sync")

    assert failed.code == 1
    assert "3 errors" in failed.err
    assert rows(installation, "SELECT root_etag, last_run_errors FROM mirror_sources") == [
        (None, 3)
    ]
    upstream.heal()
    upstream.clear_log()

    resumed = mirror("sync")

    assert resumed.code == 0, resumed.err
    assert len(upstream.paths("/simple/")) == 1 + 3  # the root, then only what failed
    assert set().union(*(filenames(installation, f"p{i}") for i in range(1, 7))) == {
        f"p{i}-1.0-py3-none-any.whl" for i in range(1, 7)
    }
    upstream.clear_log()
    assert mirror("sync").code == 0
    assert upstream.requests() == [("GET", "/simple/", 304)]


def test_server_errors_are_retried(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    publish(upstream, dists, "alpha", "1.0")
    upstream.fail_next(2)

    result = mirror("sync")

    assert result.code == 0, result.err
    assert [s for _m, _p, s in upstream.requests()][:3] == [503, 503, 200]
    assert filenames(installation, "alpha") == {"alpha-1.0-py3-none-any.whl"}


def test_prefetch_downloads_and_verifies_and_refuses_a_poisoned_file(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    (good,) = publish(upstream, dists, "alpha", "1.0")
    (bad,) = publish(upstream, dists, "beta", "1.0")
    upstream.poison("beta", bad)
    configure(installation, '\n[sources.pypi]\nfile_mode = "prefetch"\n')

    result = mirror("sync")

    assert result.code == 1
    assert "beta: " in result.err
    assert "refused and nothing was stored" in result.err
    entry = upstream.file("alpha", good)
    store = installation.config.store_path
    digest = entry.sha256
    assert (store / digest[:2] / digest[2:4] / digest / good).read_bytes() == entry.data
    assert (store / digest[:2] / digest[2:4] / digest / f"{good}.metadata").read_bytes() \
        == entry.metadata
    poisoned = upstream.file("beta", bad).sha256
    assert not (store / poisoned[:2] / poisoned[2:4] / poisoned).exists()
    assert filenames(installation, "beta") == set()


def test_a_local_project_shadows_the_upstream_one(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    publish(upstream, dists, "shared", "9.0")
    publish(upstream, dists, "public", "1.0")
    local = dists.wheel("shared", "1.0", directory=dists.fresh_dir())
    assert mirror("add", "--source", "local", local).code == 0
    assert mirror("sync").code == 0

    assert filenames(installation, "shared") == {"shared-1.0-py3-none-any.whl"}
    listing = mirror("list", "packages", "--repo", "python").out.splitlines()
    assert "shared\tlocal\t1 version\t1 file" in listing
    assert "public\tpypi\t1 version\t1 file" in listing
    report = mirror("check", "confusion", "--repo", "python")
    assert report.code == 0, report.err
    assert report.out == "shared\tlocal\tpypi\tlocal wins\n"

    assert mirror("reorder", "--repo", "python", "--sources", "pypi,local").code == 0
    assert filenames(installation, "shared") == {"shared-9.0-py3-none-any.whl"}
    report = mirror("check", "confusion", "--repo", "python")
    assert report.code == 1
    assert report.out == "shared\tlocal\tpypi\tUPSTREAM WINS\n"


def test_an_overlapping_run_is_refused(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream,
) -> None:
    lock = installation.config.catalog_path.parent / ".sync-pypi.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = mirror("sync")
    finally:
        os.close(fd)
    assert result.code == 1
    assert "already running" in result.err
    assert upstream.requests() == []


def test_the_default_upstream_is_the_index_pip_uses(
    cli: CliRunner, installation: Installation, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/custom/simple/")
    assert cli("create", "source", "--name", "mirror", "--type", "pypi").code == 0
    listing = cli("list", "sources").out
    assert "mirror\tpypi\thttp://127.0.0.1:9/custom/simple/" in listing

    monkeypatch.setenv("PIP_INDEX_URL", f"{installation.config.base_url}python/latest/simple/")
    refused = cli("create", "source", "--name", "loop", "--type", "pypi")
    assert refused.code == 1
    assert "this installation's own site" in refused.err


def test_pip_builtin_default_comes_from_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    from pip._internal.models.index import PyPI

    from generator.config.pip import configured_index_url

    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("HOME", "/nonexistent")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    monkeypatch.setenv("XDG_CONFIG_DIRS", "/nonexistent")
    assert configured_index_url() == PyPI.simple_url


def test_sync_refuses_a_local_source(cli: CliRunner) -> None:
    result = cli("sync", "--source", "local")
    assert result.code == 1
    assert "only pypi and curated-pypi sources are synced" in result.err


def test_unknown_source_settings_are_refused(
    installation: Installation, cli: CliRunner, tmp_path: Path
) -> None:
    configure(installation, '\n[sources.pypi]\nfile_mode = "eager"\n')
    result = cli("list", "sources")
    assert result.code == 1
    assert 'use "lazy" or "prefetch"' in result.err


def test_an_unreachable_upstream_does_not_stop_the_other_sources(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    publish(upstream, dists, "alpha", "1.0")
    assert mirror("create", "source", "--name", "gone", "--type", "pypi", "--upstream",
                  "http://127.0.0.1:9/simple/").code == 0
    # A bare sync takes only the subscribed sources.
    assert mirror("subscribe", "--repo", "python", "--source", "gone").code == 0

    result = mirror("sync")

    assert result.code == 1
    assert "gone: error: http://127.0.0.1:9/simple/: no answer after 3 attempts" in result.err
    assert filenames(installation, "alpha") == {"alpha-1.0-py3-none-any.whl"}
