"""The sidecar's JSON API (``/__api__/``) and fast answers to probes of paths we do not serve.

uv and pdm probe ``/_/oidc/audience`` (trusted publishing) before asking for
credentials; a quick 404 lets them fall back at once.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from generator import __version__
from uploader.context import installation

bp = Blueprint("api", __name__)


@bp.get("/__api__/status")
def status() -> Response:
    inst = installation()
    return jsonify(
        {
            "version": __version__,
            "repositories": [r.name for r in inst.catalog.list_repos()],
            "serial": inst.catalog.last_event_id(),
        }
    )


@bp.route("/__api__/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
def unknown_api(rest: str) -> Response:
    response = jsonify({"message": f"no API endpoint /__api__/{rest}", "code": 404})
    response.status_code = 404
    return response


@bp.route("/_/<path:rest>", methods=["GET", "HEAD", "POST"])
def unsupported(rest: str) -> Response:
    return Response(
        "trusted publishing is not supported here: use an API token\n",
        status=404,
        mimetype="text/plain",
    )
