"""The catalog's commands: ``add``, ``yank``, ``unyank``, ``remove``, ``subscribe``,
``reorder`` and ``list``; each edit regenerates the repositories it changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from generator.cli.context import Context, info, pass_ctx
from generator.cli.reporting import report_generation
from generator.clock import parse_timestamp
from generator.errors import NotFound
from generator.installation import Installation
from generator.intake.ingest import ingest_paths
from generator.records import Repo, Source, TokenRecord

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


LISTINGS = ("repos", "sources", "packages", "tokens", "snapshots", "vulns", "blocklist-rules")


@click.command("list", short_help="List repositories, sources, packages, tokens or snapshots.")
@click.argument("what", type=click.Choice(LISTINGS))
@click.option("--source", default=None, help="Only packages of this source.")
@click.option("--repo", default=None,
              help="Only packages this repository shows; the repository of `list snapshots`.")
@click.option("--no-header", is_flag=True, help="Omit the header row (for scripts).")
@click.option("--project", default=None, help="`list vulns`: only this project.")
@pass_ctx
def list_(ctx: Context, what: str, source: str | None, repo: str | None, no_header: bool,
          project: str | None) -> None:
    """List what the installation holds, one tab-separated row each, under a header row:

    \b
    repos      name, sources (highest priority first), description
    sources    name, type, upstream
    packages   project, source, latest version, versions, files; with --source S
               those of S, with --repo R those R shows (and from which source)
    tokens     id, state, sources, scope, expiry, last use, description (never the token)
    snapshots  day, how it is served, index URL (needs --repo R)
    vulns      project, version, latest or -, advisory, aliases, severity, fixed in,
               summary: each affected version of R's projects (needs --repo R; exits 1
               when a latest version is affected)
    blocklist-rules  id, allow/block, conditions, description, since: the rules in
               force, in their order of execution (exceptions first)

    An empty listing prints no rows, and a line on stderr saying so.
    """
    if what == "vulns":
        from generator.cli.vulns import list_vulns

        list_vulns(ctx, repo, project, not no_header)
        return
    if what == "blocklist-rules":
        from generator.cli.rules import list_rules

        list_rules(ctx, not no_header)
        return
    catalog = ctx.inst.catalog
    header: tuple[str, ...]
    rows: Iterable[tuple[str, ...]]
    if what == "snapshots":
        if repo is None:
            raise click.UsageError("list snapshots needs --repo R")
        chosen_repo = catalog.get_repo(repo)
        header, rows = ("DAY", "STATE", "URL"), _snapshot_rows(ctx.inst, chosen_repo)
        empty = _no_snapshots(ctx.inst, chosen_repo)
    elif what == "tokens":
        now = ctx.inst.now()
        header = ("ID", "STATE", "SOURCES", "SCOPE", "EXPIRES", "LAST USED", "DESCRIPTION")
        rows = (
            (t.id, _token_state(t, now), ",".join(t.sources), ",".join(t.scopes),
             t.expires_at or "never", t.last_used_at or "never",
             t.description)
            for t in catalog.list_tokens()
        )
        empty = "no tokens yet: `timeshelf create token --description D --sources S` makes one"
    elif what == "repos":
        header = ("NAME", "SOURCES", "DESCRIPTION")
        rows = ((r.name, ",".join(r.sources) or "-", r.description) for r in catalog.list_repos())
        empty = "no repositories: `timeshelf create repo --name R` makes one"
    elif what == "sources":
        header = ("NAME", "TYPE", "UPSTREAM")
        rows = ((s.name, s.type, s.upstream or "-") for s in catalog.list_sources())
        empty = "no sources: `timeshelf create source --name S --type T` makes one"
    elif repo is not None:
        header = ("PROJECT", "SOURCE", "VERSIONS", "FILES")
        chosen = catalog.get_repo(repo)
        rows = (
            (p.display_name, p.source, counted(len({f.version for f in p.files}), "version"),
             counted(len(p.files), "file"))
            for p in catalog.iter_projects(chosen)
        )
        empty = f"repository {chosen.name!r} shows no packages yet"
    else:
        header = ("PROJECT", "SOURCE", "LATEST", "VERSIONS", "FILES")
        picked = catalog.get_source(source) if source else None
        rows = (
            (p.display_name, p.source, p.latest, counted(p.versions, "version"),
             counted(p.files, "file"))
            for p in catalog.list_packages(picked)
        )
        empty = f"source {picked.name!r} holds no packages yet" if picked else "no packages yet"
    _echo_table(header, rows, header_shown=not no_header, empty=empty)


def counted(number: int, noun: str) -> str:
    """``1 version``, ``2 versions``: a count and its noun, singular for one."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _echo_table(
    header: tuple[str, ...], rows: Iterable[tuple[str, ...]], *, header_shown: bool, empty: str
) -> None:
    """Print ``rows`` tab-separated on stdout after ``header`` (unless not ``header_shown``);
    without rows, only ``empty`` on stderr. Rows are streamed, never held whole."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        info(empty)
        return
    if header_shown:
        click.echo("\t".join(header))
    click.echo("\t".join(first))
    for row in rows:
        click.echo("\t".join(row))


def _snapshot_rows(inst: Installation, repo: Repo) -> Iterator[tuple[str, str, str]]:
    from generator.snapshots.calendar import history_days, snapshot_days

    written = inst.catalog.snapshot_days(repo)
    history = history_days(inst.catalog, repo)
    for day in snapshot_days(inst.catalog, repo, inst.now()):
        state = "materialized" if day.isoformat() in written else "on demand"
        if history is not None and day < history[1]:
            state = "reconstructed (on demand)"
        yield str(day), state, f"{inst.config.base_url}{repo.name}/{day}/simple/"


def _no_snapshots(inst: Installation, repo: Repo) -> str:
    """Why ``repo`` has no snapshot yet, and when its first one comes."""
    from generator.snapshots.calendar import history_days

    history = history_days(inst.catalog, repo)
    if history is None:
        return (
            f"no snapshots yet: repository {repo.name!r} has no history before it subscribes "
            f"to a source (`timeshelf subscribe --repo {repo.name} --source S`); the day it "
            "does is its first snapshot once that day is over (UTC)"
        )
    first = history[0]
    return (
        f"no snapshots yet: repository {repo.name!r} began on {first}; its first snapshot, "
        f"of {first}, comes when that day ends ({first + timedelta(days=1)}T00:00:00Z) and "
        "is written by the next `timeshelf generate` or upload; until then use "
        f"{inst.config.base_url}{repo.name}/latest/simple/"
    )


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

