"""Lazily mirrored files (fetched by the sidecar on first request) and curated lists.

The sidecar is the real Flask app in-process; the upstream is ``tests.upstream`` on
127.0.0.1. Curated closures run the real ``pip-compile`` against that upstream.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask

from generator.config.settings import load_config
from generator.installation import Installation
from generator.render.simple import Renderer
from generator.snapshots.calendar import check_snapshot_day
from generator.snapshots.ondemand import render_on_demand
from tests.conftest import CliRunner, Dists
from tests.generator.mirror.test_sync import OLD, configure, filenames, page
from tests.s3server import S3Server
from tests.upstream import FakeUpstream, serve_upstream
from uploader.app import create_app


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with serve_upstream(FakeUpstream()) as served:
        yield served


@pytest.fixture
def synced(
    installation: Installation, cli: CliRunner, upstream: FakeUpstream, dists: Dists
) -> Installation:
    """``alpha 1.0`` (a wheel with PEP 658 metadata, and an sdist) mirrored lazily."""
    configure(installation)
    upstream.add(dists.wheel("alpha", "1.0"), uploaded=OLD)
    upstream.add(dists.sdist("alpha", "1.0"), uploaded=OLD)
    assert cli("create", "source", "--name", "pypi", "--type", "pypi", "--upstream",
               upstream.index_url).code == 0
    assert cli("subscribe", "--repo", "python", "--source", "pypi").code == 0
    assert cli("sync").code == 0
    return installation


@pytest.fixture
def app(synced: Installation) -> Flask:
    return create_app(synced)


def file_url(inst: Installation, filename: str, suffix: str = "") -> str:
    for entry in page(inst, "alpha")["files"]:  # type: ignore[attr-defined]
        if entry["filename"] == filename:
            digest = entry["hashes"]["sha256"]
            return f"/files/{digest[:2]}/{digest[2:4]}/{digest}/{filename}{suffix}"
    raise AssertionError(f"{filename} is not listed")


WHEEL = "alpha-1.0-py3-none-any.whl"


@dataclass(frozen=True)
class Got:
    status_code: int
    data: bytes
    headers: dict[str, str]


def get(app: Flask, url: str) -> Got:
    """GET through the app's test client, read whole and closed (send_file keeps a file)."""
    reply = app.test_client().get(url)
    try:
        return Got(reply.status_code, reply.get_data(), dict(reply.headers))
    finally:
        reply.close()


def test_a_lazy_file_is_fetched_verified_and_stored_on_first_request(
    app: Flask, synced: Installation, upstream: FakeUpstream
) -> None:
    url = file_url(synced, WHEEL)
    assert not (synced.config.output_path / url.lstrip("/")).exists()

    first = get(app, url)
    second = get(app, url)

    assert first.status_code == 200
    assert first.data == upstream.file("alpha", WHEEL).data
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert second.data == first.data
    assert (synced.config.output_path / url.lstrip("/")).read_bytes() == first.data
    assert len(upstream.paths("/packages/")) == 1


def test_metadata_is_fetched_lazily_and_matches_the_advertised_hash(
    app: Flask, synced: Installation, upstream: FakeUpstream
) -> None:
    (entry,) = [f for f in page(synced, "alpha")["files"]  # type: ignore[attr-defined]
                if f["filename"] == WHEEL]
    reply = get(app, file_url(synced, WHEEL, ".metadata"))
    assert reply.status_code == 200
    assert hashlib.sha256(reply.data).hexdigest() == entry["core-metadata"]["sha256"]
    # An sdist has no PEP 658 metadata upstream: none is advertised nor served.
    (sdist,) = [f for f in page(synced, "alpha")["files"]  # type: ignore[attr-defined]
                if f["filename"].endswith(".tar.gz")]
    assert sdist["core-metadata"] is False
    assert get(app, file_url(synced, sdist["filename"], ".metadata")) \
        .status_code == 404


