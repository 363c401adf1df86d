"""Hand-built HTML of the web UI's vulnerability sections: records in, text out.

A package page lists the advisories that affect any of its versions (id, aliases such
as CVE ids, severity, summary, the versions here they affect, the versions that fix
them) and says whether the latest version is affected; a version page lists those of
its own version. Which advisories affect which version is decided before rendering
(``generator.advisories.matching``); this module only shows it. Every value goes
through ``generator.render.fasthtml.escape`` (the templates' autoescape); callers wrap
the result in ``Markup``. Nothing is written for a project no advisory affects, so its
pages stay byte for byte what they were before vulnerability data existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from generator.records import Advisory
from generator.render.fasthtml import escape

# Versions named in one advisory's row of a package page, at most (then "and N more").
SHOWN_VERSIONS = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvisoryView:
    """One advisory as a page shows it, for one project."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str
    # The CVSS vectors (or other scores) behind ``severity``, shown on hover.
    vectors: str
    fixed_in: tuple[str, ...]

    @classmethod
    def of(cls, advisory: Advisory, fixed_in: tuple[str, ...], severity: str = "") -> AdvisoryView:
        """The view of ``advisory``; ``severity`` as the caller rated it (else the
        database's rating, else the kind of its first score)."""
        vectors = " ".join(score for _kind, score in advisory.severity)
        severity = severity or advisory.level or (
            advisory.severity[0][0] if advisory.severity else "")
        return cls(id=advisory.id, aliases=advisory.aliases, summary=advisory.summary,
                   severity=severity, vectors=vectors, fixed_in=fixed_in)


def _cells(view: AdvisoryView) -> str:
    aliases = "".join(f' <span class="alias">{escape(a)}</span>' for a in view.aliases)
    title = f' title="{escape(view.vectors)}"' if view.vectors else ""
    severity = (f"<span{title}>{escape(view.severity)}</span>" if view.severity
                else '<span class="meta">not given</span>')
    fixed = escape(", ".join(view.fixed_in)) if view.fixed_in else "no fix known"
    return (
        f'<td data-label="Advisory"><span class="advisory-id">{escape(view.id)}</span>{aliases}</td>'
        f'<td data-label="Severity">{severity}</td>'
        f'<td data-label="Summary">{escape(view.summary)}</td>'
        f'<td data-label="Fixed in">{fixed}</td>'
    )


_HEAD = (
    '<div class="table-wrap"><table class="advisories">\n<thead><tr>'
    '<th scope="col">Advisory</th><th scope="col">Severity</th><th scope="col">Summary</th>'
    '<th scope="col">Fixed in</th>{extra}</tr></thead>\n<tbody>\n'
)
_TAIL = "</tbody></table></div>\n"


def package_advisories_html(
    latest: str, views: Sequence[AdvisoryView], affected: Mapping[str, Sequence[str]],
) -> str:
    """The package page's section: ``views`` (by id) with the versions of this project
    each affects (``affected[id]``, newest first); "" when there are none."""
    if not views:
        return ""
    hit = [v for v in views if latest in affected.get(v.id, ())]
    plural = "y" if len(views) == 1 else "ies"
    notice = (
        f'<p class="notice notice-vulnerable">The latest version, {escape(latest)}, is '
        f'affected by {len(hit)} of them: {escape(", ".join(v.id for v in hit))}.</p>\n'
        if hit else
        f'<p class="notice">The latest version, {escape(latest)}, is affected by none of them.</p>\n'
    )
    rows = []
    for v in views:
        versions = list(affected.get(v.id, ()))
        shown = ", ".join(versions[:SHOWN_VERSIONS])
        if len(versions) > SHOWN_VERSIONS:
            shown += f" and {len(versions) - SHOWN_VERSIONS} more"
        rows.append(f'<tr>{_cells(v)}<td data-label="Versions here">{escape(shown)}</td></tr>\n')
    return (
        '<section id="vulnerabilities" aria-labelledby="vulnerabilities-title">\n'
        f'<h2 id="vulnerabilities-title">Known vulnerabilities <span class="meta">'
        f'({len(views)} advisor{plural})</span></h2>\n{notice}'
        + _HEAD.format(extra='<th scope="col">Versions here</th>') + "".join(rows) + _TAIL
        + "</section>\n"
    )


def version_advisories_html(version: str, views: Sequence[AdvisoryView]) -> str:
    """A version page's section: the advisories of ``version`` (by id); "" when none."""
    if not views:
        return ""
    plural = "y" if len(views) == 1 else "ies"
    return (
        '<section id="vulnerabilities" aria-labelledby="vulnerabilities-title">\n'
        f'<h2 id="vulnerabilities-title">Known vulnerabilities <span class="meta">'
        f'({len(views)} advisor{plural})</span></h2>\n'
        f'<p class="notice notice-vulnerable">{escape(version)} is affected by '
        f'{len(views)} known advisor{plural}.</p>\n'
        + _HEAD.format(extra="") + "".join(f"<tr>{_cells(v)}</tr>\n" for v in views) + _TAIL
        + "</section>\n"
    )
