"""The ``timeshelf`` command with the sidecar's commands added.

``generator.cli.main`` holds every command that needs no web server; the console script
points here, where ``serve`` and the deployment commands (``bundle``, ``deploy``, ``env``,
``python``) join them in one group, while ``generator`` never imports ``uploader``
(DESIGN.md: dependencies point one way).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from generator.cli.context import Context, pass_ctx
from generator.cli.main import main as run_cli
from generator.cli.main import make_cli
from uploader.deploy.commands import bundle, deploy, env, python_group


@click.command()
@click.option("--listen", default=None, help="HOST:PORT to listen on (default: [server] listen).")
@pass_ctx
def serve(ctx: Context, listen: str | None) -> None:
    """Run the sidecar; in the default setup it also serves the static site."""
    from uploader.serve import run

    run(ctx.inst, listen)


cli = make_cli([serve, bundle, deploy, env, python_group])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``timeshelf`` console script."""
    return run_cli(argv, command=cli)


if __name__ == "__main__":
    sys.exit(main())
