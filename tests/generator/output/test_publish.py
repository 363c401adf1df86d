"""Publishing to S3 (``generator.output.publish``), against moto's real server over HTTP:
what is written, in which order, with which headers, how little a second run writes, and
how an interrupted run resumes. (The S3 blob store's tests are in tests/generator/storage/.)"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from generator.config.settings import load_config
from generator.errors import StoreError
from generator.installation import Installation
from generator.output.publish import (
    PHASES,
    Publisher,
    SiteObject,
    default_state,
    phase_of,
    publish_site,
    scan_site,
)
from generator.storage.s3 import IMMUTABLE, SHORT, SIMPLE_JSON, S3Location
from tests.conftest import CliRunner, Dists, FakeClock
from tests.s3server import RequestCounter, S3Server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PLUS_WHEEL = "torchish-2.0+cpu-py3-none-any.whl"


@dataclass
class Bucket:
    """A fresh bucket of the session's server, a client counting its requests."""

    name: str
    client: S3Client
    requests: RequestCounter

    def location(self, prefix: str = "site") -> S3Location:
        return S3Location(bucket=self.name, prefix=prefix)

    def keys(self, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        ):
            found.update(item["Key"] for item in page.get("Contents", ()))
        return found

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture
def bucket(s3_server: S3Server) -> Bucket:
    client = s3_server.client()
    return Bucket(name=s3_server.new_bucket(), client=client, requests=RequestCounter(client))


@pytest.fixture
def site(installation: Installation, dists: Dists) -> Installation:
    """Two projects, one of them with a '+' (local version) in a file name."""
    from generator.intake.ingest import ingest_paths

    local = installation.catalog.get_source("local")
    wheels = [dists.wheel("alpha", "1.0"), dists.sdist("alpha", "1.0"),
              dists.wheel("torchish", "2.0+cpu")]
    accepted, refused = ingest_paths(installation.catalog, installation.store, local, wheels,
                                     installation.now())
    assert not refused
    assert len(accepted) == 3
    installation.generate()
    return installation


def publish(inst: Installation, bucket: Bucket, prefix: str = "site") -> Iterator[str]:
    report = publish_site(inst.config.output_path, bucket.client, bucket.location(prefix))
    yield from report.keys


# -- pure parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "phase"),
    [
        ("files/ab/cd/h/x.whl", "files"), ("files/ab/cd/h/x.whl.metadata", "metadata"),
        ("files/ab/cd/h/x.whl.asc", "signatures"),
        ("python/latest/simple/x/index.html", "project pages"),
        ("python/2026-03-01/simple/x/", "project pages"),
        ("python/latest/simple/index.json", "roots"), ("python/latest/simple/", "roots"),
        ("python/index.html", "pages"), ("python/snapshots.json", "state"),
    ],
)
def test_phases_put_files_first_and_state_last(key: str, phase: str) -> None:
    assert PHASES[phase_of(key)] == phase


def test_the_manifest_lives_outside_the_public_prefix() -> None:
    target = S3Location.from_url("s3://bucket/pub/site")
    assert default_state(target).url == "s3://bucket/.timeshelf/pub/site/manifest.json"


# -- publishing ---------------------------------------------------------------------------


