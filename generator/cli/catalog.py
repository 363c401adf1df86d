"""The catalog's commands: ``add``, ``yank``, ``unyank``, ``remove``, ``subscribe``,
``reorder`` and ``list``; each edit regenerates the repositories it changes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from generator.cli.context import Context, info, pass_ctx
from generator.cli.reporting import report_generation
from generator.clock import parse_timestamp
from generator.errors import NotFound
from generator.installation import Installation
from generator.intake.ingest import ingest_paths
from generator.records import Source, TokenRecord

F = TypeVar("F", bound=Callable[..., Any])


@click.command()
@click.option("--repo", required=True, help="Repository to change.")
@click.option("--source", required=True, help="Source to add, after the current ones.")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def subscribe(ctx: Context, repo: str, source: str, no_generate: bool) -> None:
    """Subscribe a repository to a source (the order of subscription is the priority)."""
    updated = ctx.inst.catalog.subscribe(repo, source, ctx.inst.now())
    info(f"repository {updated.name!r} sources, highest priority first: {', '.join(updated.sources)}")
    if not no_generate:
        report_generation(ctx.inst.generate([updated]))


@click.command()
@click.option("--repo", required=True, help="Repository to change.")
@click.option("--sources", required=True, help="All its sources, comma-separated, highest priority first.")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def reorder(ctx: Context, repo: str, sources: str, no_generate: bool) -> None:
    """Change the priority order of a repository's sources."""
    names = [s.strip() for s in sources.split(",") if s.strip()]
    updated = ctx.inst.catalog.reorder(repo, names, ctx.inst.now())
    info(f"repository {updated.name!r} sources, highest priority first: {', '.join(updated.sources)}")
    if not no_generate:
        report_generation(ctx.inst.generate([updated]))


@click.command("list")
@click.argument("what", type=click.Choice(["repos", "sources", "packages", "tokens", "snapshots"]))
@click.option("--source", default=None, help="Only packages of this source.")
@click.option("--repo", default=None, help="Only packages this repository shows.")
@pass_ctx
def list_(ctx: Context, what: str, source: str | None, repo: str | None) -> None:
    """List repositories, sources, packages or tokens (never the tokens themselves)."""
    catalog = ctx.inst.catalog
    if what == "snapshots":
        from generator.snapshots.calendar import history_days, snapshot_days

        if repo is None:
            raise click.UsageError("list snapshots needs --repo R")
        chosen_repo = catalog.get_repo(repo)
        written = catalog.snapshot_days(chosen_repo)
        base = ctx.inst.config.base_url
        history = history_days(catalog, chosen_repo)
        for day in snapshot_days(catalog, chosen_repo, ctx.inst.now()):
            state = "materialized" if day.isoformat() in written else "on demand"
            if history is not None and day < history[1]:
                state = "reconstructed (on demand)"
            click.echo(f"{day}\t{state}\t{base}{chosen_repo.name}/{day}/simple/")
    elif what == "tokens":
        now = ctx.inst.now()
        for t in catalog.list_tokens():
            state = _token_state(t, now)
            click.echo(
                f"{t.id}\t{state}\t{','.join(t.sources)}\t{','.join(t.scopes)}\t"
                f"expires {t.expires_at or 'never'}\tlast used {t.last_used_at or 'never'}\t"
                f"{t.description}"
            )
    elif what == "repos":
        for r in catalog.list_repos():
            click.echo(f"{r.name}\t{','.join(r.sources) or '-'}\t{r.description}")
    elif what == "sources":
        for s in catalog.list_sources():
            click.echo(f"{s.name}\t{s.type}\t{s.upstream or '-'}")
    elif repo is not None:
        for project in catalog.iter_projects(catalog.get_repo(repo)):
            versions = {f.version for f in project.files}
            click.echo(f"{project.display_name}\t{project.source}\t{len(versions)} versions\t{len(project.files)} files")
    else:
        chosen = catalog.get_source(source) if source else None
        for p in catalog.list_packages(chosen):
            click.echo(f"{p.display_name}\t{p.source}\t{p.latest}\t{p.versions} versions\t{p.files} files")



@click.command()
@click.option("--source", required=True, help="A local-python source to add the files to.")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def add(ctx: Context, source: str, no_generate: bool, files: Sequence[Path]) -> None:
    """Add wheels and sdists (a FILE.asc beside a FILE is stored as its signature).

    Every bad file is reported, one line each; the good ones are stored. Exits 1 if any
    file was refused.
    """
    inst = ctx.inst
    src = inst.catalog.get_source(source)
    accepted, refused = ingest_paths(inst.catalog, inst.store, src, list(files), inst.now())
    for a in accepted:
        info(f"{'added' if a.new else 'already present'}: {a.filename}")
    for r in refused:
        click.echo(f"refused: {r.message}", err=True)
    if accepted and not no_generate:
        report_generation(inst.generate(inst.repos_using([src.name])))
    if refused:
        raise click.exceptions.Exit(1)


def _token_state(token: TokenRecord, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and parse_timestamp(token.expires_at) <= now:
        return "expired"
    return "active"


def _pick_source(inst: Installation, project: str, source: str | None) -> Source:
    if source is not None:
        return inst.catalog.get_source(source)
    holders = inst.catalog.sources_with_project(project)
    if not holders:
        raise NotFound(f"no source holds project {project!r}")
    if len(holders) > 1:
        names = ", ".join(s.name for s in holders)
        raise NotFound(f"project {project!r} is in several sources ({names}): pass --source")
    return holders[0]


def _source_option(function: F) -> F:
    return click.option(
        "--source", default=None,
        help="Source holding the project (needed only when several do).",
    )(function)


@click.command()
@click.argument("project")
@click.argument("version")
@click.option("--reason", default="", help="Why it is yanked (shown to installers).")
@_source_option
@pass_ctx
def yank(ctx: Context, project: str, version: str, reason: str, source: str | None) -> None:
    """Yank a version (PEP 592): installers skip it unless pinned with ==."""
    inst = ctx.inst
    src = _pick_source(inst, project, source)
    changed = inst.catalog.set_yanked(src, project, version, True, reason, inst.now())
    info(f"yanked {changed} file(s) of {project} {version}" if changed else f"{project} {version} was already yanked")
    report_generation(inst.generate(inst.repos_using([src.name])))


@click.command()
@click.argument("project")
@click.argument("version")
@_source_option
@pass_ctx
def unyank(ctx: Context, project: str, version: str, source: str | None) -> None:
    """Undo a yank."""
    inst = ctx.inst
    src = _pick_source(inst, project, source)
    changed = inst.catalog.set_yanked(src, project, version, False, "", inst.now())
    info(f"un-yanked {changed} file(s) of {project} {version}" if changed else f"{project} {version} was not yanked")
    report_generation(inst.generate(inst.repos_using([src.name])))


@click.command()
@click.argument("project")
@click.argument("version", required=False)
@click.option("--file", "filename", default=None, help="Remove only this file.")
@_source_option
@pass_ctx
def remove(
    ctx: Context, project: str, version: str | None, filename: str | None, source: str | None
) -> None:
    """Remove a project, a version or one file from the live index.

    Dated snapshots that listed the files keep them; file names are never reused.
    """
    inst = ctx.inst
    src = _pick_source(inst, project, source)
    removed = inst.catalog.remove(src, project, inst.now(), version=version, filename=filename)
    for name in removed:
        info(f"removed: {name}")
    report_generation(inst.generate(inst.repos_using([src.name])))

