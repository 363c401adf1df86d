"""The static site served by ``timeshelf serve``, with the same rules as the nginx config.

``site/nginx.conf.j2`` and this blueprint must answer every request alike; the tests
run one table of cases against both. The rules:

- ``/<repo>/<latest|YYYY-MM-DD>/simple/`` and ``.../simple/<project>/``: PEP 691
  negotiation (``generator.serving.negotiate``) picks ``index.json``
  (``application/vnd.pypi.simple.v1+json``) or ``index.html``
  (``text/html; charset=utf-8``); 406 when nothing is acceptable; ``Vary: Accept``
  always; a missing page is a plain 404 (pip and uv read it as "not here").
- Cache lifetimes: ``latest`` pages and everything else ``max-age=60`` (revalidated
  with ETag/Last-Modified); ``/files/`` and the pages of a dated snapshot whose UTC
  day is over ``public, max-age=31536000, immutable``. Sent on 2xx and 3xx only.
- Types: ``.metadata`` ``text/plain; charset=utf-8``, ``.asc``
  ``application/pgp-signature``, distributions ``application/octet-stream``, never a
  ``Content-Encoding``; ranges, HEAD and conditional requests as ``send_file`` does.
- A directory without its trailing slash → 301 to a path-only ``Location``; a
  directory with one serves its ``index.html`` or is 404.
- Any path segment starting with ``.`` (temporary files, ``.generate.lock``) and any
  path escaping the output directory → 404; so is a path the filesystem refuses to look
  up (a segment over 255 bytes: ``ENAMETOOLONG``): a client chose it, so it is not found,
  never a 500.
- A frozen day stores its pages gzip-compressed (``index.json.gz``, see
  ``generator.snapshots.frozen``): they are served decompressed under their own names, and the
  ``.gz`` names are 404.

The blueprint has one catch-all GET/HEAD route, so it never takes other methods or
more specific routes (uploads, ``/__api__/``) from other blueprints. Its 404s and 406s
are raised (``uploader.errors.PageNotFound``, ``NotAcceptable``) and answered by the
app's one handler as plain text, as nginx answers them; ``send_site_file`` is the one
way every blueprint here answers with a file of the site.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from flask import Blueprint, Response, request, send_file
from werkzeug.security import safe_join

from generator.serving.negotiate import negotiate
from generator.snapshots.frozen import is_compressed_name, read_page, stored_page
from uploader.context import installation
from uploader.errors import NotAcceptable, PageNotFound

bp = Blueprint("static_site", __name__)

JSON_CONTENT_TYPE: Final = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE: Final = "text/html; charset=utf-8"
SHORT_CACHE: Final = "max-age=60"
IMMUTABLE_CACHE: Final = "public, max-age=31536000, immutable"

_VIEW = r"(?:latest|(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2}))"
SIMPLE_DIRECTORY: Final = re.compile(rf"[^/]+/{_VIEW}/simple/(?:[^/]+/)?")
SIMPLE_PAGE: Final = re.compile(rf"[^/]+/{_VIEW}/simple/(?:[^/]+/)?index\.(?:html|json)")
# The nginx `types` block of the server, by file extension.
CONTENT_TYPES: Final = {
    "html": HTML_CONTENT_TYPE,
    "json": "application/json",
    "css": "text/css",
    "js": "application/javascript; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
    "woff2": "font/woff2",
    "txt": "text/plain; charset=utf-8",
    "metadata": "text/plain; charset=utf-8",
    "asc": "application/pgp-signature",
}
FILES_CONTENT_TYPES: Final = {
    "metadata": "text/plain; charset=utf-8",
    "asc": "application/pgp-signature",
}
DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"


def is_hidden(path: str) -> bool:
    """True if a segment of the URL path starts with ``.`` (never served)."""
    return any(segment.startswith(".") for segment in path.split("/"))


def content_type_for(path: str) -> str:
    """The ``Content-Type`` of the file at URL path ``path`` (no leading ``/``)."""
    name = path.rpartition("/")[2]
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if SIMPLE_PAGE.fullmatch(path):
        return JSON_CONTENT_TYPE if extension == "json" else HTML_CONTENT_TYPE
    if path.startswith("files/"):
        return FILES_CONTENT_TYPES.get(extension, DEFAULT_CONTENT_TYPE)
    return CONTENT_TYPES.get(extension, DEFAULT_CONTENT_TYPE)


def cache_control_for(path: str, today: date) -> str:
    """The ``Cache-Control`` of a 2xx/3xx answer for URL path ``path`` on UTC day ``today``."""
    if path.startswith("files/"):
        return IMMUTABLE_CACHE
    match = SIMPLE_DIRECTORY.match(path)
    if match is not None and match["year"] is not None:
        day = (match["year"], match["month"], match["day"])
        if "".join(day) < today.strftime("%Y%m%d"):
            return IMMUTABLE_CACHE
    return SHORT_CACHE


def is_file(path: Path) -> bool:
    """True when ``path`` is a file; False also when the filesystem refuses to look it up
    (any ``OSError``, such as a segment over 255 bytes): the paths here are chosen by
    clients, and what cannot be looked up is not found."""
    try:
        return path.is_file()
    except OSError:
        return False


def is_dir(path: Path) -> bool:
    """``is_file`` for a directory."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _finish(response: Response, path: str, *, vary: bool) -> Response:
    if vary:
        response.headers["Vary"] = "Accept"
    if 200 <= response.status_code < 400:
        today = installation().now().date()
        response.headers["Cache-Control"] = cache_control_for(path, today)
        response.headers.pop("Expires", None)
    return response


