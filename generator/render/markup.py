"""Project descriptions: read from core metadata, rendered to sanitized HTML as PyPI does.

Pure: bytes or text in, text out. Rendering goes through ``readme_renderer``, the library
PyPI (Warehouse) uses, so a README looks here as it does there and, above all, comes out
*sanitized* (every renderer ends in ``readme_renderer.clean``, an ``nh3`` allow-list): a
description is text from whoever uploaded the file, never markup we trust.

The choice of renderer follows PyPI's documented rules for ``Description-Content-Type``:
``text/markdown`` (``variant=GFM``, the default, or ``variant=CommonMark``),
``text/x-rst``, ``text/plain``; a missing type is reStructuredText; an unknown type is
plain text; reStructuredText that does not render falls back to plain text.

A description is bounded before it reaches a renderer, since docutils recurses once per
nesting level (``RecursionError`` at a few hundred) and cmark-gfm's time grows with the
square of a block-quote's depth (``"> " * 60000`` takes most of a minute): one longer than
``MAX_FORMATTED_LENGTH``, nested deeper than ``MAX_NESTING``, or whose renderer fails or
renders more than ``MAX_RENDERED_LENGTH`` is shown as escaped plain text under a note that
says why. ``render_description`` never raises for any text; the time it may take is
bounded by ``generator.output.descriptions``, which runs it in helper processes with a deadline.

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

from generator.render.fasthtml import escape

# Bump when the rendering changes; the readme_renderer version is part of it too.
MARKUP_VERSION = f"2-{metadata.version('readme_renderer')}"
# docutils takes seconds on megabytes of text: beyond this, a description is shown as
# plain text (still complete and escaped, just not formatted).
MAX_FORMATTED_LENGTH = 512 * 1024
# Container nesting (indentation levels plus block-quote and list markers on one line)
# beyond which a description is not formatted. Real READMEs stay under ten; docutils
# needs about three Python frames a level, so this keeps it far from the recursion limit.
MAX_NESTING = 48
# Rendered HTML beyond this (a few kB of Markdown can expand a hundredfold) is not shown.
MAX_RENDERED_LENGTH = 4 * 1024 * 1024
# Plain text shown in place of a description is cut here: escaping can make it five times
# longer ("&" → "&amp;"), and an 8 MiB METADATA must not make a 40 MiB page.
MAX_PLAIN_LENGTH = 256 * 1024
_CONTAINER_MARKER = re.compile(r"[ \t]*(?:>|[-+*](?=[ \t])|[0-9]{1,9}[.)](?=[ \t]))")
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
    """Sanitized HTML for a description (an empty string for an empty one).

    Never raises: a description that cannot be formatted within the bounds above is
    returned as ``plain_description`` with the reason.
    """
    if not text.strip():
        return ""
    if len(text) > MAX_FORMATTED_LENGTH:
        return plain_description(
            text, f"it is longer than {MAX_FORMATTED_LENGTH // 1024} KiB"
        )
    depth = nesting_depth(text, MAX_NESTING + 1)
    if depth > MAX_NESTING:
        return plain_description(
            text, f"it nests more than {MAX_NESTING} levels deep"
        )
    media_type, params = _parse_content_type(content_type)
    rendered: str | None
    try:
        if media_type == "text/markdown":
            variant = params.get("variant", "GFM")
            if variant not in _MARKDOWN_VARIANTS:
                variant = "GFM"
            rendered = readme_renderer.markdown.render(text, variant=variant)
        elif media_type in ("", "text/x-rst"):
            rendered = readme_renderer.rst.render(text)
        else:
            rendered = None
    except RecursionError:
        return plain_description(text, "it is nested too deeply to format")
    except Exception:
        # docutils and the Markdown extensions have their own bugs; a description that
        # trips one is still shown, never an error for the page or the upload.
        return plain_description(text, "its markup could not be formatted")
    if rendered is None:
        return _plain(text)
    if len(rendered) > MAX_RENDERED_LENGTH:
        return plain_description(
            text, f"formatted, it would be larger than {MAX_RENDERED_LENGTH // (1024 * 1024)} MiB"
        )
    return _demote_headings(rendered)


def plain_description(text: str, reason: str) -> str:
    """``text`` as escaped plain text under a note saying it was not formatted and why;
    only its first ``MAX_PLAIN_LENGTH`` characters, saying so, when it is longer."""
    shown = ""
    if len(text) > MAX_PLAIN_LENGTH:
        text = text[:MAX_PLAIN_LENGTH]
        shown = f" (its first {MAX_PLAIN_LENGTH // 1024} KiB)"
    note = (
        '<p class="description-note">This description is shown as plain text'
        f"{shown}: {escape(reason)}.</p>\n"
    )
    return note + _plain(text)


def nesting_depth(text: str, stop: int) -> int:
    """How deeply ``text`` nests containers, counted up to ``stop``: the indentation
    levels open at a line (a stack of columns, as reStructuredText block quotes and
    Markdown lists nest) plus the block-quote and list markers that start it. Linear in
    the text."""
    deepest = 0
    columns = [0]
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        indent = len(line[: len(line) - len(stripped)].expandtabs(8))
        while columns[-1] > indent:
            columns.pop()
        if indent > columns[-1]:
            columns.append(indent)
        depth = len(columns) - 1
        position = 0
        while depth < stop and (match := _CONTAINER_MARKER.match(line, position)):
            depth += 1
            position = match.end()
        deepest = max(deepest, depth)
        if deepest >= stop:
            return deepest
    return deepest


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
