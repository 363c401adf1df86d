"""Project descriptions: read from core metadata, rendered to sanitized HTML as PyPI does.

Pure: bytes or text in, text out. Rendering goes through ``readme_renderer``, the library
PyPI (Warehouse) uses, so a README looks here as it does there and, above all, comes out
*sanitized* (every renderer ends in ``readme_renderer.clean``, an ``nh3`` allow-list): a
description is text from whoever uploaded the file, never markup we trust.

The choice of renderer follows PyPI's documented rules for ``Description-Content-Type``:
``text/markdown`` (``variant=GFM``, the default, or ``variant=CommonMark``),
``text/x-rst``, ``text/plain``; a missing type is reStructuredText; an unknown type is
plain text; reStructuredText that does not render falls back to plain text.

``MARKUP_VERSION`` names the output: pages cache rendered descriptions under it.
"""

from __future__ import annotations

import email.message
import re
from dataclasses import dataclass
from importlib import metadata

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from packaging.metadata import parse_email

# Bump when the rendering changes; the readme_renderer version is part of it too.
MARKUP_VERSION = f"1-{metadata.version('readme_renderer')}"
# docutils takes seconds on megabytes of text: beyond this, a description is shown as
# plain text (still complete and escaped, just not formatted).
MAX_FORMATTED_LENGTH = 512 * 1024
_MARKDOWN_VARIANTS = ("GFM", "CommonMark")
_HEADING = re.compile(r"(</?)h([1-6])\b")


@dataclass(frozen=True, slots=True, kw_only=True)
class Description:
    """What the core metadata says about a project, for its page."""

    summary: str
    text: str
    content_type: str


def read_description(core_metadata: bytes) -> Description | None:
    """The summary and description of a ``METADATA``/``PKG-INFO`` file; None if unreadable."""
    try:
        raw, _unparsed = parse_email(core_metadata)
    except (ValueError, UnicodeDecodeError):
        return None
    return Description(
        summary=(raw.get("summary") or "").strip(),
        text=raw.get("description") or "",
        content_type=raw.get("description_content_type") or "",
    )


def render_description(text: str, content_type: str = "") -> str:
    """Sanitized HTML for a description (an empty string for an empty one)."""
    if not text.strip():
        return ""
    if len(text) > MAX_FORMATTED_LENGTH:
        return _plain(text)
    media_type, params = _parse_content_type(content_type)
    rendered: str | None
    if media_type == "text/markdown":
        variant = params.get("variant", "GFM")
        if variant not in _MARKDOWN_VARIANTS:
            variant = "GFM"
        rendered = readme_renderer.markdown.render(text, variant=variant)
    elif media_type in ("", "text/x-rst"):
        rendered = readme_renderer.rst.render(text)
    else:
        rendered = None
    return _demote_headings(rendered) if rendered is not None else _plain(text)


def _demote_headings(html: str) -> str:
    """Move the description's headings two levels down (``h1`` → ``h3``, at most ``h6``):
    on the page they sit under its ``h1`` and the ``h2`` "Description". Safe on sanitized
    output: text is escaped there, so ``<h`` only ever starts a tag."""
    return _HEADING.sub(lambda m: f"{m[1]}h{min(int(m[2]) + 2, 6)}", html)


def _plain(text: str) -> str:
    rendered = readme_renderer.txt.render(text)
    return rendered or ""


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """(lowercased media type, parameters) of a ``Description-Content-Type`` value."""
    if not value.strip():
        return "", {}
    message = email.message.EmailMessage()
    message["content-type"] = value
    params = {
        str(k).lower(): str(v)
        for k, v in (message.get_params() or [])[1:]
    }
    return message.get_content_type(), params
