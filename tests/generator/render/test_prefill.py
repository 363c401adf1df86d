"""Prefilled templates: every page is byte for byte the template's own render."""

from __future__ import annotations

from collections.abc import Mapping

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from generator.render.prefill import Prefilled, Shape

ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

PAGE = (
    "<h1 title=\"{{ a }}\">{{ a }}</h1>{% if b %}<p>{{ b }}</p>{% else %}<p>none</p>"
    "{% endif %}<div>{{ html }}</div>{{ a }}"
)


def _shape(values: Mapping[str, str]) -> dict[str, object]:
    return dict(values)


def _render_all(source: str, pages: list[dict[str, str]]) -> list[str]:
    template = ENV.from_string(source)
    prefilled = Prefilled(template)
    return [prefilled.render("k", page, _shape) for page in pages]


def _expected(source: str, pages: list[dict[str, str]]) -> list[str]:
    template = ENV.from_string(source)
    return [template.render(page) for page in pages]


_text = st.text(alphabet="ab <>&'\"\x00BZ9", max_size=8)


@settings(max_examples=200, deadline=None)
@given(pages=st.lists(st.fixed_dictionaries({
    "a": _text, "b": _text, "html": _text.map(Markup),
}), min_size=1, max_size=6))
def test_a_prefilled_page_is_the_rendered_page(pages: list[dict[str, str]]) -> None:
    assert _render_all(PAGE, pages) == _expected(PAGE, pages)


@pytest.mark.parametrize("source", [
    "<p>{{ a | upper }}</p>",
    "<p>{{ a | lower }}</p>",
    "<p>{{ a | length }}</p>",
    "<p>{{ a[:2] }}</p>",
    "<p>{{ a | replace('a', 'x') }}</p>",
    "<p>{{ a | truncate(9, True, '') }}</p>",
    "<p>{{ a }}{{ a | wordcount }}</p>",
    "<ul>{% for c in a %}<li>{{ c }}</li>{% endfor %}</ul>",
], ids=["upper", "lower", "length", "slice", "replace", "truncate", "wordcount", "loop"])
def test_a_template_that_transforms_a_value_renders_through_jinja(source: str) -> None:
    # The first page alone would not tell the form is wrong ("AB" is its own upper case).
    pages = [{"a": "AB"}, {"a": "ab"}, {"a": "a much longer value"}, {"a": "b"}]
    assert _render_all(source, pages) == _expected(source, pages)


def test_context_only_a_real_render_gets_keeps_its_template_on_jinja() -> None:
    template = ENV.from_string("<p>{{ a }}</p>{% for v in items %}<i>{{ v }}</i>{% endfor %}")
    prefilled = Prefilled(template)
    first = prefilled.render("k", {"a": "x"}, _shape, {"items": [1]})
    second = prefilled.render("k", {"a": "y"}, _shape, {"items": [2, 3]})
    assert (first, second) == ("<p>x</p><i>1</i>", "<p>y</p><i>2</i><i>3</i>")


def test_each_key_has_its_own_form() -> None:
    template = ENV.from_string("{{ repo }}:{{ a }}")
    prefilled = Prefilled(template)

    def shape_of(repo: str) -> Shape:
        return lambda v: {"repo": repo, **v}

    assert prefilled.render("one", {"a": "x"}, shape_of("one")) == "one:x"
    assert prefilled.render("two", {"a": "y"}, shape_of("two")) == "two:y"
    assert prefilled.render("one", {"a": "z"}, shape_of("one")) == "one:z"
