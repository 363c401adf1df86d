"""The calendar of dated snapshots: which days a repository has, and which stay on disk.

A snapshot day D of repository R is R's state just before ``D+1 00:00 UTC``; only ended
days have one, from the first day of R's history on (``history_days``). ``Retention``
says which of them stay materialized; the others are rendered on demand
(``generator.snapshots.ondemand``). May import the catalog, ``generator.clock`` and
``generator.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from generator.catalog.catalog import Catalog
from generator.clock import format_timestamp, parse_timestamp
from generator.errors import NotFound
from generator.records import Repo


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """Which days stay materialized: the last ``daily_days`` days, and the 1st of every month."""

    daily_days: int = 90
    monthly: bool = True

    def keeps(self, day: date, today: date) -> bool:
        return (today - day).days <= self.daily_days or (self.monthly and day.day == 1)


def parse_day(text: str) -> date:
    """A snapshot date ``YYYY-MM-DD``; ``ValueError`` saying the accepted form."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"invalid date {text!r}: use YYYY-MM-DD, e.g. 2026-03-01") from e


def day_end(day: date) -> str:
    """The instant a day ends (exclusive bound of its snapshot), in catalog form."""
    return format_timestamp(datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC))


def history_days(catalog: Catalog, repo: Repo) -> tuple[date, date] | None:
    """(first day, first observed day) of a repository's history, or None before it has one.

    Days from the first observed day (its first subscription) on are snapshots of what
    the repository showed. Days before it are *reconstructed* (``Catalog.reconstruction``):
    a repository that subscribes to a mirror shows the upstream's past from the upload
    times its first sync backfilled. They are rendered on demand, never materialized,
    and marked ``"reconstructed": true`` in ``snapshots.json``: a project that the mirror
    first syncs later (a name added to a curated list) can still appear in them, while
    observed days never change.
    """
    started = catalog.repo_started(repo)
    if started is None:
        return None
    observed = parse_timestamp(started).date()
    past = catalog.reconstruction(repo)
    first = min(observed, parse_timestamp(past.start).date()) if past else observed
    return first, observed


def snapshot_days(catalog: Catalog, repo: Repo, now: datetime) -> list[date]:
    """Every ended day since the repository's history began (reconstructed days too),
    oldest first."""
    history = history_days(catalog, repo)
    if history is None:
        return []
    first = history[0]
    today = now.astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((today - first).days)]


def check_snapshot_day(catalog: Catalog, repo: Repo, text: str, now: datetime) -> date:
    """The day a URL asks for, if it has a snapshot; ``NotFound`` with a one-line reason.

    The reason names only snapshots that exist: the newest one, or, when the repository
    has none yet, the day its first will be available.
    """
    try:
        day = parse_day(text)
    except ValueError as e:
        raise NotFound(str(e)) from e
    today = now.astimezone(UTC).date()
    history = history_days(catalog, repo)
    first = history[0] if history else None
    if day >= today:
        which = "today is" if day == today else "that day is"
        raise NotFound(f"no snapshot for {day}: {which} not over yet "
                       f"({newest_snapshot_hint(repo, first, today)})")
    if first is None:
        raise NotFound(f"no snapshot for {day}: {newest_snapshot_hint(repo, first, today)}")
    if day < first:
        raise NotFound(f"no snapshot for {day}: repository {repo.name!r} begins on {first} "
                       f"({newest_snapshot_hint(repo, first, today)})")
    return day


def newest_snapshot_hint(repo: Repo, first: date | None, today: date) -> str:
    """Where to look instead of a missing day: the newest snapshot if there is one, else
    when the first will be available (``first``: the first day of the history)."""
    newest = today - timedelta(days=1)
    if first is not None and first <= newest:
        return f"the newest snapshot is {newest}; use latest/ for now"
    if first is None:
        return (f"repository {repo.name!r} has no history yet, hence no snapshot: it begins "
                f"when a source is first added to it; use latest/ for now")
    return (f"repository {repo.name!r} has no snapshot yet: its first, of {first}, is "
            f"available from {first + timedelta(days=1)} 00:00 UTC; use latest/ for now")
