"""Which mirror sources a sync works on, and what a new one would mirror.

``mirror_sources`` chooses the sources of ``timeshelf sync`` (a bare sync takes only
those some repository subscribes to: an unsubscribed mirror is work nobody reads);
``check_not_self`` refuses an upstream that is this installation's own site;
``count_projects`` reads an upstream's root to say how big an unfiltered mirror is.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.catalog.catalog import Catalog
from generator.config.mirror import MirrorSettings
from generator.errors import Conflict
from generator.mirror.http import HttpClient, UpstreamUnavailable
from generator.mirror.sync import MIRROR_TYPES, SimpleUpstream
from generator.mirror.upstream import UpstreamError
from generator.records import Source

# Seconds to wait for an upstream's root when only counting its projects.
COUNT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Chosen:
    """The sources a sync works on, and the mirror sources it leaves out because no
    repository subscribes to them (both in catalog order)."""

    sources: tuple[Source, ...]
    unsubscribed: tuple[Source, ...] = ()


def mirror_sources(catalog: Catalog, source: str | None, type_: str | None) -> Chosen:
    """The sources ``timeshelf sync`` works on: one by name (subscribed or not), else the
    mirrors (of ``type_``, if given) that some repository subscribes to."""
    if source is not None:
        chosen = catalog.get_source(source)
        if chosen.type not in MIRROR_TYPES:
            raise Conflict(
                f"source {chosen.name!r} is of type {chosen.type}: only pypi and curated-pypi "
                "sources are synced"
            )
        return Chosen(sources=(chosen,))
    subscribed = {name for repo in catalog.list_repos() for name in repo.sources}
    mirrors = [s for s in catalog.list_sources()
               if s.type in MIRROR_TYPES and (type_ is None or s.type == type_)]
    return Chosen(
        sources=tuple(s for s in mirrors if s.name in subscribed),
        unsubscribed=tuple(s for s in mirrors if s.name not in subscribed),
    )


def check_not_self(base_url: str, upstream: str, *, given: bool) -> None:
    """Refuse an upstream that is this installation's own site at ``base_url`` (a mirror
    of itself): ``Conflict``. ``given``: the URL came from ``--upstream`` (else from pip's
    configuration), which decides what the message tells to change."""
    if not upstream.rstrip("/").startswith(base_url.rstrip("/")):
        return
    if given:
        raise Conflict(
            f"--upstream {upstream} is this installation's own site ({base_url}): a source "
            "cannot mirror itself; pass the Simple API URL of another index"
        )
    raise Conflict(
        f"the index pip is configured to use, {upstream}, is this installation's own site "
        f"({base_url}), so it cannot be the default upstream; pass --upstream URL of the "
        "index to mirror"
    )


def count_projects(settings: MirrorSettings, upstream: str) -> int:
    """How many projects the upstream root at ``upstream`` lists (one request, no retries:
    the count only informs); ``UpstreamUnavailable`` when it cannot be read."""
    client = HttpClient(timeout=min(settings.timeout, COUNT_TIMEOUT), retries=0)
    try:
        listing = SimpleUpstream(client, upstream).list_projects({})
    except UpstreamError as e:
        raise UpstreamUnavailable(str(e)) from e
    finally:
        client.close()
    return len(listing.projects) if listing is not None else 0
