"""The ``timeshelf`` command: the group, assembled from the command families, and ``main``.

Each family lives in its own module (``setup``, ``catalog``, ``generation``, ``mirror``)
as standalone click commands; ``make_cli`` is the one place that adds them to a group.
Expected failures (every ``TimeshelfError``) become one line on stderr and exit code 1
here, in ``main``; data goes to stdout, information to stderr. Every error line starts
``error:``, click's own (usage errors, bad parameters) included: ``show_error`` writes
them instead of click's ``Error:``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from generator import __version__
from generator.cli import catalog, cooldown, generation, mirror, rules, setup, status, vulns
from generator.cli.context import Context
from generator.config.settings import CONFIG_NAME
from generator.errors import TimeshelfError

COMMANDS: tuple[click.Command, ...] = (
    setup.init, setup.create, setup.revoke, setup.nginx_conf,
    catalog.add, catalog.yank, catalog.unyank, catalog.remove, catalog.subscribe,
    catalog.reorder, catalog.list_,
    generation.generate, generation.publish, generation.watch, generation.snapshot,
    mirror.sync, mirror.update, mirror.check,
    status.status,
    vulns.vulns,
    cooldown.set_, cooldown.cooldown,
    rules.delete, rules.test,
)


def make_cli(extra: Sequence[click.Command] = ()) -> click.Group:
    """A ``timeshelf`` group holding every command of ``COMMANDS``, then ``extra`` (the
    sidecar's commands, which ``generator`` cannot import)."""

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

    setup.create.add_command(rules.create_blocklist_rule)
    for command in (*COMMANDS, *extra):
        cli.add_command(command)
    return cli


# The commands that need no web server (``python -m generator.cli.main``).
cli = make_cli()


def main(argv: Sequence[str] | None = None, *, command: click.Group = cli) -> int:
    """Run ``command`` (default: ``cli``) on ``argv``, turning expected failures into one
    line and exit code 1."""
    try:
        # Without standalone mode click returns (not raises) the code of an ``Exit`` raised
        # by a command, e.g. ``add`` after refusing a file; commands themselves return None.
        result = command.main(args=list(argv) if argv is not None else None,
                              prog_name="timeshelf", standalone_mode=False)
    except TimeshelfError as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        show_error(e)
        return e.exit_code
    return result if isinstance(result, int) else 0


def show_error(error: click.ClickException) -> None:
    """Write ``error`` to stderr as click does (a usage error after the usage line and
    the help hint), but with the ``error:`` that starts every other error line.

    An error with a rendering of its own (click's ``NoArgsIsHelpError`` prints the help of
    a group called without a command) keeps it.
    """
    if type(error).show not in (click.ClickException.show, click.UsageError.show):
        error.show()
        return
    ctx = error.ctx if isinstance(error, click.UsageError) else None
    if ctx is not None:
        click.echo(ctx.get_usage(), err=True, color=ctx.color)
        if ctx.command.get_help_option(ctx) is not None:
            option = max(ctx.command.get_help_option_names(ctx), key=len)
            click.echo(f"Try '{ctx.command_path} {option}' for help.\n", err=True)
    click.echo(f"error: {error.format_message()}", err=True)


if __name__ == "__main__":
    sys.exit(main())
