"""The blocklist rule commands: ``create blocklist-rule``, ``list blocklist-rules``,
``delete blocklist-rule ID`` and ``test blocklist-rules`` (which rule decides a project's
files in a repository, and why). Creating and deleting a rule are events: the
repositories it touches are regenerated at once unless ``--no-generate``."""

from __future__ import annotations

from collections.abc import Iterator

import click
from packaging.utils import canonicalize_name

from generator.cli.context import Context, info, pass_ctx
from generator.cli.reporting import report_generation
from generator.errors import NotFound
from generator.installation import Installation
from generator.policy.listing import Policy
from generator.policy.rules import FileFacts, check_rule, decide, in_order
from generator.records import BlocklistRule


@click.group("delete")
def delete() -> None:
    """Delete something made with ``create`` (a blocklist rule)."""


@click.group("test")
def test() -> None:
    """Try what the installation would do (which blocklist rule decides a file)."""


HEADER = ("ID", "ACTION", "CONDITIONS", "DESCRIPTION", "SINCE")


def describe(rule: BlocklistRule) -> str:
    """The conditions of a rule, as the flags that made it."""
    parts = []
    if rule.package_name:
        parts.append(f"--package-name {rule.package_name}")
    if rule.version:
        parts.append(f"--version '{rule.version}'")
    if rule.source:
        parts.append(f"--source {rule.source}")
    if rule.repo:
        parts.append(f"--repo {rule.repo}")
    if rule.license:
        parts.append(f"--license '{rule.license}'")
    if rule.license_types:
        parts.append(f"--license-types {','.join(rule.license_types)}")
    if rule.vulns:
        parts.append("--vulns" + (f" --min-severity {rule.min_severity}" if rule.min_severity else ""))
    return " ".join(parts)


def _regenerate(inst: Installation, rule: BlocklistRule, no_generate: bool) -> None:
    if no_generate:
        return
    repos = [inst.catalog.get_repo(rule.repo)] if rule.repo else None
    report_generation(inst.generate(repos))


@click.command("blocklist-rule",
               short_help="Create a blocklist rule (files neither listed nor served).")
@click.option("--package-name", default=None, help="Only this project (any spelling).")
@click.option("--version", "version", default=None,
              help="Only versions in this PEP 440 specifier set, e.g. '<2.0.1' (needs --package-name).")
@click.option("--source", default=None, help="Only projects owned by this source.")
@click.option("--repo", default=None, help="Only in this repository (default: every one).")
@click.option("--license", "license_", default=None,
              help="Files whose declared license contains this text (case-insensitive).")
@click.option("--license-types", default=None,
              help="Files whose license names one of these SPDX ids, comma-separated; "
                   "Unknown for files with no known license.")
@click.option("--vulns", is_flag=True, help="Versions some standing advisory (OSV) affects.")
@click.option("--min-severity", default=None,
              help="With --vulns: only advisories at or above LOW, MODERATE, HIGH or CRITICAL.")
@click.option("--exception", is_flag=True,
              help="An allow rule: files it matches are allowed whatever block rules say.")
@click.option("--description", default="",
              help="One line: why (the body of every refused download).")
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def create_blocklist_rule(
    ctx: Context, package_name: str | None, version: str | None, source: str | None,
    repo: str | None, license_: str | None, license_types: str | None, vulns: bool,
    min_severity: str | None, exception: bool, description: str, no_generate: bool,
) -> None:
    """Create a blocklist rule, in force from now: the files it matches are not listed
    (dated days that ended before keep their pages) and not served (403)."""
    inst = ctx.inst
    types = [t for t in (license_types or "").split(",") if t.strip()]
    if license_types is not None and not types:
        raise click.UsageError("--license-types is empty: give SPDX ids such as MIT,Apache-2.0")
    rule = check_rule(
        package_name=package_name, version=version, source=source, repo=repo,
        license=license_, license_types=types, vulns=vulns, min_severity=min_severity,
        exception=exception, description=description,
    )
    if source is not None:
        inst.catalog.get_source(source)
    if repo is not None:
        inst.catalog.get_repo(repo)
    made = inst.catalog.add_rule(rule, inst.now())
    kind = "exception" if made.exception else "block rule"
    info(f"created {kind} {made.id}: {describe(made)}")
    if made.package_name and not inst.catalog.sources_with_project(made.package_name):
        info(f"warning: no source holds a project {made.package_name!r}: the rule matches "
             "no file now")
    _regenerate(inst, made, no_generate)


@click.command("blocklist-rule")
@click.argument("rule_id", metavar="ID", type=int)
@click.option("--no-generate", is_flag=True, help="Do not regenerate the index now.")
@pass_ctx
def delete_blocklist_rule(ctx: Context, rule_id: int, no_generate: bool) -> None:
    """Delete a blocklist rule: what it blocked is listed and served again from now."""
    inst = ctx.inst
    gone = inst.catalog.delete_rule(rule_id, inst.now())
    info(f"deleted rule {gone.id}: {describe(gone)}")
    _regenerate(inst, gone, no_generate)


def list_rules(ctx: Context, header_shown: bool) -> None:
    """``list blocklist-rules``: the rules in force in their order of execution."""
    rules = in_order(ctx.inst.catalog.rules_in_force())
    if not rules:
        info("no blocklist rules: `timeshelf create blocklist-rule ...` makes one")
        return
    if header_shown:
        click.echo("\t".join(HEADER))
    for rule in rules:
        action = "allow" if rule.exception else "block"
        click.echo("\t".join((str(rule.id), action, describe(rule), rule.description or "-",
                              rule.created_at)))


@click.command("blocklist-rules")
@click.option("--repo", required=True, help="The repository whose listing is tested.")
@click.option("--package-name", required=True, help="The project.")
@click.option("--version", "version", default=None,
              help="Only this version (it need not exist: then it is judged as a file "
                   "with no known license).")
@pass_ctx
def test_blocklist_rules(ctx: Context, repo: str, package_name: str, version: str | None) -> None:
    """Say which rule decides each file of a project in a repository, and why: one line
    per file (or per version asked for that the repository does not hold)."""
    for line in _decisions(ctx.inst, repo, package_name, version):
        click.echo(line)


def _decisions(inst: Installation, repo_name: str, project: str, version: str | None) -> Iterator[str]:
    catalog = inst.catalog
    repo = catalog.get_repo(repo_name)
    name = canonicalize_name(project)
    states = list(catalog.iter_projects(repo, [name]))
    policy = Policy.load(catalog, repo, names=[name])
    files = [
        (state, f) for state in states for f in state.files
        if version is None or f.version == version
    ]
    if files:
        for state, verdicts in (
            policy.verdicts(states) if policy is not None else ((s, []) for s in states)
        ):
            by_file = {v.file.filename: v.decision.why for v in verdicts}
            for f in state.files:
                if version is None or f.version == version:
                    yield f"{f.filename}: {by_file.get(f.filename, 'allowed: no rule matches')}"
        return
    if version is None:
        raise NotFound(
            f"repository {repo.name!r} lists no project {project!r}: give --version to "
            "test a version it does not hold"
        )
    source = states[0].source if states else (repo.sources[0] if repo.sources else "")
    rules = policy.rules_for(name) if policy is not None else ()
    advisories = policy.advisories_affecting(name, version) if policy is not None else ()
    decision = decide(rules, FileFacts(
        project=name, version=version, source=source, repo=repo.name, advisories=advisories,
    ))
    yield f"{name}=={version} (not in {repo.name}; license Unknown): {decision.why}"


delete.add_command(delete_blocklist_rule)
test.add_command(test_blocklist_rules)
