"""The mirror's commands: ``sync``, ``update`` (a curated list) and ``check confusion``.

Added to the ``timeshelf`` group by ``generator.cli.main``; like the rest of the CLI a
thin shell: options in, a library call, a summary out (stderr), data out (stdout).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from generator.cli.context import Context, info, pass_ctx
from generator.cli.progress import ProgressReporter
from generator.cli.reporting import report_generation
from generator.clock import format_timestamp
from generator.errors import Conflict, TimeshelfError
from generator.installation import Installation
from generator.mirror.curated import compile_closure, read_requirements
from generator.mirror.report import SyncReport
from generator.mirror.sources import mirror_sources
from generator.records import CuratedList, Source

# Interrupted by Ctrl-C: the shells' 128 + SIGINT.
INTERRUPTED = 130

def _reasons(skips: tuple[tuple[str, int], ...]) -> str:
    """`` (2 no sha256, 1 a file name no store may hold)``: the skips by reason."""
    if not skips:
        return ""
    return " (" + ", ".join(f"{n} {reason}" for reason, n in skips) + ")"


def summary(report: SyncReport) -> str:
    """The closing line of a sync (one per source)."""
    if report.root_unchanged:
        return (f"{report.source}: upstream unchanged ({report.requests} request, "
                f"{report.seconds:.1f}s)")
    size = report.downloaded
    return (
        f"{report.source}: {report.listed} listed, {report.checked} checked, "
        f"{report.changed} changed, {report.added} files added, {report.yanked} yanked, "
        f"{report.unyanked} un-yanked, {report.removed} removed, {size} bytes downloaded, "
        f"{report.skipped} skipped{_reasons(report.skips)}, "
        f"{len(report.errors)} errors, {report.requests} requests, {report.seconds:.1f}s"
    )


def resume_command(inst: Installation, args: Sequence[str]) -> str:
    """The command line that resumes an interrupted ``sync`` (``args`` after ``sync``),
    with the configuration named so it works from any directory."""
    return shlex.join(["timeshelf", "--config", str(inst.config.file.resolve()), "sync", *args])


def interruption(report: SyncReport, rest: Sequence[Source], resume: str) -> list[str]:
    """What an interrupted sync tells: what was committed, what remains, how to resume."""
    lines = [
        f"{report.source}: interrupted after {report.seconds:.1f}s; committed: "
        f"{report.to_do - report.remaining} of {report.to_do} project(s) to check, "
        f"{report.added} file(s) added, {report.yanked} yanked, {report.removed} removed; "
        f"{report.remaining} project(s) remain"
        + ("" if report.listed else " (the upstream listing was not read yet)"),
    ]
    if rest:
        lines.append(f"  not synced yet: {', '.join(s.name for s in rest)}")
    lines.append("  the index was not regenerated with these changes")
    lines.append(f"  resume with: {resume}")
    lines.append("  (it skips the projects already committed, then regenerates)")
    return lines


def tell(report: SyncReport) -> None:
    """The summary of one pass, its errors and the curated names the upstream lacks."""
    info(summary(report))
    for line in report.errors[:20]:
        info(f"  error: {line}")
    if len(report.errors) > 20:
        info(f"  ... and {len(report.errors) - 20} more errors")
    if report.not_found:
        info(f"  error: not found at {report.upstream}: {', '.join(report.not_found)} (named "
             f"by the curated list of {report.source}; correct the names with `timeshelf "
             f"update --source {report.source} --file FILE`)")


def run_pass(inst: Installation, source: Source) -> SyncReport:
    """One sync pass of ``source``, its progress drawn on stderr."""
    with ProgressReporter(f"syncing {source.name}", "projects",
                          waiting="reading the upstream's listing...") as progress:
        return inst.mirror(source, on_total=progress.start, on_progress=progress.advance).sync()


@click.command()
@click.option("--source", default=None, help="Sync only this source (subscribed to or not).")
@click.option("--type", "type_", default=None, type=click.Choice(["pypi", "curated-pypi"]),
              help="Sync only the subscribed sources of this type.")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index afterwards.")
@pass_ctx
def sync(ctx: Context, source: str | None, type_: str | None, no_generate: bool) -> None:
    """Mirror the upstream of pypi and curated-pypi sources (resumable; safe from cron).

    Without --source, syncs the mirror sources some repository subscribes to (and says
    which it skips). Shows progress on stderr; prints a summary per source; exits 1 when
    a project failed (the next run retries it: the watermark advances only after an
    error-free pass). Ctrl-C commits what was finished, says how to resume, exits 130.
    """
    inst = ctx.inst
    chosen = mirror_sources(inst.catalog, source, type_)
    for skipped in chosen.unsubscribed:
        info(f"skipping source {skipped.name!r} ({skipped.type}): no repository subscribes "
             f"to it (`timeshelf subscribe --repo R --source {skipped.name}`, or sync it "
             f"with --source {skipped.name})")
    if not chosen.sources:
        if chosen.unsubscribed:
            raise Conflict("no source to sync: no repository subscribes to a pypi or "
                           "curated-pypi source")
        raise Conflict("no pypi or curated-pypi source to sync: create one with "
                       "`timeshelf create source --name pypi --type pypi`")
    args = [*(("--source", source) if source else ()), *(("--type", type_) if type_ else ()),
            *(("--no-generate",) if no_generate else ())]
    failed = False
    for index, src in enumerate(chosen.sources):
        try:
            report = run_pass(inst, src)
        except KeyboardInterrupt:
            # A second Ctrl-C, while the first one's work was being committed.
            info(f"{src.name}: interrupted while committing; resume with: "
                 f"{resume_command(inst, args)}")
            raise click.exceptions.Exit(INTERRUPTED) from None
        except TimeshelfError as e:
            # One unreachable upstream (or a run already going) must not stop the others.
            if len(chosen.sources) == 1:
                raise
            info(f"{src.name}: error: {e}")
            failed = True
            continue
        if report.interrupted:
            for line in interruption(report, chosen.sources[index + 1:], resume_command(inst, args)):
                info(line)
            raise click.exceptions.Exit(INTERRUPTED)
        tell(report)
        failed = failed or not report.ok
    if not no_generate:
        # Every run, not only one that changed something: a sync killed after its catalog
        # writes and before its generation left those changes unpublished, and this run
        # finds nothing new upstream. Generation is incremental, so a repository already
        # up to date costs a look at its watermark.
        report_generation(inst.generate(inst.repos_using([src.name for src in chosen.sources])))
    if failed:
        raise click.exceptions.Exit(1)


@click.command()
@click.option("--source", required=True, help="A curated-pypi source.")
@click.option("--file", "file_", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Requirements: one name per line, with optional specifiers.")
@click.option("--closure/--no-closure", default=False, show_default=True,
              help="Also mirror the dependencies, resolved by pip-compile against the upstream.")
@click.option("--python", "pythons", multiple=True,
              help="Python version to resolve the closure for (repeatable; default: "
                   "[sources.NAME] python_versions, else this interpreter's).")
@click.option("--sync/--no-sync", "then_sync", default=True, show_default=True,
              help="Sync the source right after.")
@pass_ctx
def update(ctx: Context, source: str, file_: Path, closure: bool, pythons: tuple[str, ...],
           then_sync: bool) -> None:
    """Set the list of a curated-pypi source (recorded, with its resolved closure)."""
    inst = ctx.inst
    src = inst.catalog.get_source(source)
    if src.type != "curated-pypi":
        raise Conflict(f"source {src.name!r} is of type {src.type}: update sets the list of a "
                       "curated-pypi source")
    requirements = read_requirements(file_)
    versions = pythons or inst.config.mirror.for_source(src.name).python_versions \
        or (f"{sys.version_info[0]}.{sys.version_info[1]}",)
    compiled: tuple[str, ...] = ()
    tool = ""
    if closure:
        from generator.mirror.sync import upstream_of

        compiled, tool = compile_closure(requirements, upstream_of(src), tuple(versions))
    inst.catalog.set_curated_list(src, CuratedList(
        requirements=requirements, closure=closure, python_versions=tuple(versions),
        compiled=compiled, tool=tool, updated_at=format_timestamp(inst.now()),
    ))
    info(f"{src.name}: {len(requirements)} requirement(s)"
         + (f", closure of {len(compiled)} pin(s) for Python {', '.join(versions)} ({tool})"
            if closure else ""))
    for pin in compiled:
        click.echo(pin)
    if then_sync:
        report = run_pass(inst, src)
        if report.interrupted:
            for line in interruption(report, (), resume_command(inst, ["--source", src.name])):
                info(line)
            raise click.exceptions.Exit(INTERRUPTED)
        tell(report)
        report_generation(inst.generate(inst.repos_using([src.name])))  # every run: see ``sync``
        if not report.ok:
            raise click.exceptions.Exit(1)


@click.group()
def check() -> None:
    """Checks of a repository."""


@check.command("confusion")
@click.option("--repo", required=True, help="Repository to check.")
@pass_ctx
def check_confusion(ctx: Context, repo: str) -> None:
    """List local projects whose names also exist upstream, and who wins.

    One line per such project: name, local source, upstream source, and "local wins" or
    "UPSTREAM WINS" (the mirror has priority: installers would get the public project).
    Exits 1 when the upstream wins for any of them.
    """
    from generator.mirror.confusion import confusable_projects

    inst = ctx.inst
    findings = confusable_projects(inst.catalog, inst.config.mirror, inst.catalog.get_repo(repo))
    for f in findings:
        verdict = "local wins" if f.local_wins else "UPSTREAM WINS"
        click.echo(f"{f.project}\t{f.local_source}\t{f.upstream_source}\t{verdict}")
    info(f"{repo}: {len(findings)} local project(s) also exist upstream"
         + ("" if all(f.local_wins for f in findings) else
            "; reorder the sources so local ones come first"))
    if any(not f.local_wins for f in findings):
        raise click.exceptions.Exit(1)
