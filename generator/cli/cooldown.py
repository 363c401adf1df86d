"""Cooldown repositories: ``set repo`` and ``cooldown allow``/``list``/``revoke``.

A thin shell over ``Catalog.set_cooldown``, ``allow_early`` and ``revoke_allowance``:
each change is an event, and the repository is regenerated at once (``--no-generate``
leaves that to the next ``generate``), so what it lists follows the change.
"""

from __future__ import annotations

import getpass

import click

from generator.catalog.cooldown import describe_cooldown, parse_cooldown, parse_release
from generator.cli.context import Context, info, pass_ctx
from generator.cli.reporting import report_generation
from generator.errors import ConfigError
from generator.records import CooldownAllowance, CooldownSettings, Repo

COOLDOWN_HELP = (
    "List a file only once it is this old (its upload time): 7d, 36h, 2w; "
    "`none` lists files at once."
)
EXEMPT_HELP = (
    "A source whose files are listed at once (e.g. local); repeat for several. "
    "Replaces the exempt sources when given."
)


def apply_cooldown(
    ctx: Context, repo: Repo, cooldown: str | None, exempt: tuple[str, ...]
) -> CooldownSettings | None:
    """Set ``repo``'s cooldown from the command line's ``--cooldown`` and
    ``--cooldown-exempt-source`` values (``create repo``, ``set repo``)."""
    catalog = ctx.inst.catalog
    if cooldown is None:
        current = catalog.cooldown(repo)
        if current is None:
            raise click.UsageError(
                "--cooldown-exempt-source needs a cooldown: add --cooldown 7d (or another duration)"
            )
        seconds: int | None = current.seconds
    else:
        seconds = parse_cooldown(cooldown)
    if seconds is None and exempt:
        raise click.UsageError("--cooldown none lists every file at once: drop --cooldown-exempt-source")
    return catalog.set_cooldown(repo, seconds, exempt or None, ctx.inst.now())


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError) as e:
        raise ConfigError("cannot tell who you are (no OS user name): pass --by NAME") from e


@click.group("set")
def set_() -> None:
    """Change a repository's settings."""


@set_.command("repo", short_help="Change a repository's cooldown.")
@click.argument("name")
@click.option("--cooldown", default=None, help=COOLDOWN_HELP)
@click.option("--cooldown-exempt-source", "exempt", multiple=True, help=EXEMPT_HELP)
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def set_repo(
    ctx: Context, name: str, cooldown: str | None, exempt: tuple[str, ...], no_generate: bool
) -> None:
    """Change the cooldown of repository NAME: `--cooldown 7d` lists a file only once it
    is 7 days old, `--cooldown none` lists every file at once. Days that ended before
    the change keep their pages."""
    if cooldown is None and not exempt:
        raise click.UsageError("nothing to change: give --cooldown and/or --cooldown-exempt-source")
    repo = ctx.inst.catalog.get_repo(name)
    settings = apply_cooldown(ctx, repo, cooldown, exempt)
    info(f"repository {repo.name!r} cooldown: {describe_cooldown(settings)}")
    if not no_generate:
        report_generation(ctx.inst.generate([repo]))


@click.group()
def cooldown() -> None:
    """Let releases into a cooldown repository early, and see what is waiting."""


@cooldown.command("allow", short_help="Let a release into a cooldown repository now.")
@click.argument("release")
@click.option("--repo", required=True, help="The cooldown repository.")
@click.option("--reason", required=True, help="Why (shown in listings and the web UI).")
@click.option("--by", default=None, help="Who allows it (default: your OS user name).")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def allow(
    ctx: Context, release: str, repo: str, reason: str, by: str | None, no_generate: bool
) -> None:
    """Let RELEASE (PROJECT==VERSION, or PROJECT for all of its files uploaded so far)
    into the repository now, before its cooldown ends."""
    project, version = parse_release(release)
    chosen = ctx.inst.catalog.get_repo(repo)
    allowance = ctx.inst.catalog.allow_early(
        chosen, project, version, reason=reason, by=_who(by), at=ctx.inst.now()
    )
    info(f"allowance {allowance.id}: {_what(allowance)} in {chosen.name!r} now "
         f"(by {allowance.allowed_by}: {allowance.reason})")
    if not no_generate:
        report_generation(ctx.inst.generate([chosen]))


@cooldown.command("list", short_help="Allowances, and the releases still waiting.")
@click.option("--repo", required=True, help="The cooldown repository.")
@click.option("--no-header", is_flag=True, help="Omit the header rows (for scripts).")
@pass_ctx
def list_cooldown(ctx: Context, repo: str, no_header: bool) -> None:
    """Print the repository's allowances (id, release, state, who, when, why), then the
    releases still waiting (project, version, when each comes in), tab-separated."""
    catalog = ctx.inst.catalog
    chosen = catalog.get_repo(repo)
    settings = catalog.cooldown(chosen)
    info(f"repository {chosen.name!r} cooldown: {describe_cooldown(settings)}")
    allowances = catalog.cooldown_allowances(chosen)
    if allowances:
        if not no_header:
            click.echo("ID\tRELEASE\tSTATE\tBY\tAT\tREASON")
        for a in allowances:
            state = f"revoked {a.revoked_at} by {a.revoked_by}" if a.revoked_at else "active"
            click.echo(f"{a.id}\t{_what(a)}\t{state}\t{a.allowed_by}\t{a.allowed_at}\t{a.reason}")
    else:
        info("no allowances")
    waiting = catalog.cooldown_waiting(chosen, ctx.inst.now())
    if waiting:
        if not no_header:
            click.echo("PROJECT\tVERSION\tCOMES IN AT")
        for mark in waiting:
            click.echo(f"{mark.project}\t{mark.version}\t{mark.comes_of_age_at}")
    else:
        info("nothing is waiting")


@cooldown.command("revoke", short_help="End an allowance.")
@click.argument("allowance_id", type=int)
@click.option("--by", default=None, help="Who revokes it (default: your OS user name).")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def revoke(ctx: Context, allowance_id: int, by: str | None, no_generate: bool) -> None:
    """End allowance ALLOWANCE_ID (`timeshelf cooldown list` shows the ids): its files
    wait for their cooldown again."""
    allowance = ctx.inst.catalog.revoke_allowance(allowance_id, by=_who(by), at=ctx.inst.now())
    info(f"revoked allowance {allowance.id} ({_what(allowance)} in {allowance.repo!r})")
    if not no_generate:
        report_generation(ctx.inst.generate([ctx.inst.catalog.get_repo(allowance.repo)]))


def _what(allowance: CooldownAllowance) -> str:
    if allowance.version is None:
        return f"{allowance.project} (files uploaded by {allowance.allowed_at})"
    return f"{allowance.project}=={allowance.version}"
