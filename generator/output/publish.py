"""Publishing a generated site to S3 (``timeshelf publish --to s3://BUCKET/PREFIX``).

Diffed: a manifest (object key → content id) kept outside the public prefix, by default
at ``s3://BUCKET/.timeshelf/PREFIX/manifest.json``, says what the bucket holds, so a run
writes only the objects whose content changed and deletes only objects it published
itself that the site no longer has (never a key of the blob store, never a listing of
the bucket). Content ids are sha256 digests of pages; distribution files are
content-addressed by their key, so their size stands for their content and they are
never read twice.

Ordered, so the site is consistent at every instant (anchors: files before pages, the
root after the project pages, the state last):

    files → .metadata → .asc → project pages → simple roots → other pages
    → snapshots.json → deletions → manifest

Each phase finishes before the next starts. An object whose content is already in the
bucket (a frozen snapshot page that repeats yesterday's, the ``<dir>/`` twin of a
``<dir>/index.html``) is a server-side copy, not an upload.

A frozen day's pages, stored gzip-compressed (``generator.snapshots.frozen``), are published
decompressed under the names they serve, so a bucket answers every client alike.
Frozen days are published once: when every object of a materialized snapshot day is in
the bucket, the manifest keeps the day as one entry instead of its objects, and later
runs do not even walk its links (a day never changes). A day pruned from the output is
deleted by listing its own prefix.

Resumable: the manifest is written at the end and after every ``CHECKPOINT`` objects;
an object is in it only once written. Before the first write, keys whose content is about
to change are dropped from it, so an interrupted run never leaves the manifest claiming
bytes the bucket no longer has; the next run redoes exactly what is missing.

Every page directory gets two objects: ``<dir>/index.html`` (S3 website endpoints map
``<dir>/`` to it) and ``<dir>/`` itself (the REST endpoint and CDNs in front of it have
no index documents), both HTML; ``<dir>/index.json`` is the PEP 691 variant, for an edge
rule that picks it on ``Accept: application/vnd.pypi.simple.v1+json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Container, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import StoreError
from generator.snapshots.frozen import is_compressed_name, read_page, served_name
from generator.storage.atomic import write_bytes
from generator.storage.s3 import Headers, S3Location, object_headers

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from generator.storage.s3store import S3Store

MANIFEST_FORMAT = 1
CHECKPOINT = 20000
WORKERS = 16
PHASES = ("files", "metadata", "signatures", "project pages", "roots", "pages", "state")
_SIMPLE = re.compile(r"[^/]+/[^/]+/simple/(.*)")
_DAY = re.compile(r"([^/]+/[0-9]{4}-[0-9]{2}-[0-9]{2})/")
# A local cache of content ids by file identity (not a source of truth: the manifest is).
CACHE_DIR = ".publish-cache"


def default_state(target: S3Location) -> S3Location:
    """Where the manifest of ``target`` is kept when ``[output] state`` is empty."""
    inner = f".timeshelf/{target.prefix}" if target.prefix else ".timeshelf"
    return S3Location(bucket=target.bucket, prefix=f"{inner}/manifest.json")


def phase_of(key: str) -> int:
    """The publishing phase of a site key (an index into ``PHASES``)."""
    if key.startswith("files/"):
        return 1 if key.endswith(".metadata") else 2 if key.endswith(".asc") else 0
    if key.endswith("snapshots.json"):
        return 6
    match = _SIMPLE.match(key)
    if match is not None:
        return 4 if match[1] in ("", "index.html", "index.json") else 3
    return 5


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteObject:
    """One object the site should have: where its bytes come from and what they are."""

    key: str
    content: str
    source: Path | None = None
    store_key: str | None = None
    # The source is a frozen day's page stored gzip-compressed: published decompressed.
    compressed: bool = False

    @property
    def phase(self) -> int:
        return phase_of(self.key)

    @property
    def headers(self) -> Headers:
        return object_headers(self.key)


@dataclass(slots=True)
class PublishReport:
    """What one publish did."""

    target: str
    objects: int = 0
    uploaded: int = 0
    copied: int = 0
    deleted: int = 0
    unchanged: int = 0
    bytes_uploaded: int = 0
    manifest_writes: int = 0
    seconds: float = 0.0
    keys: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"published to {self.target}: {self.objects} objects, {self.uploaded} uploaded "
            f"({self.bytes_uploaded} bytes), {self.copied} copied, {self.deleted} deleted, "
            f"{self.unchanged} unchanged ({self.seconds:.1f} s)"
        )


class _ContentIds:
    """sha256 content ids of local files, cached by (inode, size, mtime) across runs."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.old: dict[str, list[Any]] = {}
        self.new: dict[str, list[Any]] = {}
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                self.old = json.loads(path.read_bytes())

    def of(self, path: str, *, compressed: bool = False) -> str:
        """The content id of the bytes ``path`` serves (decompressed when ``compressed``)."""
        st = os.stat(path)
        stamp = [st.st_ino, st.st_size, st.st_mtime_ns]
        known = self.new.get(path)
        if known is None:
            cached = self.old.get(path)
            if cached is not None and cached[:3] == stamp:
                known = cached
            else:
                if compressed:
                    try:
                        digest = hashlib.sha256(read_page(Path(path))).hexdigest()
                    except ValueError as e:
                        raise StoreError(f"cannot publish {path}: {e}") from e
                else:
                    with open(path, "rb") as handle:
                        digest = hashlib.file_digest(handle, "sha256").hexdigest()
                known = [*stamp, "sha256:" + digest]
            self.new[path] = known
        return str(known[3])

    def save(self) -> None:
        if self.path is not None and self.new != self.old:
            with contextlib.suppress(StoreError):
                write_bytes(self.path, json.dumps(self.new, separators=(",", ":")).encode())


