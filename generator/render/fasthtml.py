"""Hand-built HTML for the hot loops of a full generation, byte for byte the templates'.

A full generation writes a Simple page per project (a million files): building its
per-file HTML in Python is three to four times faster than a Jinja2 loop (the web UI's
file tables are built the same way in ``generator.render.uifiles``). Every value goes through ``escape``, the
escaper of the templates' autoescape (``markupsafe.escape``), so the output is exactly
what the template loop it stands in for would give (``tests/generator/render/
test_fasthtml.py`` holds it to that); callers wrap it in ``Markup`` for their template.

Records in, text out: no I/O, no clock. URLs come in already percent-quoted
(``generator.render.simple.file_url``). A file's anchor is the same in every Simple
format so far (``generator.render.simple.FORMATS``: ``tests/generator/render/
test_format1.py`` holds format 1 to the old bytes); a format that changes it gets an
anchor function of its own here, chosen by its ``SimpleFormat``.
"""

from __future__ import annotations

import re

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
