"""The notices a package or version page carries above its files: the banner of a
project whose PEP 792 status is not active, and the marks of a cooldown repository's
versions that wait or were let in early. Records in, markup out (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from generator.records import CooldownMark, ProjectState
from generator.render.fasthtml import show_time

# The banner of a project whose PEP 792 status is not active (none for active).
_STATUS_NOTES = {
    "archived": "Archived: this project takes no new uploads; its files stay installable.",
    "quarantined": "Quarantined: this project's files are neither listed nor served.",
    "deprecated": "Deprecated: this project is considered obsolete.",
}


def status_note(project: ProjectState) -> str:
    """The banner text of the project's status ('' when it is active), with its reason."""
    note = _STATUS_NOTES.get(project.status.status, "")
    return f"{note} Reason: {project.status.reason}" if note and project.status.reason else note


# A package page names at most this many versions waiting in a cooldown.
COOLDOWN_MARK_LIMIT = 20


def cooldown_notes(marks: Sequence[CooldownMark]) -> Markup:
    """A package page's notes on the versions of a cooldown repository that are waiting
    (with when each comes in) or were let in early (with why); empty without any."""
    if not marks:
        return Markup("")
    items = []
    for mark in marks[:COOLDOWN_MARK_LIMIT]:
        if mark.allowed_reason is not None:
            items.append(Markup('<li class="allowed"><span class="version">{}</span> allowed '
                                "before its cooldown ended: {}</li>").format(
                                    mark.version, mark.allowed_reason))
        else:
            items.append(Markup('<li class="waiting"><span class="version">{}</span> waits in '
                                "cooldown: listed from {}</li>").format(
                                    mark.version, show_time(mark.comes_of_age_at or "")))
    more = len(marks) - COOLDOWN_MARK_LIMIT
    if more > 0:
        items.append(Markup("<li>and {} more</li>").format(more))
    return Markup('<section id="cooldown" class="cooldown" aria-label="Cooldown">'
                  '<ul class="cooldown-list">{}</ul></section>').format(Markup("").join(items))
