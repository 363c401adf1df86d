"""Mirrored files fetched on their first request (``file_mode = "lazy"``).

nginx serves ``/files/…`` from disk and passes a miss here (``try_files`` → sidecar), as
``timeshelf serve`` routes it here directly. The file is looked up by sha256 and name in
the catalog, fetched from its upstream URL, checked against the sha256 the upstream
listed, stored atomically, and served. Concurrent first requests for one file cause one
download (``generator.mirror.fetch.Fetcher``). A body with the wrong hash is refused with a 502
that says so, logged, and nothing is stored; a file no mirror knows is a plain 404.
"""

from __future__ import annotations

import logging
import re
import threading

from flask import Blueprint, Flask, Response, current_app

from generator.errors import InvalidDistribution, NotFound
from generator.intake.distributions import check_filename
from generator.mirror.fetch import Fetcher, HashMismatch
from generator.mirror.http import UpstreamUnavailable
from generator.mirror.sync import make_client, make_fetcher
from generator.storage.store import BlobStore, LocalStore, file_key
from uploader.app import installation
from uploader.serving.static_site import _send, content_type_for, is_file, is_hidden

log = logging.getLogger(__name__)
bp = Blueprint("mirror_files", __name__)
_SHA256 = re.compile(r"[0-9a-f]{64}")
METADATA = ".metadata"
_FETCHER_LOCK = threading.Lock()


def fetcher(app: Flask) -> Fetcher:
    """The app's one fetcher (one lock table for all its threads)."""
    # Under a lock: two threads each making one would each lock only their own
    # requests, and concurrent first requests would download once per fetcher.
    with _FETCHER_LOCK:
        found = app.extensions.get("timeshelf_fetcher")
        if not isinstance(found, Fetcher):
            inst = installation(app)
            found = make_fetcher(inst.store, make_client(inst.config.mirror), inst.mirror_dir)
            app.extensions["timeshelf_fetcher"] = found
        return found


def _plain(status: int, message: str) -> Response:
    return Response(f"{status} {message}\n", status, mimetype="text/plain")


@bp.route("/files/<a>/<b>/<sha256>/<filename>", methods=["GET"],
          provide_automatic_options=False)
def mirrored_file(a: str, b: str, sha256: str, filename: str) -> Response:
    path = f"files/{a}/{b}/{sha256}/{filename}"
    if is_hidden(path) or not _SHA256.fullmatch(sha256) or (a, b) != (sha256[:2], sha256[2:4]):
        return _plain(404, "Not Found")
    wanted = filename[: -len(METADATA)] if filename.endswith(METADATA) else filename
    try:
        # No file is stored under a name no store may hold (a segment over 255 bytes
        # would make the lookups below raise ENAMETOOLONG): not found, without asking.
        check_filename(wanted)
    except InvalidDistribution:
        return _plain(404, "Not Found")
    inst = installation(current_app)
    on_site = inst.config.output_path / path
    if is_file(on_site):
        return _send(on_site, path, vary=False)
    key = file_key(sha256, filename)
    try:
        stored = inst.store.exists(key)
    except OSError:
        return _plain(404, "Not Found")
    if not stored:
        ref = inst.catalog.upstream_file(sha256, wanted)
        if ref is None or (wanted != filename and ref.metadata_sha256 is None):
            return _plain(404, "Not Found")
        url, digest = (ref.url, ref.sha256) if wanted == filename else (
            ref.url + METADATA, ref.metadata_sha256 or "")
        chosen = fetcher(current_app)
        try:
            chosen.ensure(key, url, digest)
        except HashMismatch as e:
            log.error("refused a mirrored file: %s", e)
            return _plain(502, f"Bad Gateway: {e}")
        except NotFound as e:
            return _plain(404, f"Not Found: {e}")
        except UpstreamUnavailable as e:
            log.warning("upstream failed for %s: %s", path, e)
            return _plain(502, f"Bad Gateway: {e}")
        finally:
            # First requests are rare (once per file): no idle connection per thread.
            chosen.client.close_thread()
    store = inst.store
    if not isinstance(store, LocalStore):
        return _stream(store, key, path)
    if store.root.resolve() != (inst.config.output_path / "files").resolve():
        store.link_into(key, inst.config.output_path / "files")
    return _send(store.path(key), path, vary=False)


def _stream(store: BlobStore, key: str, path: str) -> Response:
    """A file of an S3 store, streamed through (the site's own copy is published later)."""
    from generator.storage.s3store import S3Store

    if not isinstance(store, S3Store):
        return Response(store.read(key), mimetype=content_type_for(path))
    body, size = store.open(key)
    response = Response(body.iter_chunks(1 << 20), mimetype=content_type_for(path))
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Type"] = content_type_for(path)
    return response
