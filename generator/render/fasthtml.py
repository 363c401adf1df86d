"""Hand-built HTML for the hot loops of a full generation, byte for byte the templates'.

A full generation writes a Simple page and a package page per project (a million files):
building their per-file HTML in Python is three to four times faster than a Jinja2 loop.
This module is the one place that does it. Every value goes through ``escape``, the
escaper of the templates' autoescape (``markupsafe.escape``), so the output is exactly
what the template loops it stands in for would give (``tests/generator/render/
test_fasthtml.py`` holds it to that); callers wrap it in ``Markup`` for their template.

Records in, text out: no I/O, no clock. URLs come in already percent-quoted
(``generator.render.simple.file_url``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape as _markup_escape

from generator.records import FileRecord

# A character that HTML escaping changes; most values (hashes, filenames, dates) have none.
_SPECIAL = re.compile(r"[&<>'\"]")


def escape(text: str) -> str:
    """``text`` escaped exactly as the templates' autoescape escapes it (``&#39;`` and
    ``&#34;`` for quotes), with a fast path for the common value that needs nothing."""
    return text if _SPECIAL.search(text) is None else str(_markup_escape(text))


def human_size(size: int) -> str:
    """Decimal units, as PyPI shows them: ``512 bytes``, ``12.3 kB``, ``4.1 MB``."""
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            return f"{value:.1f} {unit}"
    return f"{size} bytes"  # pragma: no cover


def show_time(timestamp: str) -> str:
    """``2026-03-01T12:00:00.000000Z`` → ``2026-03-01 12:00 UTC``."""
    if len(timestamp) < 16:
        return timestamp
    return f"{timestamp[:10]} {timestamp[11:16]} UTC"


# -- the Simple project page (PEP 503, 592, 658/714) ---------------------------------------


def simple_anchor(f: FileRecord, url: str) -> str:
    """A file's line on a Simple project page; ``url`` is the file's relative URL."""
    attributes = ""
    if f.requires_python:
        attributes += f' data-requires-python="{escape(f.requires_python)}"'
    if f.yanked:
        attributes += f' data-yanked="{escape(f.yanked_reason)}"'
    if f.metadata_sha256:
        digest = escape(f.metadata_sha256)
        attributes += (
            f' data-core-metadata="sha256={digest}" data-dist-info-metadata="sha256={digest}"'
        )
    return (
        f'    <a href="{escape(f"{url}#sha256={f.sha256}")}"{attributes} data-gpg-sig='
        f'"{"true" if f.has_signature else "false"}">{escape(f.filename)}</a><br>\n'
    )


# -- the web UI's package page: the versions table and the file lists ----------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionView:
    """A version on a package page."""

    version: str
    anchor: str
    date: str
    yanked: bool
    prerelease: bool
    # The version's files as rendered list items (``file_item``).
    files: tuple[str, ...]


def version_rows(versions: Sequence[VersionView]) -> str:
    """The rows of a package page's versions table."""
    out = []
    for v in versions:
        tags = (' <span class="tag">pre-release</span>' if v.prerelease else "") + (
            ' <span class="tag tag-yanked">yanked</span>' if v.yanked else ""
        )
        out.append(
            f'<tr><td><a href="#{escape(v.anchor)}">{escape(v.version)}</a>{tags}</td>'
            f"<td><time>{escape(v.date)}</time></td><td>{len(v.files)}</td></tr>\n"
        )
    return "".join(out)


def file_lists(display_name: str, versions: Sequence[VersionView]) -> str:
    """A package page's file lists: a heading and the list of files of each version."""
    name = escape(display_name)
    out = []
    for v in versions:
        out.append(
            f'<h3 id="{escape(v.anchor)}">{name} {escape(v.version)}</h3>\n<ul class="files">\n'
        )
        out.extend(v.files)
        out.append("</ul>\n")
    return "".join(out)


_KIND = ("sdist", "wheel")


def file_item(f: FileRecord, url: str) -> str:
    """One file of a package page as a list item; ``url`` is the file's relative URL."""
    reason = f.yanked_reason or "none given"
    href = f"{url}#sha256={f.sha256}"
    uploaded = show_time(f.upload_time)
    filename, sha256 = f.filename, f.sha256
    signature = f"{url}.asc"
    # One search over every text value instead of one per value: most files have
    # nothing to escape anywhere.
    if _SPECIAL.search(f"{href}{filename}{uploaded}{reason}") is not None:
        href, filename, sha256 = escape(href), escape(filename), escape(sha256)
        uploaded, reason, signature = escape(uploaded), escape(reason), escape(signature)
    size = f.size
    shown = f"{human_size(size)} ({size} bytes)" if size >= 1000 else f"{size} bytes"
    signed = (
        f' <a class="signed" href="{signature}" title="OpenPGP signature '
        'uploaded with the file (.asc)">SIGNED</a>' if f.has_signature else ""
    )
    requires = _requires_item(f.requires_python) if f.requires_python else ""
    if f.yanked:
        return (
            f'<li class="file is-yanked">\n'
            f'<p class="file-name"><a href="{href}">{filename}</a> '
            f'<span class="tag">{_KIND[f.packagetype == "bdist_wheel"]}</span>{signed} '
            f'<span class="tag tag-yanked">yanked</span></p>\n'
            f'<dl class="file-facts">\n<dt>Size</dt><dd>{shown}</dd>\n'
            f"<dt>Uploaded</dt><dd><time>{uploaded}</time></dd>\n{requires}"
            f'<dt>SHA256</dt><dd><code class="hash">{sha256}</code></dd>\n'
            f"<dt>Yank reason</dt><dd>{reason}</dd>\n</dl>\n</li>\n"
        )
    return (
        f'<li class="file">\n'
        f'<p class="file-name"><a href="{href}">{filename}</a> '
        f'<span class="tag">{_KIND[f.packagetype == "bdist_wheel"]}</span>{signed}</p>\n'
        f'<dl class="file-facts">\n<dt>Size</dt><dd>{shown}</dd>\n'
        f"<dt>Uploaded</dt><dd><time>{uploaded}</time></dd>\n{requires}"
        f'<dt>SHA256</dt><dd><code class="hash">{sha256}</code></dd>\n</dl>\n</li>\n'
    )


@functools.lru_cache(maxsize=1024)
def _requires_item(requires_python: str) -> str:
    # A few distinct specifiers across a whole repository, nearly all with a '>' to escape.
    return f"<dt>Requires Python</dt><dd>{escape(requires_python)}</dd>\n"
