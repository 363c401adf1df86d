"""Mirrored files fetched on their first request (``file_mode = "lazy"``).

nginx serves ``/files/…`` from disk and passes a miss here (``try_files`` → sidecar), as
``timeshelf serve`` routes it here directly. The file is looked up by sha256 and name in
the catalog, fetched from its upstream URL, checked against the sha256 the upstream
listed, stored atomically, and served. Concurrent first requests for one file cause one
download (``generator.mirror.fetch.Fetcher``). A body with the wrong hash is refused with a 502
that says so, logged, and nothing is stored; a file no mirror knows is a plain 404.

Every ``/files/`` path of ``timeshelf serve`` comes here (stored files too), so this is
also where a withheld file (``generator.output.withheld``) answers 403 with its reason,
before anything is served or fetched.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response

from generator.errors import InvalidDistribution, NotFound
from generator.intake.distributions import check_filename
from generator.mirror.fetch import HashMismatch
from generator.mirror.http import UpstreamUnavailable
from generator.output.withheld import withheld_reason
from generator.storage.store import BlobStore, file_key
from uploader.context import installation, services
from uploader.errors import BadGateway, FileWithheld, PageNotFound
from uploader.serving.static_site import content_type_for, is_file, is_hidden, send_site_file

log = logging.getLogger(__name__)
bp = Blueprint("mirror_files", __name__)
_SHA256 = re.compile(r"[0-9a-f]{64}")
METADATA = ".metadata"


@bp.route("/files/<a>/<b>/<sha256>/<filename>", methods=["GET"],
          provide_automatic_options=False)
def mirrored_file(a: str, b: str, sha256: str, filename: str) -> Response:
    path = f"files/{a}/{b}/{sha256}/{filename}"
    if is_hidden(path) or not _SHA256.fullmatch(sha256) or (a, b) != (sha256[:2], sha256[2:4]):
        raise PageNotFound
    inst = installation()
    # Before anything is served or fetched: a withheld file never leaves the upstream.
    reason = withheld_reason(inst.config.output_path, sha256)
    if reason is not None:
        raise FileWithheld(reason)
    wanted = filename[: -len(METADATA)] if filename.endswith(METADATA) else filename
    try:
        # No file is stored under a name no store may hold (a segment over 255 bytes
        # would make the lookups below raise ENAMETOOLONG): not found, without asking.
        check_filename(wanted)
    except InvalidDistribution as e:
        raise PageNotFound from e
    on_site = inst.config.output_path / path
    if is_file(on_site):
        return send_site_file(on_site, path, vary=False)
    key = file_key(sha256, filename)
    try:
        stored = inst.store.exists(key)
    except OSError as e:
        raise PageNotFound from e
    if not stored:
        ref = inst.catalog.upstream_file(sha256, wanted)
        if ref is None or (wanted != filename and ref.metadata_sha256 is None):
            raise PageNotFound
        url, digest = (ref.url, ref.sha256) if wanted == filename else (
            ref.url + METADATA, ref.metadata_sha256 or "")
        chosen = services().fetcher()
        # The site's answers (nginx's shape), not the API's: a refused body or a failed
        # upstream is a 502, a file the upstream no longer has a 404, each saying which.
        try:
            chosen.ensure(key, url, digest)
        except HashMismatch as e:
            log.error("refused a mirrored file: %s", e)
            raise BadGateway(e) from e
        except NotFound as e:
            raise PageNotFound(str(e)) from e
        except UpstreamUnavailable as e:
            log.warning("upstream failed for %s: %s", path, e)
            raise BadGateway(e) from e
        finally:
            # First requests are rare (once per file): no idle connection per thread.
            chosen.client.close_thread()
    store = inst.store
    local = store.local_path(key)
    if local is None:
        return _stream(store, key, path)
    site_files = inst.config.output_path / "files"
    if store.needs_links(site_files):
        store.link_into(key, site_files)
    return send_site_file(local, path, vary=False)


def _stream(store: BlobStore, key: str, path: str) -> Response:
    """A file of a store not on this host's disk, streamed through (the site's own copy
    is published later)."""
    blob = store.open(key)
    response = Response(blob.iter_chunks(1 << 20), mimetype=content_type_for(path))
    response.headers["Content-Length"] = str(blob.size)
    response.headers["Content-Type"] = content_type_for(path)
    return response
