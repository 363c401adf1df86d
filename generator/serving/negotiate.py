"""PEP 691 content negotiation for simple pages: which of ``index.json`` / ``index.html``.

``negotiate`` is pure (strings in, a choice out). The nginx configuration
(``site/nginx.conf.j2``) implements the very same rules with ``map`` blocks and
``timeshelf serve`` calls this function, so both servers answer every request alike;
the tests hold one table of cases against all three.

The rules, in the order they apply:

1. A non-empty ``?format=`` overrides ``Accept`` (PEP 691 "URL Parameter"). It must be
   exactly one media type we serve: ``application/vnd.pypi.simple.v1+json`` or
   ``...latest+json`` → JSON; ``...v1+html``, ``...latest+html`` or ``text/html`` →
   HTML; case-insensitive, and a ``+`` that a form decoder turned into a space counts as
   ``+``. Any other value → ``None`` (406): PEP 691 lets a server refuse a format it does
   not support, and a typo should not silently return the other format.
2. No ``Accept`` header (or an empty one) means ``*/*`` (RFC 9110), hence HTML.
3. Each media type we can answer with (an *offer*) takes the quality of its **most
   specific** matching ranges present in the header (RFC 9110 §12.5.1), the highest
   one among ranges of that level; an offer no range matches has quality 0:

   - JSON: ``application/vnd.pypi.simple.{v1,latest}+json``, then ``application/*``,
     then ``*/*``;
   - HTML as ``text/html``: ``text/html``, then ``text/*``, then ``*/*``;
   - HTML as the PEP 691 type: ``application/vnd.pypi.simple.{v1,latest}+html``, then
     ``application/*``, then ``*/*``.

   HTML's quality is the better of its two offers. (HTML is always labelled
   ``text/html``, which PEP 691 makes an alias of the ``v1+html`` type.)
4. ``q`` has at most three decimals (RFC 9110 ``qvalue``); a malformed ``q`` makes its
   range unacceptable (q=0). When a media range appears twice its first occurrence
   counts, and within a range its first ``q`` parameter. Media types compare
   case-insensitively; other parameters are ignored.
5. Both qualities 0 → ``None`` (406 Not Acceptable). JSON strictly better → JSON.
   Otherwise HTML: ties go to HTML, as Warehouse prefers ``text/html`` first.

So pip (``v1+json, v1+html; q=0.1, text/html; q=0.01``), uv and poetry
(``v1+json, */*;q=0.1``) get JSON; browsers (``text/html,...,*/*;q=0.8``), curl
(``*/*``) and hatch (no header) get HTML.
"""

from __future__ import annotations

import re
from typing import Final, Literal

Variant = Literal["json", "html"]

JSON_MEDIA_TYPES: Final = frozenset(
    {"application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json"}
)
HTML_MEDIA_TYPES: Final = frozenset(
    {"application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.latest+html",
     "text/html"}
)
# The ranges matching each offer, most specific level first.
_JSON_OFFER: Final = (JSON_MEDIA_TYPES, frozenset({"application/*"}), frozenset({"*/*"}))
_TEXT_HTML_OFFER: Final = (
    frozenset({"text/html"}), frozenset({"text/*"}), frozenset({"*/*"})
)
_VND_HTML_OFFER: Final = (
    HTML_MEDIA_TYPES - {"text/html"}, frozenset({"application/*"}), frozenset({"*/*"})
)
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")
FULL_QUALITY: Final = 1000


def parse_qvalue(text: str) -> int:
    """The quality ``text`` denotes, in thousandths (``"0.1"`` → 100, ``"1"`` → 1000).

    A value that is not an RFC 9110 ``qvalue`` (``0``..``1``, three decimals at most)
    yields 0: such a range is treated as not acceptable.
    """
    value = text.strip()
    if not _QVALUE.match(value):
        return 0
    whole, _, fraction = value.partition(".")
    return int(whole) * 1000 + int((fraction + "000")[:3])


def parse_accept(header: str) -> dict[str, int]:
    """Media range (lowercased) → quality in thousandths, first occurrence of each range.

    Elements without a ``/`` are skipped; a range without ``q`` has quality 1000.
    """
    ranges: dict[str, int] = {}
    for element in header.split(","):
        media_range, *params = element.split(";")
        media_range = media_range.strip().lower()
        if "/" not in media_range or media_range in ranges:
            continue
        quality = FULL_QUALITY
        for param in params:
            name, equals, value = param.partition("=")
            if equals and name.strip().lower() == "q":
                quality = parse_qvalue(value)
                break
        ranges[media_range] = quality
    return ranges


def _offer_quality(ranges: dict[str, int], levels: tuple[frozenset[str], ...]) -> int:
    for level in levels:
        present = [ranges[r] for r in level if r in ranges]
        if present:
            return max(present)
    return 0


def format_variant(value: str) -> Variant | None:
    """The variant a ``?format=`` value asks for; ``None`` if it names no type we serve."""
    media_type = value.lower().replace(" ", "+")
    if media_type in JSON_MEDIA_TYPES:
        return "json"
    if media_type in HTML_MEDIA_TYPES:
        return "html"
    return None


def negotiate(accept: str | None, format_param: str | None = None) -> Variant | None:
    """Choose the representation of a simple page: ``"json"``, ``"html"``, or ``None`` (406).

    ``accept`` is the raw ``Accept`` header (``None`` when absent); ``format_param`` the
    decoded ``?format=`` query value (``None`` or ``""`` when absent). The module
    docstring states the rules.
    """
    if format_param:
        return format_variant(format_param)
    if accept is None or not accept.strip():
        return "html"
    ranges = parse_accept(accept)
    json_q = _offer_quality(ranges, _JSON_OFFER)
    html_q = max(_offer_quality(ranges, _TEXT_HTML_OFFER), _offer_quality(ranges, _VND_HTML_OFFER))
    if json_q == 0 and html_q == 0:
        return None
    return "json" if json_q > html_q else "html"
