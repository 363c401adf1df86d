"""The ``status`` command: a project's PEP 792 status (active, archived, quarantined,
deprecated), recorded as an event, then the repositories that show it regenerated."""

from __future__ import annotations

import click

from generator.catalog.status import MAX_REASON, check_status
from generator.cli.context import Context, info, pass_ctx
from generator.cli.reporting import report_generation
from generator.errors import NotFound
from generator.installation import Installation
from generator.records import PROJECT_STATUSES, Source

_EFFECTS = {
    "active": "uploads are taken and every file is served",
    "archived": "new uploads are refused; existing files stay installable",
    "quarantined": "no file is listed or served, and no upload is taken",
    "deprecated": "informational: installers may warn",
}


def pick_source(inst: Installation, project: str, source: str | None) -> Source:
    """The source whose ``project`` is meant: ``source`` when given, else the only one
    holding the project. ``NotFound`` when none holds it or several do (naming them)."""
    if source is not None:
        return inst.catalog.get_source(source)
    holders = inst.catalog.sources_with_project(project)
    if not holders:
        raise NotFound(
            f"no source holds a project {project!r} (nothing changed); "
            "`timeshelf list packages` lists them"
        )
    if len(holders) > 1:
        names = ", ".join(s.name for s in holders)
        raise NotFound(
            f"project {project!r} is in several sources ({names}): pass --source "
            "(nothing changed)"
        )
    return holders[0]


@click.command()
@click.argument("project")
@click.argument("status", metavar=f"{{{'|'.join(PROJECT_STATUSES)}}}")
@click.option("--reason", default="",
              help=f"Why (shown in the pages and the refusals; at most {MAX_REASON} characters).")
@click.option("--source", default=None,
              help="Source holding the project (needed only when several do).")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def status(
    ctx: Context, project: str, status: str, reason: str, source: str | None,
    no_generate: bool,
) -> None:
    """Set a project's status (PEP 792), from now on; dated days keep the one they had.

    \b
    active       the default
    archived     new uploads are refused; existing files stay installable
    quarantined  no file is listed or served, and no upload is taken
    deprecated   informational (installers may warn)
    """
    inst = ctx.inst
    wanted = check_status(status, reason)
    src = pick_source(inst, project, source)
    changed = inst.catalog.set_project_status(src, project, wanted, inst.now())
    said = f"{wanted.status}" + (f" ({wanted.reason})" if wanted.reason else "")
    if not changed:
        info(f"project {project!r} of source {src.name!r} was already {said}")
        return
    info(f"project {project!r} of source {src.name!r} is now {said}: {_EFFECTS[wanted.status]}")
    if not no_generate:
        report_generation(inst.generate(inst.repos_using([src.name])))