def test_publish_writes_the_site_with_its_headers(site: Installation, bucket: Bucket) -> None:
    report = publish_site(site.config.output_path, bucket.client, bucket.location())
    keys = bucket.keys("site/")
    local = {o.key for o in scan_site(site.config.output_path)}
    assert keys == {f"site/{k}" for k in local}
    assert report.uploaded + report.copied == len(local) == report.objects
    # Directory objects answer .../<project>/ on the REST endpoint; index.json is PEP 691.
    for directory in ("site/python/latest/simple/", "site/python/latest/simple/alpha/"):
        head = bucket.client.head_object(Bucket=bucket.name, Key=directory)
        assert head["ContentType"] == "text/html; charset=utf-8"
        assert head["CacheControl"] == SHORT
        assert bucket.get(directory) == bucket.get(directory + "index.html")
    head = bucket.client.head_object(Bucket=bucket.name,
                                     Key="site/python/latest/simple/alpha/index.json")
    assert head["ContentType"] == SIMPLE_JSON
    archives = [k for k in keys if k.endswith((".whl", ".tar.gz"))]
    assert len(archives) == 3
    for key in archives:
        head = bucket.client.head_object(Bucket=bucket.name, Key=key)
        assert head["ContentType"] == "application/octet-stream"
        assert head["CacheControl"] == IMMUTABLE
        assert "ContentEncoding" not in head
    # '+' is a '+' in the key (boto3 encodes it as %2B on the wire), and %2B in hrefs.
    plus = [k for k in keys if k.endswith(PLUS_WHEEL)]
    assert len(plus) == 1
    page = bucket.get("site/python/latest/simple/torchish/index.html").decode()
    assert "torchish-2.0%2Bcpu-py3-none-any.whl" in page
    # The order of the phases: files, .metadata, pages, roots, snapshots.json.
    phases = [phase_of(k) for k in report.keys]
    assert phases == sorted(phases)
    assert report.keys[-1] == "python/snapshots.json"
    state = default_state(bucket.location())
    manifest = json.loads(bucket.get(state.prefix))
    assert set(manifest["objects"]) == local


def test_a_second_publish_writes_only_what_changed(
    site: Installation, bucket: Bucket, dists: Dists
) -> None:
    publish_site(site.config.output_path, bucket.client, bucket.location())
    bucket.requests.reset()
    again = publish_site(site.config.output_path, bucket.client, bucket.location())
    assert (again.uploaded, again.copied, again.deleted) == (0, 0, 0)
    assert bucket.requests.writes == 0

    from generator.intake.ingest import ingest_paths

    local = site.catalog.get_source("local")
    ingest_paths(site.catalog, site.store, local, [dists.wheel("alpha", "1.1")], site.now())
    site.generate()
    bucket.requests.reset()
    report = publish_site(site.config.output_path, bucket.client, bucket.location())
    changed = set(report.keys)
    wheel = "alpha-1.1-py3-none-any.whl"
    assert {k.rsplit("/", 1)[-1] for k in changed if k.startswith("files/")} == {
        wheel, wheel + ".metadata"}
    assert {"python/latest/simple/alpha/index.html", "python/latest/simple/alpha/index.json",
            "python/latest/simple/alpha/"} <= changed
    assert not any(k.startswith("python/latest/simple/torchish") for k in changed)
    # A handful: the file, its metadata, the project's pages (and web UI pages, if any),
    # plus the manifest (dropping the overwritten keys first, then the new state).
    assert bucket.requests["PutObject"] == report.uploaded + report.manifest_writes
    assert bucket.requests.writes <= len(changed) + 2
    # 16: the new version's own web UI page (and its directory key) and the home page,
    # which names the newest upload (and its directory key ""), came with issue #24.
    assert len(changed) <= 16


def test_a_removed_project_is_deleted_after_the_root_changed(
    site: Installation, bucket: Bucket
) -> None:
    publish_site(site.config.output_path, bucket.client, bucket.location())
    local = site.catalog.get_source("local")
    site.catalog.remove(local, "torchish", site.now())
    site.generate()
    report = publish_site(site.config.output_path, bucket.client, bucket.location())
    # index.html, index.json and the directory object (and the web UI's pages of it)
    assert report.deleted >= 3
    keys = bucket.keys("site/python/latest/simple/")
    assert not any("/torchish/" in k for k in keys)
    assert "python/latest/simple/index.html" in report.keys
    # Files stay: snapshots of earlier days may still list them.
    assert any(k.endswith(PLUS_WHEEL) for k in bucket.keys("site/files/"))


class FailingPublisher(Publisher):
    """Dies (as a crash would) after ``budget`` uploads."""

    budget = 4

    def put(self, item: SiteObject) -> int:
        if self.budget <= 0:
            raise StoreError("simulated crash")
        self.budget -= 1
        return super().put(item)