def day_of(key: str) -> str | None:
    """``<repo>/<YYYY-MM-DD>`` when ``key`` is in a dated snapshot, else None."""
    match = _DAY.match(key)
    return match[1] if match else None


def scan_site(
    output: Path, ids: _ContentIds | None = None, *, skip_days: Container[str] = (),
    days: set[str] | None = None,
) -> Iterator[SiteObject]:
    """Every object of the site in ``output``: its files and pages (snapshot links
    followed into ``.pages``), plus a ``<dir>/`` object for each ``<dir>/index.html``.

    Hidden entries (temporary files, locks, ``.pages`` itself) are not published. The
    snapshot days in ``skip_days`` are not walked; every day found is added to ``days``.
    """
    ids = ids or _ContentIds(None)
    root = str(output)
    for directory, dirnames, filenames in os.walk(root):
        relative = os.path.relpath(directory, root)
        base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        linked = []
        for name in list(dirnames):
            full = os.path.join(directory, name)
            day = day_of(f"{base}{name}/")
            if day is not None and days is not None:
                days.add(day)
            if name.startswith(".") or day in skip_days:
                dirnames.remove(name)
            elif os.path.islink(full):
                linked.append(name)
        in_files = base.startswith("files/")
        for name in filenames:
            full = os.path.join(directory, name)
            if name.startswith(".") or (os.path.islink(full) and not os.path.isfile(full)):
                continue
            key = base + name
            if in_files:
                yield SiteObject(key=key, content=f"size:{os.stat(full).st_size}",
                                 source=Path(full))
            else:
                yield from _page(key, full, ids)
        for name in linked:  # a snapshot day's project: a link to its stored pages
            target = os.path.realpath(os.path.join(directory, name))
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                for page in sorted(os.listdir(target)):
                    if not page.startswith("."):
                        yield from _page(f"{base}{name}/{page}", os.path.join(target, page), ids)


def _page(key: str, path: str, ids: _ContentIds) -> Iterator[SiteObject]:
    compressed = is_compressed_name(key) and day_of(key) is not None
    key = served_name(key) if compressed else key
    content = ids.of(path, compressed=compressed)
    yield SiteObject(key=key, content=content, source=Path(path), compressed=compressed)
    if key == "index.html" or key.endswith("/index.html"):
        # The site's own root is the key "" (the object PREFIX/, when there is a prefix).
        yield SiteObject(key=key[: -len("index.html")], content=content, source=Path(path),
                         compressed=compressed)


def store_objects(store: S3Store, target: S3Location) -> Iterator[SiteObject]:
    """The blob store's objects as site ``files/`` objects, when the store is an S3 prefix
    other than the site's own ``files/`` (they are then server-side copies)."""
    if store.location == S3Location(bucket=target.bucket, prefix=target.key("files")):
        return
    prefix = store.location.key("")
    paginator = store.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=store.location.bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            relative = item["Key"][len(prefix):]
            yield SiteObject(key="files/" + relative, content=f"size:{item['Size']}",
                             store_key=item["Key"])