def _is_inside_site(file: Path) -> bool:
    """True when ``file``, symlinks followed, is below the output or the store directory."""
    config = installation().config
    real = file.resolve()
    return any(real.is_relative_to(root.resolve())
               for root in (config.output_path, config.store_path))


def send_site_file(file: Path, path: str, *, vary: bool) -> Response:
    """``file`` as the answer for URL path ``path`` (conditional, ranges, our headers);
    ``vary`` for a negotiated page. Raises ``PageNotFound`` for a file outside the output
    and store directories (symlinks followed)."""
    if not _is_inside_site(file):
        # A symlink planted in the store or the site must not publish the machine's files.
        raise PageNotFound(vary=vary)
    # An explicit type: guessing from the name would add Content-Encoding: gzip to a
    # .tar.gz, and clients would then unpack it and fail the hash check.
    response = send_file(file, mimetype=content_type_for(path), conditional=True, etag=True,
                         max_age=None)
    response.headers["Content-Type"] = content_type_for(path)
    response.headers.pop("Content-Encoding", None)
    response.headers.pop("Content-Disposition", None)
    return _finish(response, path, vary=vary)


def is_stored_page(path: str) -> bool:
    """True for the stored form of a simple page (``.../simple/index.json.gz``): it is
    served under its own name only, as nginx does."""
    return SIMPLE_DIRECTORY.match(path) is not None and is_compressed_name(path)


def _send_page(stored: Path, path: str, *, vary: bool) -> Response:
    """The simple page at URL path ``path``, kept in the file ``stored``: as it is, or
    decompressed when it is a frozen day's ``.gz`` (``generator.snapshots.frozen``)."""
    if not is_compressed_name(stored.name):
        return send_site_file(stored, path, vary=vary)
    if not _is_inside_site(stored):
        raise PageNotFound(vary=vary)
    facts = stored.stat()
    response = Response(read_page(stored), mimetype=content_type_for(path))
    response.headers["Content-Type"] = content_type_for(path)
    response.last_modified = datetime.fromtimestamp(facts.st_mtime, UTC)
    response.set_etag(f"{facts.st_ino:x}-{facts.st_size:x}-{facts.st_mtime_ns:x}")
    response.make_conditional(request, accept_ranges=True)
    return _finish(response, path, vary=vary)


# No automatic OPTIONS: nginx answers 405 to it for static files, so must we.
@bp.route("/", defaults={"path": ""}, methods=["GET"], provide_automatic_options=False)
@bp.route("/<path:path>", methods=["GET"], provide_automatic_options=False)
def site(path: str) -> Response:
    """Serve ``path`` from the output directory (GET; Flask adds HEAD); any ``OSError``
    looking the client's path up is a 404 (``PageNotFound``)."""
    try:
        return _site(path)
    except OSError as e:
        raise PageNotFound from e


def _site(path: str) -> Response:
    if is_hidden(path):
        raise PageNotFound
    root = installation().config.output_path
    if SIMPLE_DIRECTORY.fullmatch(path):
        variant = negotiate(request.headers.get("Accept"), request.args.get("format"))
        if variant is None:
            raise NotAcceptable
        page = safe_join(str(root), path + f"index.{variant}")
        stored = None if page is None else stored_page(Path(page))
        if stored is None:
            raise PageNotFound(vary=True)
        return _send_page(stored, path + f"index.{variant}", vary=True)
    joined = safe_join(str(root), path) if path else str(root)
    if joined is None:
        raise PageNotFound
    target = Path(joined)
    if target.is_dir():
        if path and not path.endswith("/"):
            query = request.query_string.decode("latin-1")
            location = f"{request.script_root}/{path}/" + (f"?{query}" if query else "")
            return _finish(Response(status=301, headers={"Location": location}), path,
                           vary=False)
        index = target / "index.html"
        if not index.is_file():
            raise PageNotFound
        return send_site_file(index, path + "index.html", vary=False)
    simple_page = bool(SIMPLE_PAGE.fullmatch(path))
    if simple_page:
        stored = stored_page(target)
        if stored is None:
            raise PageNotFound(vary=True)
        return _send_page(stored, path, vary=True)
    if not target.is_file() or is_stored_page(path):
        raise PageNotFound
    return send_site_file(target, path, vary=False)
