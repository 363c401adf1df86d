"""The ``timeshelf`` command: a thin click shell over the library.

Expected failures (every ``TimeshelfError``) become one line on stderr and exit code 1
here, in ``main``; data goes to stdout, information to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from generator import __version__
from generator.cli.context import Context, info, pass_ctx
from generator.clock import parse_timestamp, system_clock
from generator.config.settings import CONFIG_NAME, write_initial_files
from generator.errors import NotFound, TimeshelfError
from generator.installation import Installation
from generator.intake.ingest import ingest_paths
from generator.output.index import Report
from generator.records import SOURCE_TYPES, Source, TokenRecord

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Configuration file (default: $TIMESHELF_CONFIG, else ./{CONFIG_NAME}).",
)
@click.version_option(__version__, prog_name="timeshelf")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """timeshelf: a self-hosted Python package repository rendered as static files."""
    ctx.obj = Context(config)
    ctx.call_on_close(ctx.obj.close)


# -- setup ------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@pass_ctx
def init(ctx: Context, directory: Path) -> None:
    """Create an installation in DIRECTORY: configuration, secret key, catalog,
    source "local" (local-python) and repository "python" subscribed to it."""
    # Read the clock first: an invalid TIMESHELF_NOW must fail before anything is written,
    # or the directory would be left half-initialized and `init` would refuse to run again.
    now = system_clock()
    config = write_initial_files(directory)
    inst = Installation.from_config_file(config)
    try:
        inst.catalog.create_source("local", "local-python", now)
        inst.catalog.create_repo("python", now, description="Packages uploaded here")
        inst.catalog.subscribe("python", "local", now)
        inst.generate()
    finally:
        inst.close()
    info(f"initialized {directory.resolve()}")
    info(f"  configuration: {config.resolve()}")
    info("  source 'local' (local-python) -> repository 'python'")
    info(f"next: timeshelf --config {config} add --source local DIST...")


@cli.group()
def create() -> None:
    """Create a source or a repository."""


@create.command("source")
@click.option("--name", required=True, help="Source name (lowercase letters, digits, '-').")
@click.option(
    "--type", "type_", required=True, type=click.Choice(SOURCE_TYPES),
    help="local-python for uploads; pypi or curated-pypi for a mirror.",
)
@click.option("--upstream", default=None,
              help="Simple API base URL of the upstream (mirrors; default: pip's index-url).")
@pass_ctx
def create_source(ctx: Context, name: str, type_: str, upstream: str | None) -> None:
    """Create a source of packages (a mirror's upstream defaults to the index pip uses)."""
    origin = ""
    if type_ == "local-python" and upstream:
        raise click.BadParameter("a local-python source has no upstream", param_hint="--upstream")
    if type_ != "local-python":
        from generator.config.pip import configured_index_url
        from generator.mirror.sync import check_not_self

        if upstream is None:
            upstream, origin = configured_index_url(), " (pip's configured index)"
        check_not_self(ctx.inst, upstream)
    source = ctx.inst.catalog.create_source(name, type_, ctx.inst.now(), upstream)
    info(f"created source {source.name!r} ({source.type})"
         + (f", upstream {source.upstream}{origin}" if source.upstream else ""))


@create.command("repo")
@click.option("--name", required=True, help="Repository name; it becomes the URL prefix /<name>/.")
@click.option("--type", "type_", default="python", show_default=True,
              type=click.Choice(["python"]), help="Repository type.")
@click.option("--description", default="", help="One line shown in listings and the web UI.")
@pass_ctx
def create_repo(ctx: Context, name: str, type_: str, description: str) -> None:
    """Create a repository (then subscribe it to sources)."""
    repo = ctx.inst.catalog.create_repo(name, ctx.inst.now(), type_, description)
    info(f"created repository {repo.name!r}; next: timeshelf subscribe --repo {repo.name} --source S")


@create.command("token")
@click.option("--description", required=True, help="Who or what uses the token (shown in listings).")
@click.option("--sources", required=True,
              help="Sources the token may upload to, comma-separated, or '*' for all.")
@click.option("--expires", default="30d", show_default=True,
              help="Lifetime: a number and a unit (s, m, h, d, w), e.g. 12h or 90d, or 'never'.")
@click.option("--scope", "scopes", default="upload", show_default=True,
              help="Permissions, comma-separated: upload, deploy.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the token.")
@pass_ctx
def create_token_command(
    ctx: Context, description: str, sources: str, expires: str, scopes: str, quiet: bool
) -> None:
    """Create an API token; it is printed once, on stdout (keep it secret)."""
    from generator.catalog.tokens import create_token, parse_duration
    from generator.config.settings import read_secret

    inst = ctx.inst
    try:
        lifetime = parse_duration(expires)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--expires") from e
    names = tuple(s.strip() for s in sources.split(",") if s.strip())
    permissions = tuple(s.strip() for s in scopes.split(",") if s.strip())
    token, record = create_token(
        inst.catalog, read_secret(inst.config), description=description, sources=names,
        permissions=permissions, expires=lifetime, now=inst.now(),
    )
    if not quiet:
        info(f"token {record.id}: {record.description}")
        info(f"  sources: {', '.join(record.sources)}; scope: {', '.join(record.scopes)}; "
             f"expires: {record.expires_at or 'never'}")
        info("  it is shown only now; use it as the password with username __token__")
    click.echo(token)


@cli.group()
def revoke() -> None:
    """Revoke a token."""


@revoke.command("token")
@click.argument("token_id")
@pass_ctx
def revoke_token_command(ctx: Context, token_id: str) -> None:
    """Revoke the token TOKEN_ID (see `timeshelf list tokens`); it stops working at once."""
    record = ctx.inst.catalog.revoke_token(token_id, ctx.inst.now())
    info(f"revoked token {record.id} ({record.description}) at {record.revoked_at}")


@cli.group()
def snapshot() -> None:
    """Dated snapshots of a repository."""


@snapshot.command("url")
@click.option("--repo", required=True, help="Repository.")
@click.option("--date", "day", required=True, help="The day, YYYY-MM-DD (UTC); it must be over.")
@pass_ctx
def snapshot_url(ctx: Context, repo: str, day: str) -> None:
    """Print the frozen index URL of REPO as it was at the end of DATE."""
    from generator.snapshots.calendar import check_snapshot_day

    inst = ctx.inst
    chosen = inst.catalog.get_repo(repo)
    checked = check_snapshot_day(inst.catalog, chosen, day, inst.now())
    click.echo(f"{inst.config.base_url}{chosen.name}/{checked}/simple/")


@cli.command()
@click.option("--repo", required=True, help="Repository to change.")
@click.option("--source", required=True, help="Source to add, after the current ones.")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def subscribe(ctx: Context, repo: str, source: str, no_generate: bool) -> None:
    """Subscribe a repository to a source (the order of subscription is the priority)."""
    updated = ctx.inst.catalog.subscribe(repo, source, ctx.inst.now())
    info(f"repository {updated.name!r} sources, highest priority first: {', '.join(updated.sources)}")
    if not no_generate:
        _report(ctx.inst.generate([updated]))


@cli.command()
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
        _report(ctx.inst.generate([updated]))


@cli.command("list")
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


# -- content ----------------------------------------------------------------------------


@cli.command()
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
        _report(inst.generate(inst.repos_using([src.name])))
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


@cli.command()
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
    _report(inst.generate(inst.repos_using([src.name])))


@cli.command()
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
    _report(inst.generate(inst.repos_using([src.name])))


@cli.command()
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
    _report(inst.generate(inst.repos_using([src.name])))


# -- output -----------------------------------------------------------------------------


def _report(reports: Sequence[Report[object]]) -> None:
    for r in reports:
        if r.mode == "unchanged":
            info(f"{r.repo}: up to date (serial {r.serial})")
        else:
            info(
                f"{r.repo}: {r.mode} generation, {r.projects} project(s) rendered, "
                f"{r.written} page(s) written, {r.deleted} removed (serial {r.serial})"
            )
        if r.snapshots_written:
            days = r.snapshots_written
            info(f"{r.repo}: snapshot(s) written for {days[0]}" + (f" .. {days[-1]}" if len(days) > 1 else ""))
        if r.snapshots_pruned:
            info(f"{r.repo}: {len(r.snapshots_pruned)} snapshot(s) past retention removed (still served on demand)")
    # With [output] target the generation ended with a publish: say what it wrote.
    current = click.get_current_context(silent=True)
    holder = current.find_object(Context) if current is not None else None
    inst = holder._installation if holder is not None else None
    if inst is not None and inst.last_publish is not None:
        info(inst.last_publish.summary())
        inst.last_publish = None


@cli.command()
@click.option("--repo", "repos", multiple=True, help="Only this repository (repeatable).")
@click.option("--full", is_flag=True, help="Render every page (the bytes are the same as incremental).")
@pass_ctx
def generate(ctx: Context, repos: Sequence[str], full: bool) -> None:
    """Render what changed since the last run into the output directory."""
    inst = ctx.inst
    chosen = [inst.catalog.get_repo(r) for r in repos] if repos else list(inst.catalog.list_repos())
    total = sum(len(inst.catalog.site_projects(r)) for r in chosen) if full else 0
    if full and total > 1000 and sys.stderr.isatty():
        with click.progressbar(length=total, label="rendering", file=sys.stderr) as bar:
            _report(inst.generate(chosen, full=full, progress=bar.update))
    else:
        _report(inst.generate(chosen, full=full))


@cli.command()
@click.option("--to", "target", default=None, metavar="s3://BUCKET/PREFIX",
              help="Where to publish (default: [output] target).")
@click.option("--state", default=None, metavar="s3://BUCKET/KEY",
              help="The manifest's key (default: [output] state, else "
                   "s3://BUCKET/.timeshelf/PREFIX/manifest.json).")
@click.option("-v", "--verbose", is_flag=True, help="Say what each phase does.")
@pass_ctx
def publish(ctx: Context, target: str | None, state: str | None, verbose: bool) -> None:
    """Push the generated site to S3: only what changed, files before pages, the
    roots and snapshots.json last, removed objects deleted afterwards."""
    from generator.storage.s3 import S3Location

    inst = ctx.inst
    chosen = S3Location.from_url(target, "--to") if target else None
    manifest = S3Location.from_url(state, "--state") if state else None
    with inst.generation_lock():
        report = inst.publish(chosen, manifest, progress=info if verbose else None)
    info(report.summary())


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--source", required=True, help="A local-python source to add the files to.")
@click.option("--settle", default=1.0, show_default=True, type=float,
              help="Seconds a file must stay unchanged before it is taken (when no close event).")
@pass_ctx
def watch(ctx: Context, directory: Path, source: str, settle: float) -> None:
    """Ingest files dropped into DIRECTORY and regenerate (refused ones go to rejected/)."""
    from generator.intake.watch import Watcher

    inst = ctx.inst
    src = inst.catalog.get_source(source)
    if src.type != "local-python":
        raise click.BadParameter(f"source {source!r} is {src.type}: use a local-python source",
                                 param_hint="--source")
    directory.mkdir(parents=True, exist_ok=True)
    info(f"watching {directory.resolve()} for source {src.name!r} (Ctrl-C to stop)")
    watcher = Watcher(inst, directory, src, settle=settle,
                      report=lambda o: info(o.message if o.accepted else f"refused: {o.message}"))
    try:
        watcher.run()
    except KeyboardInterrupt:
        watcher.stop()


@cli.command("nginx-conf")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, help="HOST:PORT nginx listens on.")
@click.option("--standalone", is_flag=True,
              help="Print a whole nginx.conf usable as `nginx -p DIR -c FILE`, not a server block.")
@click.option("--sidecar", default=None,
              help="HOST:PORT of `timeshelf serve` for uploads and fallbacks (default: [server] listen).")
@pass_ctx
def nginx_conf(ctx: Context, listen: str, standalone: bool, sidecar: str | None) -> None:
    """Print an nginx configuration that serves this installation's site."""
    from generator.serving.nginx import render_nginx_conf

    inst = ctx.inst
    click.echo(
        render_nginx_conf(
            root=inst.config.output_path, listen=listen,
            sidecar=sidecar or inst.config.listen, standalone=standalone,
            max_body_size=inst.config.max_request_size,
            tls_certificate=inst.config.tls_certificate, tls_key=inst.config.tls_key,
        ),
        nl=False,
    )


# The mirror's commands (sync, update, check confusion) register themselves on `cli`.
from generator.cli import mirror  # noqa: E402, F401


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI, turning expected failures into one line and exit code 1."""
    try:
        # Without standalone mode click returns (not raises) the code of an ``Exit`` raised
        # by a command, e.g. ``add`` after refusing a file; commands themselves return None.
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="timeshelf",
                          standalone_mode=False)
    except TimeshelfError as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
