"""The deployment commands of ``timeshelf``: bundle, deploy, env, python check.

A thin click shell over ``uploader.deploy.client`` (``bundle`` and ``deploy``: the client
side) and ``uploader.deploy.builder`` (``env`` and ``python check``: the server side, run
locally on the server). The commands are defined here and added to the ``timeshelf``
group by ``uploader.cli``; importing this module registers nothing. Expected failures are
``TimeshelfError``s (the CLI's one handler prints them: ``error: …``, exit code 1) or
``click.ClickException``s.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from generator.cli.context import Context, info, pass_ctx
from generator.errors import ConfigError, NotFound
from uploader.deploy.builder import Builder, unpacked
from uploader.deploy.client import make_bundle, publish_bundle
from uploader.deploy.environments import is_environment_key

__all__ = ["bundle", "deploy", "env", "python_group"]

TOKEN_ENV = "TIMESHELF_TOKEN"  # noqa: S105 - the variable's name, not a token
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)i?B?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``10G``, ``500M``, ``1.5GiB``, ``123`` → bytes; ``click.BadParameter`` otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a size: use e.g. 500M, 10G or a byte count")
    return int(float(match[1]) * _UNITS[match[2].upper()])


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--python", "python", default=None,
              help="Interpreter whose version (and pip freeze, without a requirements.txt) "
                   "the bundle records (default: the active one).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Bundle file to write (default: ./<DIRECTORY name>.tar.gz).")
@click.option("--entrypoint", default="app", show_default=True,
              help="The app's module[:object], recorded in the manifest.")
def bundle(directory: Path, python: str | None, output: Path | None, entrypoint: str) -> None:
    """Write a deployment bundle of DIRECTORY (requirements.txt or pip freeze, manifest.json)."""
    directory = directory.resolve()
    target = output or Path.cwd() / f"{directory.name}.tar.gz"
    make_bundle(directory, target, python=python or _active_python(), entrypoint=entrypoint,
                echo=info)
    click.echo(str(target))


def _active_python() -> str:
    """The interpreter of the active virtualenv, else the first python3 on PATH, else ours."""
    if os.environ.get("VIRTUAL_ENV"):
        candidate = Path(os.environ["VIRTUAL_ENV"]) / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return shutil.which("python3") or shutil.which("python") or sys.executable


@click.command()
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--server", required=True, help="Base URL of the timeshelf sidecar, e.g. http://127.0.0.1:8000.")
@click.option("--token", default=None, help=f"A token with the deploy scope (default: ${TOKEN_ENV}).")
@click.option("--python", "python", default=None,
              help="For a DIRECTORY: the interpreter the bundle records (default: the active one).")
@click.option("--snapshot", default=None, help="Build from the index as of this day, YYYY-MM-DD.")
def deploy(target: Path, server: str, token: str | None, python: str | None,
           snapshot: str | None) -> None:
    """Upload a bundle (or bundle DIRECTORY first) and follow its build log to the end."""
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise click.UsageError(f"deploy needs a token: pass --token or set {TOKEN_ENV}")
    with tempfile.TemporaryDirectory(prefix="timeshelf-deploy-") as tmp:
        if target.is_dir():
            archive = make_bundle(target.resolve(), Path(tmp) / "bundle.tar.gz",
                                  python=python or _active_python(), echo=info)
        else:
            archive = target
        code = publish_bundle(archive, server, token, echo=click.echo, snapshot=snapshot)
    if code != 0:
        raise click.exceptions.Exit(1)


@click.group()
def env() -> None:
    """Environments of deployed bundles, on this server."""


@env.command("build")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--snapshot", default=None, help="Build from the index as of this day, YYYY-MM-DD.")
@pass_ctx
def env_build(ctx: Context, path: Path, snapshot: str | None) -> None:
    """Build (or reuse) the environment of a bundle: a gzip tar or a directory.

    The installers read this server's index ([server] public_url or listen), so the
    site must be served while this runs.
    """
    builder = _builder(ctx)
    with unpacked(path, builder.settings.environments_dir / ".incoming", builder.limits) as root:
        plan = builder.prepare(root, log=info, snapshot=snapshot)
        environment = builder.complete(plan, info)
    click.echo(f"{environment.key}\t{environment.python_executable}")


def _builder(ctx: Context) -> Builder:
    builder = Builder.for_config(ctx.inst.config)
    result = builder.check()
    for warning in result.warnings:
        info(f"warning: {warning}")
    if result.errors:
        raise ConfigError(f"[python] check failed: {result.errors[0]}")
    return builder


def format_size(size: int) -> str:
    """Bytes in the binary units ``--max-size`` reads back: ``512 B``, ``48.2 MiB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TiB"