def test_concurrent_first_requests_cause_one_download(
    app: Flask, synced: Installation, upstream: FakeUpstream
) -> None:
    url = file_url(synced, WHEEL)
    upstream.file_delay = 0.3
    replies: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def fetch() -> None:
        reply = get(app, url)
        with lock:
            replies.append((reply.status_code, reply.data))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {status for status, _ in replies} == {200}
    assert {data for _, data in replies} == {upstream.file("alpha", WHEEL).data}
    assert len(upstream.paths("/packages/")) == 1


def test_a_poisoned_upstream_file_is_refused_and_nothing_stored(
    app: Flask, synced: Installation, upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.poison("alpha", WHEEL)
    url = file_url(synced, WHEEL)

    reply = get(app, url)

    assert reply.status_code == 502
    assert b"refused and nothing was stored" in reply.data
    assert not (synced.config.output_path / url.lstrip("/")).exists()
    assert not any(p.name.startswith(WHEEL) for p in synced.config.store_path.rglob("*"))
    assert "refused a mirrored file" in caplog.text


@pytest.mark.parametrize(
    "path",
    ["/files/00/00/" + "0" * 64 + "/nothing-1.0.tar.gz",
     "/files/ab/cd/" + "0" * 64 + "/mismatched-prefix.whl"],
    ids=["unknown", "wrong-prefix"],
)
def test_files_no_mirror_knows_are_404(app: Flask, path: str) -> None:
    assert get(app, path).status_code == 404


LONG = "a" * 300  # one segment over the 255 bytes a Linux file name may have


@pytest.mark.parametrize(
    "path",
    ["{dir}/" + LONG, "{dir}/" + LONG + ".metadata", "{dir}/" + "a" * 250 + ".whl",
     "/files/" + LONG, "/" + LONG, "/python/" + LONG + "/", "/python/latest/" + LONG,
     "/python/latest/simple/" + LONG + "/", "/" + LONG + "/2024-06-01/simple/",
     "/python/2024-06-01/simple/" + LONG + "/"],
    ids=["file-name", "metadata-name", "over-240-chars", "files-segment", "top-segment",
         "repo-directory", "below-latest", "project-page", "snapshot-repo",
         "snapshot-project"],
)
def test_a_path_the_filesystem_cannot_look_up_is_404_not_500(
    app: Flask, synced: Installation, path: str
) -> None:
    url = file_url(synced, WHEEL)
    assert get(app, url).status_code == 200  # its directory now exists in the store
    assert get(app, path.format(dir=url.rpartition("/")[0])).status_code == 404


def test_generation_skips_lazy_files_when_the_store_is_elsewhere(
    synced: Installation, cli: CliRunner, tmp_path: Path
) -> None:
    """A store outside the site is linked into it; lazy files are not there yet."""
    path = synced.config.file
    path.write_text(path.read_text().replace('path = "site/files"', f'path = "{tmp_path}/s"'))
    assert cli("generate", "--full").code == 0


def test_a_curated_list_with_its_closure(
    installation: Installation, cli: CliRunner, upstream: FakeUpstream, dists: Dists,
    tmp_path: Path,
) -> None:
    configure(installation)
    upstream.add(dists.wheel("app", "1.0", requires_dist=("lib>=1",)), uploaded=OLD)
    upstream.add(dists.wheel("app", "0.9"), uploaded=OLD)
    for version in ("1.0", "2.0"):
        upstream.add(dists.wheel("lib", version), uploaded=OLD)
    upstream.add(dists.wheel("other", "1.0"), uploaded=OLD)
    assert cli("create", "source", "--name", "picked", "--type", "curated-pypi", "--upstream",
               upstream.index_url).code == 0
    assert cli("subscribe", "--repo", "python", "--source", "picked").code == 0
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# what the apps need\napp\n")

    result = cli("update", "--source", "picked", "--file", requirements, "--closure")

    assert result.code == 0, result.err
    assert result.out.splitlines() == ["app==1.0", "lib==2.0"]
    assert "pip-compile" in result.err
    # The list keeps every version of app; the closure adds exactly the pinned lib.
    assert filenames(installation, "app") == {"app-0.9-py3-none-any.whl",
                                              "app-1.0-py3-none-any.whl"}
    assert filenames(installation, "lib") == {"lib-2.0-py3-none-any.whl"}
    assert filenames(installation, "other") == set()
    # A curated source reads no root: only its projects' pages (and pip-compile's).
    assert "/simple/" not in upstream.paths()
    curated = installation.catalog.curated_list(installation.catalog.get_source("picked"))
    assert curated is not None
    assert curated.compiled == ("app==1.0", "lib==2.0")
    assert curated.tool.startswith("pip-compile ")


def test_a_curated_list_refuses_options_and_bad_lines(
    installation: Installation, cli: CliRunner, upstream: FakeUpstream, tmp_path: Path
) -> None:
    assert cli("create", "source", "--name", "picked", "--type", "curated-pypi", "--upstream",
               upstream.index_url).code == 0
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--extra-index-url http://127.0.0.1:1/\nnot a requirement!\n")
    result = cli("update", "--source", "picked", "--file", requirements)
    assert result.code == 1
    assert "line 1: options such as '--extra-index-url'" in result.err
    assert "line 2: 'not a requirement!' is not a requirement" in result.err


def test_a_backfilled_project_is_installable_before_the_mirror_existed(
    synced: Installation, cli: CliRunner
) -> None:
    """Days before the repository's first subscription are reconstructed from upload times."""
    repo = synced.catalog.get_repo("python")
    day = check_snapshot_day(synced.catalog, repo, "2025-01-01", synced.now())
    page = render_on_demand(synced.catalog, Renderer(), repo, day, "alpha")
    assert {f["filename"] for f in json.loads(page.json)["files"]} == {
        "alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"
    }
    assert b"alpha-1.0-py3-none-any.whl" in page.html
    # Before the first upload upstream there is nothing to show.
    with pytest.raises(Exception, match="begins on 2024-06-01"):
        check_snapshot_day(synced.catalog, repo, "2024-05-31", synced.now())
    assert cli("generate").code == 0
    document = json.loads((synced.config.output_path / "python" / "snapshots.json").read_text())
    by_day = {s["date"]: s for s in document["snapshots"]}
    assert by_day["2025-01-01"]["reconstructed"] is True
    assert by_day["2025-01-01"]["materialized"] is False
    assert date.fromisoformat(min(by_day)) == datetime(2024, 6, 1, tzinfo=UTC).date()
    listing = cli("list", "snapshots", "--repo", "python", "--no-header").out.splitlines()
    assert listing[0].startswith("2024-06-01\treconstructed (on demand)\t")
    assert listing[-1].startswith("2026-02-28\treconstructed (on demand)\t")


def test_a_lazy_file_of_an_s3_store_is_streamed_from_the_bucket(
    synced: Installation, upstream: FakeUpstream, s3_server: S3Server
) -> None:
    """With ``[store] url``, the first request stores the file in the bucket and streams
    it from there, with its length; nothing is written below the output directory."""
    name = s3_server.new_bucket()
    text = synced.config.file.read_text()
    store = text.index("[store]\n")
    text = text[:store] + text[store:].replace('url = ""', f'url = "s3://{name}/blobs"', 1)
    text = text.replace('endpoint_url = ""', f'endpoint_url = "{s3_server.endpoint}"')
    text = text.replace('addressing_style = "auto"', 'addressing_style = "path"')
    assert f"s3://{name}/blobs" in text
    assert s3_server.endpoint in text
    synced.config.file.write_text(text)
    inst = Installation(load_config(synced.config.file), clock=synced.clock)
    url = file_url(inst, WHEEL)
    reply = get(create_app(inst), url)
    assert reply.status_code == 200
    assert reply.data == upstream.file("alpha", WHEEL).data
    assert reply.headers["Content-Length"] == str(len(reply.data))
    assert not (inst.config.output_path / url.lstrip("/")).exists()
    stored = s3_server.client().get_object(Bucket=name, Key="blobs/" + url[len("/files/"):])
    assert stored["Body"].read() == reply.data
