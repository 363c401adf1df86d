"""What a sync pass did: ``SyncReport`` (frozen, returned by ``Mirror.sync``) and the
``Tally`` that counts it up while the pass runs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncReport:
    """What one pass did: counts, ``skips`` as (reason, files) sorted by reason, and
    ``errors``, one line per project that failed.

    ``to_do`` is how many projects the pass set out to check (or remove) and
    ``interrupted`` says it was stopped (Ctrl-C) before it got through them: what it
    finished is committed, and ``remaining`` projects are left for the next run.
    ``not_found`` names the projects of a curated list the upstream does not have.
    """

    source: str
    upstream: str
    listed: int = 0
    to_do: int = 0
    checked: int = 0
    not_modified: int = 0
    changed: int = 0
    added: int = 0
    yanked: int = 0
    unyanked: int = 0
    removed: int = 0
    skipped: int = 0
    skips: tuple[tuple[str, int], ...] = ()
    refused: int = 0
    downloaded: int = 0
    requests: int = 0
    root_unchanged: bool = False
    interrupted: bool = False
    remaining: int = 0
    seconds: float = 0.0
    errors: tuple[str, ...] = ()
    not_found: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and not self.not_found and not self.interrupted


@dataclass(slots=True)
class Tally:
    """A pass in progress: ``counts`` holds ``SyncReport``'s integer fields by name, and
    ``report`` freezes everything into one."""

    source: str
    upstream: str
    counts: Counter[str] = field(default_factory=Counter)
    skips: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    root_unchanged: bool = False
    interrupted: bool = False
    seconds: float = 0.0

    def report(self) -> SyncReport:
        frozen = SyncReport(
            source=self.source, upstream=self.upstream, skips=tuple(sorted(self.skips.items())),
            root_unchanged=self.root_unchanged, interrupted=self.interrupted,
            seconds=self.seconds, errors=tuple(self.errors),
            not_found=tuple(sorted(self.not_found)),
        )
        counts: dict[str, Any] = dict(self.counts)
        if self.interrupted:
            counts["remaining"] = max(0, counts.get("to_do", 0) - counts.get("done", 0))
        counts.pop("done", None)
        return replace(frozen, **counts)
