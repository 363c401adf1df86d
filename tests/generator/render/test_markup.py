"""Descriptions within bounds: what is never formatted, and that rendering never raises."""

from __future__ import annotations

import pytest
import readme_renderer.markdown
import readme_renderer.rst

import generator.render.markup
from generator.render.markup import (
    MAX_NESTING,
    nesting_depth,
    plain_description,
    render_description,
)

NOTE = '<p class="description-note">This description is shown as plain text: '


def _indented_paragraphs(count: int) -> str:
    """reStructuredText whose every paragraph is indented one more space: a block quote
    inside the last, ``count`` deep (docutils raised RecursionError at 400)."""
    return "\n\n".join(" " * level + f"paragraph {level}" for level in range(count))


@pytest.mark.parametrize(
    ("content_type", "text", "reason"),
    [
        ("text/x-rst", _indented_paragraphs(400), "it nests more than 48 levels deep"),
        ("", _indented_paragraphs(60), "it nests more than 48 levels deep"),
        ("text/markdown", "> " * 60000 + "x", "it nests more than 48 levels deep"),
        ("text/markdown", "- " * 500 + "x", "it nests more than 48 levels deep"),
        ("text/markdown", "\n".join("  " * i + "1. item" for i in range(200)),
         "it nests more than 48 levels deep"),
        ("text/markdown", "\t" * 100 + "x\n" + "\n".join("\t" * i + "> y" for i in range(60)),
         "it nests more than 48 levels deep"),
        ("text/x-rst", "word " * 110_000, "it is longer than 512 KiB"),
    ],
    ids=["rst-400-levels", "rst-60-levels", "markdown-60000-quotes", "markdown-500-list-items",
         "markdown-200-numbered-levels", "markdown-tab-indented", "longer-than-512k"],
)
def test_descriptions_beyond_the_bounds_are_plain_text_with_a_note(
    content_type: str, text: str, reason: str
) -> None:
    rendered = render_description(text, content_type)
    note = rendered.partition("\n")[0]
    assert note.startswith(NOTE[:-2]), rendered[:200]
    assert note.endswith(f": {reason}.</p>"), note
    assert "<blockquote>" not in rendered
    assert "<li>" not in rendered


def test_nesting_just_within_the_bound_is_formatted() -> None:
    assert "<blockquote>" in render_description(_indented_paragraphs(MAX_NESTING), "text/x-rst")
    quoted = render_description("> " * (MAX_NESTING - 1) + "x", "text/markdown")
    assert quoted.count("<blockquote>") == MAX_NESTING - 1


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("plain", 0),
        ("a\n  b\n    c\n  d\ne", 2),
        ("> > x", 2),
        ("- a\n  - b\n    - c", 3),
        ("1. x\n2) y", 1),
        ("-not a list\n*emphasis*", 0),
        ("\tcode\n\t\tmore", 2),
        ("\n\n   \n", 0),
    ],
    ids=["flat", "indent-stack", "quotes", "nested-list", "numbered", "not-markers", "tabs",
         "blank"],
)
def test_nesting_depth(text: str, depth: int) -> None:
    assert nesting_depth(text, 1000) == depth


def test_nesting_depth_stops_counting_at_the_bound() -> None:
    assert nesting_depth("> " * 1_000_000, 10) == 10


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (RecursionError("maximum recursion depth exceeded"), "it is nested too deeply to format"),
        (IndexError("list index out of range"), "its markup could not be formatted"),
        (ValueError("bad"), "its markup could not be formatted"),
    ],
    ids=["recursion", "renderer-bug", "value-error"],
)
def test_a_renderer_that_raises_gives_plain_text(
    monkeypatch: pytest.MonkeyPatch, error: Exception, reason: str
) -> None:
    def broken(text: str, **_kwargs: object) -> str:
        raise error

    monkeypatch.setattr(readme_renderer.rst, "render", broken)
    monkeypatch.setattr(readme_renderer.markdown, "render", broken)
    for content_type in ("text/x-rst", "text/markdown"):
        rendered = render_description("Some <b>text</b>", content_type)
        assert rendered.startswith(NOTE + reason), rendered
        assert "Some &lt;b&gt;text&lt;/b&gt;" in rendered


def test_a_description_that_renders_too_large_is_plain_text(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generator.render.markup, "MAX_RENDERED_LENGTH", 1000)
    rendered = render_description("*x* " * 500, "text/markdown")
    assert rendered.startswith(NOTE + "formatted, it would be larger than"), rendered[:200]


def test_the_note_and_the_text_are_escaped() -> None:
    rendered = plain_description("<script>alert(1)</script>", "a <reason>")
    assert "<script>" not in rendered
    assert "a &lt;reason&gt;." in rendered
    assert "&lt;script&gt;" in rendered


def test_plain_text_in_place_of_a_long_description_is_cut() -> None:
    text = "&" * (600 * 1024)
    rendered = render_description(text, "text/markdown")
    assert rendered.startswith(
        '<p class="description-note">This description is shown as plain text (its first '
        "256 KiB): it is longer than 512 KiB.</p>"
    ), rendered[:200]
    assert rendered.count("&amp;") == 256 * 1024
    assert len(rendered) < 2 * 1024 * 1024
