"""Dated snapshot pages rendered on demand, for days that are not materialized.

nginx (and ``timeshelf serve``) serve materialized days from disk; a day outside the
retention policy is rendered here from the catalog with the code that materializes days,
so it has the same bytes, and cached under ``<out>/<repo>/.ondemand/<render version>/``.
A date before the repository's history, today, a future date or a malformed date is a
404 whose body says which.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from packaging.utils import canonicalize_name

from generator.errors import NotFound
from generator.render.simple import RENDER_VERSION
from generator.serving.negotiate import Variant, negotiate
from generator.snapshots.calendar import check_snapshot_day
from generator.snapshots.ondemand import render_on_demand
from generator.storage.atomic import write_bytes
from uploader.context import installation
from uploader.errors import PageNotFound
from uploader.serving.static_site import is_dir, is_file, send_site_file, site

bp = Blueprint("snapshot_pages", __name__)
_DAYLIKE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9-]+")


# strict_slashes=False: without its slash a URL goes to the static view, which answers
# as nginx does (301 to a path-only Location, or 404), not werkzeug's absolute 308.
@bp.route("/<repo>/<day>/simple/", methods=["GET"], provide_automatic_options=False,
          strict_slashes=False)
@bp.route("/<repo>/<day>/simple/<project>/", methods=["GET"], provide_automatic_options=False,
          strict_slashes=False)
def snapshot_page(repo: str, day: str, project: str | None = None) -> Response:
    """A snapshot directory URL: the page ``Accept`` (or ``?format=``) picks."""
    if not request.path.endswith("/"):
        return site(request.path.lstrip("/"))
    return _answer(repo, day, project, None)


# A page asked for by name. nginx asks so too: it looks for a dated page's stored
# ``index.<variant>.gz`` under that name and passes the miss on as it is.
@bp.route("/<repo>/<day>/simple/index.<any(html, json):variant>", methods=["GET"],
          provide_automatic_options=False)
@bp.route("/<repo>/<day>/simple/<project>/index.<any(html, json):variant>",
          methods=["GET"], provide_automatic_options=False)
def snapshot_page_file(repo: str, day: str, variant: Variant,
                       project: str | None = None) -> Response:
    """A snapshot page asked for by its file name: that variant, whatever ``Accept`` says."""
    return _answer(repo, day, project, variant)


def _answer(repo: str, day: str, project: str | None, named: Variant | None) -> Response:
    directory = f"{repo}/{day}/simple/" + (f"{project}/" if project else "")
    path = directory + (f"index.{named}" if named else "")
    inst = installation()
    output = inst.config.output_path
    if day == "latest" or repo.startswith(".") or not _DAYLIKE.fullmatch(day):
        return site(path)
    if is_dir(output / repo / day / "simple"):
        return site(path)
    try:
        chosen = inst.catalog.get_repo(repo)
        checked = check_snapshot_day(inst.catalog, chosen, day, inst.now())
    except NotFound as e:
        raise PageNotFound(str(e), vary=True) from e
    variant = named or negotiate(request.headers.get("Accept"), request.args.get("format"))
    if variant is None:
        return site(path)  # the static view's 406
    if project is not None and canonicalize_name(project) != project:
        raise PageNotFound(
            f"project names in URLs are normalized: use {canonicalize_name(project)}/", vary=True
        )
    cache = output / repo / ".ondemand" / RENDER_VERSION / checked.isoformat() / "simple"
    page_dir = cache / project if project else cache
    target = page_dir / f"index.{variant}"
    if not is_file(target):
        try:
            page = render_on_demand(inst.catalog, inst.renderer, chosen, checked, project)
        except NotFound as e:
            raise PageNotFound(str(e), vary=True) from e
        write_bytes(page_dir / "index.html", page.html)
        write_bytes(page_dir / "index.json", page.json)
    return send_site_file(target, f"{directory}index.{variant}", vary=True)
