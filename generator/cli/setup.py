"""Setting an installation up: ``init``, ``create``, ``revoke`` and ``nginx-conf``."""

from __future__ import annotations

from pathlib import Path

import click

from generator.catalog.cooldown import describe_cooldown, parse_cooldown
from generator.catalog.tokens import DEFAULT_EXPIRY
from generator.cli.context import Context, info, pass_ctx
from generator.cli.cooldown import COOLDOWN_HELP, EXEMPT_HELP, apply_cooldown
from generator.clock import system_clock
from generator.config.settings import write_initial_files
from generator.installation import Installation
from generator.records import SOURCE_TYPES


@click.command(short_help="Create an installation in DIRECTORY (default: here).")
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


@click.group()
def create() -> None:
    """Create a source, a repository or an API token."""


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
    """Create a source of packages (a mirror's upstream defaults to the index pip uses).

    Creating a pypi source without an allow list says how many projects its upstream
    holds (all of them would be mirrored) and how to limit it.
    """
    origin = ""
    if type_ == "local-python" and upstream:
        raise click.BadParameter("a local-python source has no upstream", param_hint="--upstream")
    if type_ != "local-python":
        from generator.config.pip import configured_index_url
        from generator.mirror.sources import check_not_self

        given = upstream is not None
        if upstream is None:
            upstream, origin = configured_index_url(), " (pip's configured index)"
        check_not_self(ctx.inst.config.base_url, upstream, given=given)
    source = ctx.inst.catalog.create_source(name, type_, ctx.inst.now(), upstream)
    info(f"created source {source.name!r} ({source.type})"
         + (f", upstream {source.upstream}{origin}" if source.upstream else ""))
    if source.type == "pypi" and source.upstream \
            and not ctx.inst.config.mirror.for_source(source.name).allow:
        _tell_unfiltered(ctx, source.name, source.upstream)


def _tell_unfiltered(ctx: Context, name: str, upstream: str) -> None:
    """Say what an unfiltered pypi source mirrors (the size of its upstream), and how to
    narrow it, before a first sync copies all of it."""
    from generator.errors import TimeshelfError
    from generator.mirror.sources import count_projects

    try:
        size = f"about {count_projects(ctx.inst.config.mirror, upstream):,} projects"
    except TimeshelfError as e:
        size = f"its size unknown ({e})"
    config = ctx.inst.config.file
    info(f"  {name!r} has no allow list: `timeshelf sync` will mirror all of {upstream}: "
         f"{size}")
    info(f"  to limit it: add `allow = [\"django\", \"numpy>=1.26\"]` under [sources.{name}] "
         f"in {config}, or mirror a curated list instead (`timeshelf create source --name "
         f"NAME --type curated-pypi`, then `timeshelf update --source NAME --file "
         "requirements.txt`)")


@create.command("repo")
@click.option("--name", required=True, help="Repository name; it becomes the URL prefix /<name>/.")
@click.option("--type", "type_", default="python", show_default=True,
              type=click.Choice(["python"]), help="Repository type.")
@click.option("--description", default="", help="One line shown in listings and the web UI.")
@click.option("--cooldown", default=None, help=COOLDOWN_HELP)
@click.option("--cooldown-exempt-source", "exempt", multiple=True, help=EXEMPT_HELP)
@pass_ctx
def create_repo(
    ctx: Context, name: str, type_: str, description: str, cooldown: str | None,
    exempt: tuple[str, ...],
) -> None:
    """Create a repository (then subscribe it to sources)."""
    if cooldown is not None:
        parse_cooldown(cooldown)  # a bad duration creates nothing
    if exempt and cooldown is None:
        raise click.UsageError("--cooldown-exempt-source needs a cooldown: add --cooldown 7d")
    for source in exempt:
        ctx.inst.catalog.get_source(source)
    repo = ctx.inst.catalog.create_repo(name, ctx.inst.now(), type_, description)
    if cooldown is not None:
        settings = apply_cooldown(ctx, repo, cooldown, exempt)
        info(f"repository {repo.name!r} cooldown: {describe_cooldown(settings)}")
    info(f"created repository {repo.name!r}; next: timeshelf subscribe --repo {repo.name} --source S")


@create.command("token", short_help="Create an API token (printed once; expires in 30 days).")
@click.option("--description", required=True, help="Who or what uses the token (shown in listings).")
@click.option("--sources", required=True,
              help="Sources the token may upload to, comma-separated, or '*' for all.")
@click.option("--expires", default=DEFAULT_EXPIRY, show_default=True,
              help="Lifetime: a number and a unit (s, m, h, d, w), e.g. 12h or 90d, or 'never'.")
@click.option("--scope", "scopes", default="upload", show_default=True,
              help="Permissions, comma-separated: upload, deploy.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the token.")
@pass_ctx
def create_token_command(
    ctx: Context, description: str, sources: str, expires: str, scopes: str, quiet: bool
) -> None:
    """Create an API token; it is printed once, on stdout (keep it secret).

    A token expires 30 days after it is created unless --expires gives another lifetime
    (or 'never'); `timeshelf list tokens` shows each token's expiry, `timeshelf revoke
    token ID` ends one at once.
    """
    from generator.catalog.tokens import create_token, parse_duration
    from generator.config.settings import read_secret

    try:
        lifetime = parse_duration(expires)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--expires") from e
    inst = ctx.inst
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


@click.group()
def revoke() -> None:
    """Revoke an API token."""


@revoke.command("token", short_help="Revoke an API token; it stops working at once.")
@click.argument("token_id")
@pass_ctx
def revoke_token_command(ctx: Context, token_id: str) -> None:
    """Revoke the token TOKEN_ID; it stops working at once.

    TOKEN_ID is an id `timeshelf list tokens` shows, or its first characters (at least 4)
    when no other token's id starts with them.
    """
    record = ctx.inst.catalog.revoke_token(token_id, ctx.inst.now())
    info(f"revoked token {record.id} ({record.description}) at {record.revoked_at}")



@click.command("nginx-conf", short_help="Print an nginx configuration serving the site.")
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

