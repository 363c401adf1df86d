"""One template rendered many times with different values, each time at the cost of a join.

A full generation renders a package page per project (100k and more). Running the whole
Jinja2 template for each was a third of a page's rendering (its values' own HTML is the
rest). ``Prefilled`` renders the template once with a marker in place of each per-page
value, splits the output at the markers, and makes each later page by putting the
values, escaped as autoescaping escapes them (``markupsafe.escape``; ``Markup`` values as
they are), back between the fixed pieces. The output stays the template's, every byte.

It is valid for a value the template prints or tests for truth, nothing more: a form is
kept per set of empty values (an ``{% if summary %}`` takes either branch). A form is
made twice, with markers unlike in length, case and words, and compared with a real render of
its first page; a template that filters, measures or slices a value, or loops over a
structure it was not given as a value, fails one of these, and that form renders through
Jinja2 from then on: slower, never wrong. Comparing a value with a constant
(``{% if summary == "x" %}``) is the one use no check sees: keep such logic out of a
prefilled template, or give its outcome to the template as a value of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import jinja2
from markupsafe import Markup, escape

Values = Mapping[str, str]
# Builds the template's context from the per-page values (markers or real ones).
Shape = Callable[[Values], Mapping[str, Any]]
# No form made yet for a key (None: made, and failed its check).
_UNSET: Any = object()


class _Form:
    """A template's output for one set of empty values, split at the markers."""

    __slots__ = ("keys", "parts", "slots")

    def __init__(self, keys: tuple[str, ...], parts: list[str], slots: list[tuple[int, int]]):
        self.keys = keys
        self.parts = parts
        # (position in parts, index in keys) of each value's place.
        self.slots = slots

    def fill(self, values: Values) -> str:
        shown = [v if isinstance(v := values[k], Markup) else escape(v) for k in self.keys]
        out = self.parts.copy()
        for position, index in self.slots:
            out[position] = shown[index]
        return "".join(out)


class Prefilled:
    """Renders ``template`` for many value sets; see the module docstring."""

    def __init__(self, template: jinja2.Template) -> None:
        self.template = template
        # A form, or None once the form for that key failed its check.
        self._forms: dict[Hashable, _Form | None] = {}

    def render(self, key: Hashable, values: Values, shape: Shape,
               rest: Mapping[str, Any] | None = None) -> str:
        """The template rendered with ``shape(values)`` (and ``rest``, context that only a
        real render gets). ``key`` must identify everything ``shape`` puts in the context
        that is not from ``values``."""
        form_key = (key, tuple(name for name, value in values.items() if not value))
        form = self._forms.get(form_key, _UNSET)
        if isinstance(form, _Form):
            return form.fill(values)
        real = self.template.render({**shape(values), **(rest or {})})
        if form is _UNSET:
            made = _compile(self.template, values, shape)
            self._forms[form_key] = made if made is not None and made.fill(values) == real else None
        return real


# Markers are NUL-delimited, which HTML escaping leaves as they are and no template's own
# text holds, in two spellings unlike in length, case and words: a template that filters,
# measures or slices a value renders the two differently, so its form is never used.
_STYLES = ("a", " Bb" * 100)
_MARKER = re.compile(f"\x00([0-9]+)(?:{'|'.join(map(re.escape, _STYLES))})\x00")


def _compile(template: jinja2.Template, values: Values, shape: Shape) -> _Form | None:
    """The form of ``values``' set of empty values, or None when the template does not
    render markers in place of the values as they are."""
    keys = tuple(name for name, value in values.items() if value)
    forms = [_split(template, values, shape, keys, style) for style in _STYLES]
    first = forms[0]
    if first is None or any(f is None or (f.parts, f.slots) != (first.parts, first.slots)
                            for f in forms[1:]):
        return None
    return first


def _split(template: jinja2.Template, values: Values, shape: Shape,
           keys: tuple[str, ...], style: str) -> _Form | None:
    markers: dict[str, str] = {}
    for name, value in values.items():
        if not value:
            markers[name] = value
            continue
        marker = f"\x00{keys.index(name)}{style}\x00"
        markers[name] = Markup(marker) if isinstance(value, Markup) else marker  # noqa: S704 (a marker)
    try:
        output = template.render(shape(markers))
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError):
        return None
    pieces = _MARKER.split(output)
    parts: list[str] = []
    slots: list[tuple[int, int]] = []
    for i, piece in enumerate(pieces):
        if i % 2:
            if int(piece) >= len(keys):
                return None
            slots.append((len(parts), int(piece)))
            parts.append("")
        elif "\x00" in piece:
            return None  # a marker the template changed
        else:
            parts.append(piece)
    return _Form(keys, parts, slots)
