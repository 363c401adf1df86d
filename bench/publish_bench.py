"""Publishing to S3 and uploads on a PostgreSQL catalog (``python -m bench.publish_bench``).

1. **Publish.** A site of about 100k objects (``--files`` distribution files from
   ``bench/dataset.py``, each written as a small blob with its ``.metadata``, and the pages
   ``timeshelf generate`` renders for them) is published to moto's S3 server on
   127.0.0.1: a full publish, a re-publish with nothing changed, and a publish after one
   new file of one project. Objects written are counted on the wire (a boto3 event hook
   on every request), not taken from the report.
2. **Uploads.** ``--uploads`` uploads through the sidecar's code path in-process
   (``ingest_file`` then ``Installation.generate``: durable blob, committed catalog row,
   pages regenerated) into one installation with a SQLite catalog and one with a
   PostgreSQL catalog (a private cluster, as in the tests), pre-filled with
   ``--catalog-files`` files; then the same number of catalog inserts from 4 threads with
   a connection each (the shared catalog's concurrency).

Prints a Markdown block for ``bench/RESULTS.md``. Bounded: ``--budget`` seconds in all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.dataset import SOURCE, iter_dataset
from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp
from generator.config.settings import load_config
from generator.installation import Installation
from generator.intake.ingest import ingest_file
from generator.output.publish import publish_site
from generator.records import FileRecord
from generator.storage.s3 import S3Location
from generator.storage.store import file_key
from tests.factory import WheelSpec, build_wheel
from tests.pgserver import run_postgres
from tests.s3server import CREDENTIALS, RequestCounter, run_moto

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _clock() -> datetime:
    return NOW


def _init(directory: Path, catalog_url: str = "") -> Installation:
    from generator.cli.main import main

    if main(["init", str(directory)]) != 0:
        raise RuntimeError(f"timeshelf init {directory} failed")
    config = directory / "timeshelf.toml"
    if catalog_url:
        text = config.read_text().replace('url = ""', f'url = "{catalog_url}"', 1)
        config.write_text(text)
        inst = Installation(load_config(config), clock=_clock)
        inst.catalog.create_source(SOURCE, "local-python", NOW)
        inst.catalog.create_repo("python", NOW)
        inst.catalog.subscribe("python", SOURCE, NOW)
        return inst
    return Installation(load_config(config), clock=_clock)


def build_site(directory: Path, files: int) -> Installation:
    """An installation with ``files`` dataset files as blobs, generated."""
    inst = _init(directory)
    store = inst.config.store_path
    items = list(iter_dataset(files))
    for item in items:
        r = item.record
        path = store / file_key(r.sha256, r.filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(r.sha256.encode() * 8)
        if r.metadata_sha256:
            (path.parent / (r.filename + ".metadata")).write_bytes(
                f"Metadata-Version: 2.1\nName: {item.display_name}\n".encode())
    source = inst.catalog.get_source(SOURCE)
    inst.catalog.add_files(source, (i.entry for i in items), NOW)
    inst.generate(ui=False)
    return inst


def count_objects(output: Path) -> int:
    from generator.output.publish import scan_site

    return sum(1 for _ in scan_site(output))


def bench_publish(work: Path, files: int, lines: list[str]) -> None:
    started = time.monotonic()
    inst = build_site(work / "site", files)
    built = time.monotonic() - started
    objects = count_objects(inst.config.output_path)
    os.environ.update(CREDENTIALS)
    with run_moto() as s3:
        client = s3.client()
        counter = RequestCounter(client)
        bucket = s3.new_bucket()
        target = S3Location(bucket=bucket, prefix="site")
        rows = []

        def run(label: str) -> None:
            counter.reset()
            t = time.monotonic()
            report = publish_site(inst.config.output_path, client, target)
            seconds = time.monotonic() - t
            rows.append(
                f"| {label} | {report.objects} | {counter['PutObject']} | "
                f"{counter['CopyObject']} | {report.deleted} | {seconds:.1f} s |")
            print(rows[-1], file=sys.stderr, flush=True)

        run("full publish")
        run("re-publish, nothing changed")
        new = build_wheel(work / "dists", WheelSpec("bench-extra-project", "1.0"))
        ingest_file(inst.catalog, inst.store, inst.catalog.get_source(SOURCE), new, NOW)
        inst.generate(ui=False)
        run("one new file (new project)")
        item = next(iter(iter_dataset(files)))
        newer = build_wheel(work / "dists", WheelSpec(item.display_name, "999.0"))
        ingest_file(inst.catalog, inst.store, inst.catalog.get_source(SOURCE), newer, NOW)
        inst.generate(ui=False)
        run(f"one new file of `{item.display_name}`")
    lines += [
        f"Site: {files:,} distribution files (+ `.metadata` for wheels), "
        f"{objects:,} site objects with the directory twins (built and generated in "
        f"{built:.0f} s). Writes counted on the wire (PutObject includes the manifest "
        "writes: one to drop overwritten keys, one at the end).",
        "",
        "| publish | objects in site | PutObject | CopyObject | deleted | wall time |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]
    inst.close()


def _record(n: int) -> FileRecord:
    import hashlib

    sha = hashlib.sha256(f"bench-concurrent-{n}".encode()).hexdigest()
    return FileRecord(
        filename=f"conc{n}-1.0-py3-none-any.whl", version="1.0", packagetype="bdist_wheel",
        sha256=sha, blake2_256=sha, size=1, requires_python=None,
        upload_time=format_timestamp(NOW), metadata_sha256=None, has_signature=False,
        yanked=False, yanked_reason="")


def bench_uploads(work: Path, uploads: int, catalog_files: int, lines: list[str],
                  pg_url: Callable[[], str]) -> None:
    from packaging.utils import NormalizedName

    wheels = [build_wheel(work / "wheels", WheelSpec(f"upl{i:04d}", "1.0"))
              for i in range(uploads)]
    rows = []
    for engine in ("sqlite", "postgresql"):
        url = pg_url() if engine == "postgresql" else ""
        inst = _init(work / engine, url)
        source = inst.catalog.get_source(SOURCE)
        items = list(iter_dataset(catalog_files))
        inst.catalog.add_files(source, (i.entry for i in items), NOW)
        inst.generate(ui=False)
        times = []
        for wheel in wheels:
            t = time.monotonic()
            ingest_file(inst.catalog, inst.store, source, wheel, NOW)
            inst.generate([inst.catalog.get_repo("python")], ui=False)
            times.append(time.monotonic() - t)
        location = url or inst.config.catalog_path
        counter = iter(range(10**6))
        lock = threading.Lock()
        done = [0]

        def insert(
            location: str | Path = location, counter: Iterator[int] = counter,
            lock: threading.Lock = lock, done: list[int] = done,
        ) -> None:
            with Catalog(location) as catalog:
                own = catalog.get_source(SOURCE)
                while True:
                    with lock:
                        n = next(counter)
                    if n >= uploads:
                        return
                    catalog.add_file(own, NormalizedName(f"conc{n}"), f"conc{n}", "",
                                     _record(n), NOW + timedelta(seconds=n))
                    with lock:
                        done[0] += 1

        t = time.monotonic()
        threads = [threading.Thread(target=insert) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        concurrent = done[0] / (time.monotonic() - t)
        rows.append(
            f"| {engine} | {statistics.median(times) * 1000:.0f} ms | "
            f"{sorted(times)[int(len(times) * 0.95) - 1] * 1000:.0f} ms | "
            f"{len(times) / sum(times):.1f} /s | {concurrent:.0f} /s |")
        print(rows[-1], file=sys.stderr, flush=True)
        inst.close()
    lines += [
        "",
        f"Uploads in-process (ingest: fsynced blob + catalog row; then the pages "
        f"regenerated), {uploads} wheels into a catalog pre-filled with {catalog_files:,} "
        "files; then as many catalog inserts from 4 threads with a connection each:",
        "",
        "| catalog | upload median | upload p95 | uploads/s (one writer) | inserts/s (4 writers) |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--catalog-files", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=1500.0)
    parser.add_argument("--skip-publish", action="store_true")
    parser.add_argument("--skip-uploads", action="store_true")
    args = parser.parse_args(argv)
    timer = threading.Timer(args.budget, lambda: os._exit(3))
    timer.daemon = True
    timer.start()
    work = Path(tempfile.mkdtemp(prefix="publish-bench-", dir=Path(__file__).parent / "work"))
    lines: list[str] = []
    try:
        if not args.skip_publish:
            bench_publish(work, args.files, lines)
        if args.skip_uploads:
            return 0
        with run_postgres() as cluster:
            bench_uploads(work, args.uploads, args.catalog_files, lines,
                          lambda: cluster.create_database("bench"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