def test_an_interrupted_publish_leaves_a_consistent_site_and_resumes(
    site: Installation, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = site.config.output_path
    target = bucket.location()
    objects = list(scan_site(output))
    monkeypatch.setattr("generator.output.publish.CHECKPOINT", 2)
    crashing = FailingPublisher(bucket.client, target, workers=1)
    crashing.load()
    with pytest.raises(StoreError, match="simulated crash"):
        crashing.publish(objects)
    first = bucket.keys("site/")
    assert 0 < len(first) < len(objects)
    # Files go first: no page is up yet that could link to a missing file.
    assert all(k.startswith("site/files/") for k in first)
    # The resumed run writes only what is missing.
    bucket.requests.reset()
    report = publish_site(output, bucket.client, target)
    assert report.unchanged == len(first)
    assert report.uploaded + report.copied == len(objects) - len(first)
    assert bucket.keys("site/") == {f"site/{o.key}" for o in objects}


def test_every_link_of_a_published_page_resolves(site: Installation, bucket: Bucket) -> None:
    publish_site(site.config.output_path, bucket.client, bucket.location())
    keys = bucket.keys("site/")
    for key in keys:
        if not key.endswith("/index.html"):
            continue
        base = key.rsplit("/", 1)[0].split("/")
        for href in re.findall(r'href="([^"#]+)', bucket.get(key).decode()):
            if href.startswith(("http:", "https:", "/")):
                continue
            parts = list(base)
            for segment in href.replace("%2B", "+").split("/"):
                if segment == "..":
                    parts.pop()
                elif segment not in ("", "."):
                    parts.append(segment)
            resolved = "/".join(parts) + ("/" if href.endswith("/") else "")
            assert resolved in keys, (key, href)


def test_snapshot_days_are_copies_and_frozen_once_published(
    site: Installation, bucket: Bucket, clock: FakeClock
) -> None:
    publish_site(site.config.output_path, bucket.client, bucket.location())
    clock.advance(days=1)
    site.generate()
    day = clock.now.date().isoformat()
    yesterday = f"python/{(clock.now.date().fromordinal(clock.now.date().toordinal() - 1))}"
    assert (site.config.output_path / yesterday / "simple").is_dir(), day
    report = publish_site(site.config.output_path, bucket.client, bucket.location())
    day_keys = [k for k in report.keys if k.startswith(yesterday + "/")]
    assert day_keys
    # The day's pages repeat the latest pages byte for byte: server-side copies.
    assert report.uploaded <= 2  # snapshots.json (and nothing of the day's project pages)
    head = bucket.client.head_object(
        Bucket=bucket.name, Key=f"site/{yesterday}/simple/alpha/index.json")
    assert (head["CacheControl"], head["ContentType"]) == (IMMUTABLE, SIMPLE_JSON)
    manifest = json.loads(bucket.get(default_state(bucket.location()).prefix))
    assert manifest["frozen"] == {yesterday: len(day_keys)}
    assert not any(k.startswith(yesterday) for k in manifest["objects"])
    # A frozen day is not walked again, and nothing is written.
    bucket.requests.reset()
    again = publish_site(site.config.output_path, bucket.client, bucket.location())
    assert (bucket.requests.writes, again.deleted) == (0, 0)


def test_a_frozen_day_is_published_decompressed(
    site: Installation, bucket: Bucket, clock: FakeClock, dists: Dists
) -> None:
    # The day's alpha page is in no other page (latest moved on): uploaded, from the
    # stored .gz, as the bytes it serves.
    from generator.intake.ingest import ingest_paths

    clock.advance(days=1)
    local = site.catalog.get_source("local")
    accepted, _ = ingest_paths(site.catalog, site.store, local, [dists.wheel("alpha", "2.0")],
                               site.now())
    assert accepted
    site.generate()
    output = site.config.output_path
    day = next(p for p in (output / "python").iterdir() if p.name[0].isdigit())
    stored = day / "simple" / "alpha" / "index.json.gz"
    assert stored.is_file()
    report = publish_site(output, bucket.client, bucket.location())
    assert not [k for k in report.keys if k.endswith(".gz") and "/simple/" in k]
    key = f"site/python/{day.name}/simple/alpha/"
    served = gzip.decompress(stored.read_bytes())
    assert b"alpha-2.0" not in served
    assert bucket.get(key + "index.json") == served
    assert bucket.get(key + "index.html") == bucket.get(key)
    assert bucket.get(key) == gzip.decompress((stored.parent / "index.html.gz").read_bytes())
    assert bucket.get(f"site/python/{day.name}/simple/index.json") == gzip.decompress(
        (day / "simple" / "index.json.gz").read_bytes())


def _configure(inst: Installation, **sections: dict[str, str]) -> Installation:
    """Set keys of the installation's ``timeshelf.toml`` (each replaces its default)."""
    text = inst.config.file.read_text()
    for section, values in sections.items():
        start = text.index(f"[{section}]\n")
        for key, value in values.items():
            line = re.compile(rf"(?m)^{key} = .*$")
            found = line.search(text, start)
            assert found is not None, (section, key)
            text = text[: found.start()] + f'{key} = "{value}"' + text[found.end():]
    inst.config.file.write_text(text)
    return Installation(load_config(inst.config.file), clock=inst.clock)


def _add_to_bucket_store(
    installation: Installation, bucket: Bucket, s3_server: S3Server, run: CliRunner,
    dists: Dists, store_prefix: str,
) -> Path:
    """Configure ``[store] url`` at ``store_prefix`` of the bucket and ``[output] target``
    at ``site``, then `add` a wheel, which publishes; the wheel's path."""
    configured = _configure(
        installation,
        store={"url": f"s3://{bucket.name}/{store_prefix}"},
        output={"target": f"s3://{bucket.name}/site"},
        s3={"endpoint_url": s3_server.endpoint, "addressing_style": "path",
            "region": "us-east-1"},
    )
    configured.close()
    wheel = dists.wheel("gamma", "1.0")
    result = run("--config", installation.config.file, "add", "--source", "local", wheel)
    assert result.code == 0, result.err
    assert "published to s3://" in result.err
    return wheel


def test_store_and_target_in_the_bucket(
    installation: Installation, bucket: Bucket, s3_server: S3Server, run: CliRunner,
    dists: Dists,
) -> None:
    """``[store] url`` in the site's files/ and ``[output] target``: `add` writes the
    file to the bucket, `generate` publishes the pages, no file is copied."""
    wheel = _add_to_bucket_store(installation, bucket, s3_server, run, dists, "site/files")
    assert wheel.name == "gamma-1.0-py3-none-any.whl"
    keys = bucket.keys("site/")
    assert any(k.endswith("/gamma-1.0-py3-none-any.whl") for k in keys)
    assert "site/python/latest/simple/gamma/" in keys
    assert not (installation.config.output_path / "files").exists()
    result = run("--config", installation.config.file, "publish")
    assert result.code == 0, result.err
    assert " 0 uploaded" in result.err


def test_a_store_in_another_prefix_is_copied_into_the_site(
    installation: Installation, bucket: Bucket, s3_server: S3Server, run: CliRunner,
    dists: Dists,
) -> None:
    """``[store] url`` outside the site: `add` writes the file to the store's prefix and
    publishing copies it into the site's files/ (the installation's S3 store is given to
    the publisher)."""
    wheel = _add_to_bucket_store(installation, bucket, s3_server, run, dists, "blobs")
    (stored,) = [k for k in bucket.keys("blobs/") if k.endswith("/" + wheel.name)]
    published = "site/files/" + stored[len("blobs/"):]
    assert published in bucket.keys("site/")
    assert bucket.get(published) == wheel.read_bytes()
    assert not (installation.config.output_path / "files").exists()


def test_publish_without_a_target_says_how(cli: CliRunner) -> None:
    result = cli("publish")
    assert result.code == 1
    assert result.err_lines == [
        "error: no publish target: pass --to s3://BUCKET/PREFIX or set [output] target"]
