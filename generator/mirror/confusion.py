"""Dependency-confusion report: local projects whose names also exist upstream.

A repository resolves a name to the first subscribed source that has it (DESIGN.md), so
a local project is safe exactly when its source comes before every mirror source of the
repository. This report lists each local project also known upstream and says which
side wins. "Known upstream" is asked of the upstream itself (a curated or filtered mirror
holds only part of it): one request per local project and mirror.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.catalog.catalog import Catalog
from generator.config.mirror import MirrorSettings
from generator.config.pip import configured_index_url
from generator.mirror.sync import MIRROR_TYPES, SimpleUpstream, make_client, upstream_of
from generator.records import Repo


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A local project whose name an upstream also has, and whether local wins."""

    project: str
    local_source: str
    upstream_source: str
    local_wins: bool


def confusable_projects(
    catalog: Catalog, settings: MirrorSettings, repo: Repo
) -> list[Finding]:
    """Every local project of ``repo`` that exists upstream, sorted by name (the upstreams
    asked with the HTTP ``settings`` of ``[mirror]``).

    Without a mirror source in the repository, pip's configured index is asked (and the
    local project wins: nothing public is served by this repository).
    """
    sources = {s.name: s for s in catalog.list_sources()}
    order = {name: i for i, name in enumerate(repo.sources)}
    local = [sources[n] for n in repo.sources if sources[n].type == "local-python"]
    mirrors = [sources[n] for n in repo.sources if sources[n].type in MIRROR_TYPES]
    client = make_client(settings)
    upstreams = [(m.name, upstream_of(m), order[m.name]) for m in mirrors] or [
        ("(pip's index)", configured_index_url(), len(order))
    ]
    findings: list[Finding] = []
    try:
        for source in local:
            for package in catalog.list_packages(source):
                for name, url, position in upstreams:
                    upstream = SimpleUpstream(client, url)
                    response = client.get(upstream.project_url(package.name),
                                          {"Accept": "text/html"})
                    if response.status == 200:
                        findings.append(Finding(
                            project=package.name, local_source=source.name,
                            upstream_source=name, local_wins=order[source.name] < position,
                        ))
    finally:
        client.close()
    return sorted(findings, key=lambda f: (f.project, f.local_source, f.upstream_source))