ENV_COLUMNS = ("ID", "PYTHON", "INSTALLER", "SIZE", "LAST USED", "PATH")


@env.command("list")
@click.option("--no-header", is_flag=True, help="Omit the header row (for scripts).")
@pass_ctx
def env_list(ctx: Context, no_header: bool) -> None:
    """List environments, one tab-separated row each under a header row: id, Python,
    installer, size, last use, path (most recently used last). Without any, a line on
    stderr says so."""
    builder = Builder.for_config(ctx.inst.config)
    environments = sorted(builder.cache.environments(), key=lambda e: e.last_used)
    if not environments:
        info("no environments yet: `timeshelf deploy` a bundle, or `timeshelf env build` one")
        return
    if not no_header:
        click.echo("\t".join(ENV_COLUMNS))
    for e in environments:
        used = datetime.fromtimestamp(e.last_used, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{e.key}\t{e.python}\t{e.installer}\t{format_size(e.size)}\t{used}\t{e.path}")


@env.command("delete")
@click.argument("environment_id")
@pass_ctx
def env_delete(ctx: Context, environment_id: str) -> None:
    """Delete the environment ENVIRONMENT_ID (see `timeshelf env list`)."""
    builder = Builder.for_config(ctx.inst.config)
    if not is_environment_key(environment_id):
        raise NotFound(
            f"{environment_id!r} is not an environment id (32 hex digits): see "
            "`timeshelf env list`"
        )
    if not builder.cache.delete(environment_id):
        raise NotFound(f"no environment {environment_id!r}: see `timeshelf env list`")
    info(f"deleted environment {environment_id}")


@env.command("prune")
@click.option("--keep", type=click.IntRange(min=0), default=None,
              help="Keep at most this many environments (least recently used go first).")
@click.option("--max-size", default=None, help="Keep at most this much in total, e.g. 10G.")
@pass_ctx
def env_prune(ctx: Context, keep: int | None, max_size: str | None) -> None:
    """Delete least recently used environments until within --keep and --max-size."""
    if keep is None and max_size is None:
        raise click.UsageError("prune needs --keep N and/or --max-size SIZE")
    builder = Builder.for_config(ctx.inst.config)
    removed = builder.cache.prune(
        keep=keep, max_bytes=parse_size(max_size) if max_size is not None else None
    )
    for key in removed:
        click.echo(key)
    info(f"pruned {len(removed)} environment(s)")


@click.group("python")
def python_group() -> None:
    """The Python installations environments are built with."""


@python_group.command("check")
@pass_ctx
def python_check(ctx: Context) -> None:
    """Analyse [python] executables: version, pip, venv and the external packages."""
    builder = Builder.for_config(ctx.inst.config)
    result = builder.check()
    for install in result.installs:
        externals = ", ".join(f"{n} {v}" for n, v in install.externals) or "none"
        click.echo(
            f"{install.executable}\tPython {install.version}\tpip {install.pip or 'missing'}\t"
            f"venv {'ok' if install.venv else 'missing'}\texternals: {externals}"
        )
    for warning in result.warnings:
        info(f"warning: {warning}")
    for error in result.errors:
        info(f"error: {error}")
    if result.errors:
        raise click.exceptions.Exit(1)

