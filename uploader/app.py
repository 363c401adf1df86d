"""The Flask application factory of the sidecar.

One blueprint per concern; the installation (configuration, catalog, store) is injected,
never imported from module state. Errors become responses in one place, ``handle_error``.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, request

from generator.errors import NotFound, StoreError, TimeshelfError
from generator.installation import Installation
from uploader.errors import UploadError

log = logging.getLogger(__name__)
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def create_app(inst: Installation, *, serve_site: bool = True) -> Flask:
    """Build the sidecar for ``inst``; with ``serve_site`` it also serves the static output."""
    app = Flask("timeshelf", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = inst.config.max_request_size
    # Long READMEs arrive in the `description` field (Flask's default is 500 kB per field).
    app.config["MAX_FORM_MEMORY_SIZE"] = 16 * 1024 * 1024
    app.config["MAX_FORM_PARTS"] = 5000
    app.extensions["timeshelf"] = inst

    from uploader.api.bundles import bp as bundle_bp
    from uploader.api.status import bp as api_bp
    from uploader.api.uploads import bp as upload_bp
    from uploader.serving.mirror_files import bp as mirror_files_bp

    app.register_blueprint(upload_bp)
    # Before api_bp, whose catch-all answers unknown /__api__/ paths.
    app.register_blueprint(bundle_bp)
    app.register_blueprint(api_bp)
    # Always: nginx passes its misses below /files/ here (lazily mirrored files).
    app.register_blueprint(mirror_files_bp)
    if serve_site:
        from uploader.serving.snapshot_pages import bp as snapshot_bp
        from uploader.serving.static_site import bp as site_bp

        app.register_blueprint(snapshot_bp)
        app.register_blueprint(site_bp)
    app.before_request(refuse_unparsed_upload_bodies)
    app.register_error_handler(UploadError, handle_error)
    app.register_error_handler(TimeshelfError, handle_timeshelf_error)
    app.register_error_handler(413, handle_too_large)
    return app


def refuse_unparsed_upload_bodies() -> None:
    """Raise ``UploadError(415)`` for a POST to ``/upload/`` that is not multipart/form-data.

    Runs before any view touches ``request.form``: werkzeug reads an urlencoded body
    whole into memory and applies neither ``MAX_FORM_PARTS`` nor ``MAX_FORM_MEMORY_SIZE``
    to it (2 MiB of ``a&`` is a million fields), and every upload client sends multipart.
    """
    if request.method != "POST" or not request.path.startswith("/upload/"):
        return
    if request.mimetype != "multipart/form-data":
        raise UploadError(
            415,
            "Uploads are multipart/form-data (as twine, uv, poetry ... send them): "
            f"got {request.headers.get('Content-Type', '')!r}",
        )


def installation(app: Flask) -> Installation:
    """The installation an app was created for."""
    inst = app.extensions["timeshelf"]
    assert isinstance(inst, Installation)
    return inst


def _reason(message: str) -> str:
    """A reason phrase that cannot break the status line (no CR/LF, latin-1 only)."""
    flat = " ".join(message.split())
    safe = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in flat)
    return safe[:400]


def handle_error(error: UploadError) -> Response:
    """Status + message in the reason phrase, and in the body (JSON when the client wants it)."""
    title = _TITLES.get(error.status, "Error")
    wants_json = (
        request.accept_mimetypes.best_match(["text/plain", "application/json"])
        == "application/json"
    )
    if wants_json:
        body = json.dumps(
            {"message": error.message, "code": f"{error.status} {error.message}", "title": title}
        )
        response = Response(body + "\n", mimetype="application/json")
        response.headers["Content-Type"] = "application/json"
    else:
        response = Response(f"{error.status} {error.message}\n", mimetype="text/plain")
    response.status = f"{error.status} {_reason(error.message)}"
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def handle_timeshelf_error(error: TimeshelfError) -> Response:
    if isinstance(error, StoreError):
        # The server's fault (disk full, permissions): its message names server paths, so
        # it goes to the log; a 5xx lets twine retry.
        log.error("storage failure: %s", error)
        return handle_error(
            UploadError(500, "The server could not store the file: try again later")
        )
    status = 404 if isinstance(error, NotFound) else 400
    return handle_error(UploadError(status, str(error)))


def handle_too_large(_error: Exception) -> Response:
    from flask import current_app

    inst = installation_from_request()
    limit = inst.config.max_request_size if inst else 0
    # Werkzeug raises the same 413 for each of the three limits: name them all.
    return handle_error(UploadError(
        413,
        f"Request body too large: the limits are {limit} bytes in all, "
        f"{current_app.config['MAX_FORM_PARTS']} form parts and "
        f"{current_app.config['MAX_FORM_MEMORY_SIZE']} bytes per form field",
    ))


def installation_from_request() -> Installation | None:
    from flask import current_app

    inst = current_app.extensions.get("timeshelf")
    return inst if isinstance(inst, Installation) else None
