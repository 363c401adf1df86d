"""Making and shipping the site: ``generate``, ``publish``, ``watch`` and ``snapshot``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from generator.cli.context import Context, info, pass_ctx
from generator.cli.reporting import report_generation


@click.command()
@click.option("--repo", "repos", multiple=True, help="Only this repository (repeatable).")
@click.option("--full", is_flag=True, help="Render every page (the bytes are the same as incremental).")
@pass_ctx
def generate(ctx: Context, repos: Sequence[str], full: bool) -> None:
    """Render what changed since the last run into the output directory.

    A full generation shows its progress on stderr (a bar on a terminal, else a line
    every few seconds).
    """
    from generator.cli.progress import ProgressReporter

    inst = ctx.inst
    chosen = [inst.catalog.get_repo(r) for r in repos] if repos else list(inst.catalog.list_repos())
    if not full:
        report_generation(inst.generate(chosen))
        return
    with ProgressReporter("rendering", "projects") as progress:
        progress.start(sum(len(inst.catalog.site_projects(r)) for r in chosen))
        generation = inst.generate(chosen, full=True, progress=progress.advance)
    report_generation(generation)


@click.command()
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


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--source", required=True, help="A local-python source to add the files to.")
@click.option("--settle", default=1.0, show_default=True, type=float,
              help="Seconds a file must stay unchanged before it is taken (when no close event).")
@click.option("--create", is_flag=True, help="Create DIRECTORY if missing (else it is refused).")
@pass_ctx
def watch(ctx: Context, directory: Path, source: str, settle: float, create: bool) -> None:
    """Ingest files dropped into DIRECTORY and regenerate (refused ones go to rejected/)."""
    from generator.intake.watch import Watcher, check_inbox

    inst = ctx.inst
    src = inst.catalog.get_source(source)
    if src.type != "local-python":
        raise click.BadParameter(f"source {source!r} is {src.type}: use a local-python source",
                                 param_hint="--source")
    if check_inbox(directory, create=create):
        info(f"created {directory.resolve()}")
    info(f"watching {directory.resolve()} for source {src.name!r} (Ctrl-C to stop)")
    watcher = Watcher(
        inst.catalog, inst.store, directory, src, clock=inst.clock,
        regenerate=lambda: report_generation(inst.generate(inst.repos_using([src.name]))),
        settle=settle, report=lambda o: info(o.message if o.accepted else f"refused: {o.message}"),
        on_error=lambda message: info(f"error: {message}"),
    )
    try:
        watcher.run()
    except KeyboardInterrupt:
        watcher.stop()



@click.group()
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

