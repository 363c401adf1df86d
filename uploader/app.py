"""The Flask application factory of the sidecar.

One blueprint per concern; the installation (configuration, catalog, store) is injected
into the app (``uploader.context``), never imported from module state, and errors become
answers in one place (``uploader.errors.init_app``). Nothing imports this module but the
callers of ``create_app``.
"""

from __future__ import annotations

from flask import Flask

from generator.installation import Installation
from uploader import context, errors
from uploader.api import bundle_bp, status_bp, upload_bp
from uploader.deploy.builder import Builder
from uploader.serving import mirror_files_bp, site_bp, snapshot_bp


def create_app(
    inst: Installation, *, serve_site: bool = True, builder: Builder | None = None
) -> Flask:
    """Build the sidecar for ``inst``; with ``serve_site`` it also serves the static output.

    ``builder`` is the environment builder bundles use (``serve`` makes it after its
    startup check); without one, the app makes one from the configuration when needed.
    """
    app = Flask("timeshelf", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = inst.config.max_request_size
    # Long READMEs arrive in the `description` field (Flask's default is 500 kB per field).
    app.config["MAX_FORM_MEMORY_SIZE"] = 16 * 1024 * 1024
    app.config["MAX_FORM_PARTS"] = 5000
    context.init_app(app, inst, builder=builder)
    errors.init_app(app)

    app.register_blueprint(upload_bp)
    # Before status_bp, whose catch-all answers unknown /__api__/ paths.
    app.register_blueprint(bundle_bp)
    app.register_blueprint(status_bp)
    # Always: nginx passes its misses below /files/ here (lazily mirrored files).
    app.register_blueprint(mirror_files_bp)
    if serve_site:
        app.register_blueprint(snapshot_bp)
        app.register_blueprint(site_bp)
    return app
