"""The vulnerability commands: ``vulns sync`` and the ``list vulns`` report.

Added to the ``timeshelf`` group by ``generator.cli.main`` (``list vulns`` through
``generator.cli.catalog.list_``); a thin shell over ``generator.advisories``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from packaging.utils import NormalizedName, canonicalize_name

from generator.advisories.index import AdvisoryIndex
from generator.advisories.matching import fixed_in
from generator.advisories.severity import severity_of
from generator.advisories.sync import VulnsReport
from generator.cli.context import Context, info, pass_ctx
from generator.cli.progress import ProgressReporter
from generator.cli.reporting import report_generation
from generator.errors import ConfigError, NotFound
from generator.installation import Installation
from generator.records import Repo
from generator.render.ui import latest_version, versions_of

# Interrupted by Ctrl-C: the shells' 128 + SIGINT.
INTERRUPTED = 130
REPORT_HEADER = ("PROJECT", "VERSION", "LATEST", "ADVISORY", "ALIASES", "SEVERITY",
                 "FIXED IN", "SUMMARY")


@click.group()
def vulns() -> None:
    """Vulnerability advisories (OSV) of the PyPI ecosystem."""


def summary(report: VulnsReport, affected: int) -> str:
    """The closing line of a ``vulns sync``."""
    if report.not_modified:
        return (f"vulnerabilities: the export at {report.origin} is unchanged since the last "
                f"sync (1 request, {report.seconds:.1f}s)")
    return (
        f"vulnerabilities: {report.read} advisories read, {report.added} added, "
        f"{report.changed} changed, {report.withdrawn} withdrawn, "
        f"{len(report.malformed)} malformed (skipped), {affected} affected project(s), "
        f"{report.seconds:.1f}s"
    )


def shown_projects(inst: Installation, names: frozenset[NormalizedName]) -> set[NormalizedName]:
    """Those of ``names`` that some repository's site shows."""
    shown: set[NormalizedName] = set()
    for repo in inst.catalog.list_repos():
        shown.update(inst.catalog.site_projects(repo, names))
    return shown


@vulns.command("sync")
@click.option("--from", "from_", default=None, type=click.Path(path_type=Path),
              help="Import this OSV export (a zip of OSV JSON files, or a directory of "
                   "them) instead of [vulnerabilities] url.")
@click.option("-v", "--verbose", is_flag=True, help="Name each malformed advisory skipped.")
@click.option("--no-generate", is_flag=True,
              help="Do not render the affected projects' web UI pages again now.")
@pass_ctx
def sync(ctx: Context, from_: Path | None, verbose: bool, no_generate: bool) -> None:
    """Import the OSV advisories of the PyPI ecosystem (incremental; resumable).

    Reads the whole export first (a corrupt zip imports nothing), then writes only the
    advisories whose `modified` moved. The web UI pages of the projects they name are
    rendered again; the index and dated snapshots never change with advisories, unless a
    --vulns blocklist rule is in force (then its projects are generated again).
    """
    inst = ctx.inst
    url = inst.config.vulnerabilities_url
    if from_ is None and not url:
        raise ConfigError("no vulnerability data to sync: set [vulnerabilities] url to the "
                          "URL of an OSV export zip, or pass --from PATH (a zip or directory)")
    try:
        with ProgressReporter("syncing vulnerabilities", "advisories",
                              waiting="fetching the OSV export...") as progress:
            importer = inst.vulns_sync(on_total=progress.start, on_progress=progress.advance)
            report = importer.from_path(from_) if from_ is not None else importer.from_url(url)
    except KeyboardInterrupt:
        info("vulnerabilities: interrupted; the advisories committed so far are kept, and "
             "`timeshelf vulns sync` again writes the rest")
        raise click.exceptions.Exit(INTERRUPTED) from None
    affected = shown_projects(inst, report.projects)
    info(summary(report, len(affected)))
    for line in report.malformed if verbose else ():
        info(f"  skipped: {line}")
    if report.malformed and not verbose:
        info("  (-v names each malformed advisory)")
    if affected and inst.catalog.note_advisories(sorted(affected), inst.now()):
        # A --vulns blocklist rule is in force: what the index lists may change too.
        if not no_generate:
            report_generation(inst.generate())
    elif affected and not no_generate:
        for ui in inst.refresh_advisories(sorted(affected)):
            if not ui.packages:
                continue  # a repository that shows none of them
            info(f"{ui.repo}: web UI of {ui.packages} project(s) rendered again "
                 f"({len(ui.written)} page(s) written)")


def vulns_rows(
    inst: Installation, repo: Repo, project: str | None
) -> tuple[list[tuple[str, ...]], int]:
    """The rows of ``list vulns`` (see ``REPORT_HEADER``) and how many projects have an
    affected latest version."""
    catalog = inst.catalog
    if project is not None:
        name = canonicalize_name(project)
        if not catalog.site_projects(repo, [name]) and not any(
                True for _ in catalog.iter_projects(repo, [name])):
            raise NotFound(f"repository {repo.name!r} shows no project {project!r}")
        names: set[NormalizedName] = {name}
    else:
        names = catalog.advisory_projects()
    index = AdvisoryIndex.load(catalog, names)
    rows: list[tuple[str, ...]] = []
    latest_hit = 0
    for state in catalog.iter_projects(repo, sorted(names)):
        latest = latest_version(state.files)
        hit_latest = False
        for v in versions_of(state):
            for a in index.advisories_affecting(state.name, v.version):
                hit_latest = hit_latest or v.version == latest
                severity = str(severity_of(a) or "-")
                rows.append((
                    state.display_name, v.version, "latest" if v.version == latest else "-",
                    a.id, ",".join(a.aliases) or "-", severity,
                    ",".join(fixed_in(a, state.name)) or "-", a.summary or "-",
                ))
        latest_hit += hit_latest
    return rows, latest_hit


def list_vulns(ctx: Context, repo: str | None, project: str | None, header_shown: bool) -> None:
    """``timeshelf list vulns --repo R [--project P]``: exits 1 when an advisory affects
    the latest version of a project."""
    if repo is None:
        raise click.UsageError("list vulns needs --repo R")
    inst = ctx.inst
    chosen = inst.catalog.get_repo(repo)
    rows, latest_hit = vulns_rows(inst, chosen, project)
    if not inst.catalog.has_advisories():
        info("no vulnerability data yet: `timeshelf vulns sync` imports it")
        return
    if rows and header_shown:
        click.echo("\t".join(REPORT_HEADER))
    for row in _lines(rows):
        click.echo(row)
    versions = len({(r[0], r[1]) for r in rows})
    info(f"{chosen.name}: {latest_hit} project(s) with a known vulnerability in the latest "
         f"version, {versions} affected version(s) in all")
    if latest_hit:
        raise click.exceptions.Exit(1)


def _lines(rows: list[tuple[str, ...]]) -> Iterator[str]:
    for row in rows:
        yield "\t".join(" ".join(cell.split()) for cell in row)