class Publisher:
    """Publishes one site to one S3 location (see the module docstring)."""

    def __init__(
        self, client: S3Client, target: S3Location, state: S3Location | None = None, *,
        store: S3Store | None = None, workers: int = WORKERS,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.client, self.target = client, target
        self.state = state or default_state(target)
        self.store, self.workers = store, workers
        self.progress = progress
        self.manifest: dict[str, str] = {}
        self.frozen: dict[str, int] = {}
        self._since_checkpoint = 0

    # -- the manifest -------------------------------------------------------------------

    def load(self) -> None:
        """Read the manifest (an absent one means an empty bucket prefix)."""
        document = self._read_manifest()
        self.manifest = dict(document.get("objects", {}))
        self.frozen = dict(document.get("frozen", {}))

    def _read_manifest(self) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_object(Bucket=self.state.bucket, Key=self.state.prefix)
            document = json.loads(reply["Body"].read())
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return {}
            raise StoreError(f"cannot read the publish manifest {self.state.url}: {e}") from e
        except (BotoCoreError, ValueError) as e:
            raise StoreError(f"cannot read the publish manifest {self.state.url}: {e}") from e
        if document.get("format") != MANIFEST_FORMAT or document.get("site") != self.target.url:
            raise StoreError(
                f"{self.state.url} is not the publish manifest of {self.target.url}: "
                "set [output] state to a key of its own"
            )
        return dict(document)

    def write_manifest(self, report: PublishReport) -> None:
        document = {"format": MANIFEST_FORMAT, "site": self.target.url,
                    "objects": self.manifest, "frozen": self.frozen}
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        self._call(lambda: self.client.put_object(
            Bucket=self.state.bucket, Key=self.state.prefix, Body=body,
            ContentType="application/json", CacheControl="no-store",
        ), self.state.url)
        report.manifest_writes += 1
        self._since_checkpoint = 0

    # -- object operations (one place each, so a test can interpose) ---------------------

    def _call(self, action: Callable[[], object], what: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            action()
        except (BotoCoreError, ClientError, OSError, ValueError) as e:
            raise StoreError(f"cannot publish {what}: {e}") from e

    def put(self, item: SiteObject) -> int:
        """Upload ``item`` from its file; return the bytes sent."""
        source = item.source
        assert source is not None
        headers = item.headers
        sent = [0]

        def upload() -> None:
            if item.key.startswith("files/"):
                sent[0] = source.stat().st_size
                self.client.upload_file(str(source), self.target.bucket,
                                        self.target.key(item.key), ExtraArgs=headers.as_args())
            else:
                body = read_page(source) if item.compressed else source.read_bytes()
                sent[0] = len(body)
                self.client.put_object(
                    Bucket=self.target.bucket, Key=self.target.key(item.key),
                    Body=body, ContentType=headers.content_type,
                    CacheControl=headers.cache_control,
                )

        self._call(upload, self.target.key(item.key))
        return sent[0]

    def copy(self, item: SiteObject, bucket: str, key: str) -> None:
        """Make ``item`` a server-side copy of ``bucket``/``key`` with its own headers."""
        extra: dict[str, Any] = {**item.headers.as_args(), "MetadataDirective": "REPLACE"}
        self._call(lambda: self.client.copy(
            {"Bucket": bucket, "Key": key}, self.target.bucket, self.target.key(item.key),
            ExtraArgs=extra,
        ), self.target.key(item.key))

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            objects: Any = [{"Key": self.target.key(k)} for k in chunk]

            def remove(objects: Any = objects) -> None:
                reply = self.client.delete_objects(
                    Bucket=self.target.bucket, Delete={"Objects": objects, "Quiet": True})
                if reply.get("Errors"):
                    raise StoreError(f"S3 refused to delete: {reply['Errors'][:3]}")

            self._call(remove, f"deletions below {self.target.url}")

    # -- the run ------------------------------------------------------------------------

    def publish(
        self, objects: Iterable[SiteObject], days: Container[str] | None = None
    ) -> PublishReport:
        """Bring the bucket to exactly ``objects`` (see the module docstring); call
        ``load`` first. ``days`` are the snapshot days the site has (frozen days of the
        manifest not among them are deleted; None keeps them all)."""
        started = time.monotonic()
        report = PublishReport(target=self.target.url)
        desired: dict[str, SiteObject] = {}
        for item in objects:
            if item.key or self.target.prefix:
                desired[item.key] = item
        if self.store is not None:
            for item in store_objects(self.store, self.target):
                desired.setdefault(item.key, item)
        report.objects = len(desired)
        changed = [o for k, o in desired.items() if self.manifest.get(k) != o.content]
        report.unchanged = len(desired) - len(changed)
        overwritten = [o.key for o in changed if o.key in self.manifest]
        if overwritten:
            for key in overwritten:
                del self.manifest[key]
            self.write_manifest(report)
        # Content already in the bucket, by content id: a source for server-side copies.
        available: dict[str, str] = {}
        for key, content in self.manifest.items():
            if not content.startswith("size:"):
                available.setdefault(content, key)
        try:
            for number in range(len(PHASES)):
                batch = sorted((o for o in changed if o.phase == number), key=lambda o: o.key)
                if batch:
                    self._note(f"{PHASES[number]}: {len(batch)} object(s)")
                    self._run_phase(batch, available, report)
        except StoreError:
            # Keep what was written, so the next run resumes from there (best effort: the
            # failure may be the bucket's).
            with contextlib.suppress(StoreError):
                self.write_manifest(report)
            raise
        gone = sorted((k for k in self.manifest if k not in desired),
                      key=lambda k: (-phase_of(k), k))
        if gone:
            self._note(f"deleting {len(gone)} object(s)")
            self.delete(gone)
            for key in gone:
                del self.manifest[key]
            report.deleted = len(gone)
        pruned = sorted(d for d in self.frozen if days is not None and d not in days)
        for day in pruned:
            self._note(f"deleting snapshot {day}")
            report.deleted += self._delete_prefix(day + "/")
            del self.frozen[day]
        newly_frozen = self._freeze_days()
        if changed or gone or overwritten or pruned or newly_frozen:
            self.write_manifest(report)
        report.seconds = time.monotonic() - started
        return report

    def _freeze_days(self) -> bool:
        """Fold every fully published day's objects into one ``frozen`` entry."""
        per_day: dict[str, list[str]] = {}
        for key in self.manifest:
            day = day_of(key)
            if day is not None:
                per_day.setdefault(day, []).append(key)
        for day, keys in per_day.items():
            self.frozen[day] = self.frozen.get(day, 0) + len(keys)
            for key in keys:
                del self.manifest[key]
        return bool(per_day)

    def _delete_prefix(self, relative: str) -> int:
        prefix = self.target.key(relative)
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.target.bucket, Prefix=prefix):
            keys += [item["Key"][len(self.target.key("")):] for item in page.get("Contents", ())]
        self.delete(keys)
        return len(keys)

    def _run_phase(
        self, batch: list[SiteObject], available: dict[str, str], report: PublishReport
    ) -> None:
        uploads: list[SiteObject] = []
        copies: list[tuple[SiteObject, str, str]] = []
        planned: set[str] = set()
        for item in batch:
            if item.store_key is not None and self.store is not None:
                copies.append((item, self.store.location.bucket, item.store_key))
            elif item.content in available:
                copies.append((item, self.target.bucket, self.target.key(available[item.content])))
            elif item.content in planned and not item.content.startswith("size:"):
                copies.append((item, "", item.content))  # source known after the uploads
            else:
                uploads.append(item)
                planned.add(item.content)

        def done(item: SiteObject) -> None:
            self.manifest[item.key] = item.content
            if not item.content.startswith("size:"):
                available.setdefault(item.content, item.key)
            report.keys.append(item.key)
            self._since_checkpoint += 1
            if self._since_checkpoint >= CHECKPOINT:
                self.write_manifest(report)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for item, sent in zip(uploads, pool.map(self.put, uploads), strict=True):
                report.uploaded += 1
                report.bytes_uploaded += sent
                done(item)
            resolved = [
                (item, bucket or self.target.bucket,
                 key if bucket else self.target.key(available[key]))
                for item, bucket, key in copies
            ]
            for item, _ in zip(
                (r[0] for r in resolved),
                pool.map(lambda r: self.copy(*r), resolved),
                strict=True,
            ):
                report.copied += 1
                done(item)

    def _note(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


def publish_site(
    output: Path, client: S3Client, target: S3Location, state: S3Location | None = None, *,
    store: S3Store | None = None, progress: Callable[[str], None] | None = None,
) -> PublishReport:
    """Publish the site in ``output`` to ``target`` (see the module docstring).

    Raises ``StoreError`` when the bucket cannot be read or written; what was written
    before is recorded, and the next run goes on from there.
    """
    publisher = Publisher(client, target, state, store=store, progress=progress)
    publisher.load()
    cache = output / CACHE_DIR / (hashlib.sha256(target.url.encode()).hexdigest()[:16] + ".json")
    ids = _ContentIds(cache)
    days: set[str] = set()
    objects = list(scan_site(output, ids, skip_days=publisher.frozen, days=days))
    try:
        return publisher.publish(objects, days)
    finally:
        ids.save()
