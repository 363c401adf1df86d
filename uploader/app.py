"""The Flask application factory of the sidecar.

One blueprint per concern; the installation (configuration, catalog, store) is injected,
never imported from module state.
"""

from __future__ import annotations

from flask import Flask

from generator.installation import Installation


def create_app(inst: Installation, *, serve_site: bool = True) -> Flask:
    """Build the sidecar for ``inst``; with ``serve_site`` it also serves the static output."""
    app = Flask("timeshelf", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = inst.config.max_request_size
    app.extensions["timeshelf"] = inst
    if serve_site:
        from uploader.static_site import bp as site_bp

        app.register_blueprint(site_bp)
    return app


def installation(app: Flask) -> Installation:
    """The installation an app was created for."""
    inst = app.extensions["timeshelf"]
    assert isinstance(inst, Installation)
    return inst
