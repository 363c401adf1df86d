"""The pages of a snapshot day, rendered from the catalog's replay of that day.

One code for both kinds of day: materialization (``generator.snapshots.materialize``)
stores what ``render_project`` and ``render_root`` make, and a day past retention (or
reconstructed) is rendered by ``render_on_demand`` when the sidecar is asked for it, so
both give the same bytes. Both render a day in the Simple format in force at its end
(``format_at``): a day keeps its bytes when a later timeshelf changes the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from packaging.utils import NormalizedName, canonicalize_name

from generator.catalog.catalog import Catalog
from generator.errors import NotFound
from generator.policy.listing import listed_projects
from generator.records import ProjectState, Repo
from generator.render.simple import (
    PROJECT_FILES_PREFIX,
    RENDER_VERSION,
    Renderer,
    project_json,
    root_json,
)
from generator.snapshots.calendar import day_end


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotPage:
    """A page of a snapshot day (its root or a project's) in both forms."""

    html: bytes
    json: bytes


def format_at(catalog: Catalog, at: str) -> str:
    """The Simple format of the pages of the state at ``at`` (a day's end): the one in
    force then (``Catalog.render_format_at``). The one place that decides it, for
    materialized and on-demand days alike."""
    return catalog.render_format_at(at, RENDER_VERSION)


def day_renderer(catalog: Catalog, renderer: Renderer, day: date) -> Renderer:
    """The renderer of ``day``'s pages: ``renderer``'s templates, the day's format."""
    return renderer.for_format(format_at(catalog, day_end(day)))


def render_project(renderer: Renderer, project: ProjectState) -> SnapshotPage:
    """A project's page of a snapshot day, in ``renderer``'s format."""
    return SnapshotPage(
        html=renderer.project_html(project, PROJECT_FILES_PREFIX),
        json=project_json(project, PROJECT_FILES_PREFIX, render_version=renderer.render_version),
    )


def render_root(renderer: Renderer, listing: list[tuple[NormalizedName, str]]) -> SnapshotPage:
    """A snapshot day's root page: ``listing`` is (name, display name) of every project."""
    return SnapshotPage(html=renderer.root_html(listing),
                        json=root_json(listing, render_version=renderer.render_version))


def render_on_demand(
    catalog: Catalog, renderer: Renderer, repo: Repo, day: date, project: str | None
) -> SnapshotPage:
    """A page of a snapshot day, rendered now: the root (``project`` None) or a project's.

    The same code as materialization, so the same bytes (in the day's format, whatever
    ``renderer``'s is). ``NotFound`` for a project the repository did not have that day.
    """
    at = day_end(day)
    renderer = day_renderer(catalog, renderer, day)
    if project is None:
        return render_root(renderer, catalog.project_names_at(repo, at))
    name = canonicalize_name(project)
    for state in listed_projects(
        catalog, repo, catalog.iter_projects_at(repo, at, [name]), at=at, names=[name]
    ):
        return render_project(renderer, state)
    raise NotFound(f"project {project!r} was not in repository {repo.name!r} on {day}")
