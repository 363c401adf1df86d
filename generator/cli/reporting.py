"""How the commands tell what a generation did: one line per repository on stderr."""

from __future__ import annotations

from generator.cli.context import info
from generator.installation import Generation


def report_generation(generation: Generation) -> None:
    """Tell (stderr) what each repository's generation did, its snapshots, and the
    publish that ended it (with ``[output] target``)."""
    for r in generation.reports:
        if r.mode == "unchanged":
            info(f"{r.repo}: up to date (serial {r.serial})")
        else:
            info(
                f"{r.repo}: {r.mode} generation, {r.projects} project(s) rendered, "
                f"{r.written} page(s) written, {r.deleted} removed (serial {r.serial})"
            )
        if r.snapshots_written:
            days = r.snapshots_written
            info(f"{r.repo}: snapshot(s) written for {days[0]}" + (f" .. {days[-1]}" if len(days) > 1 else ""))
        if r.snapshots_pruned:
            info(f"{r.repo}: {len(r.snapshots_pruned)} snapshot(s) past retention removed (still served on demand)")
    if generation.published is not None:
        info(generation.published.summary())
