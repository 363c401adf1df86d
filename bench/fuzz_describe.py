"""Coverage-guided fuzzing (atheris, libFuzzer) of description reading and rendering.

Each input's first byte picks the target, the rest is the data:

- 0-5: ``generator.render.markup.render_description`` of the rest (as UTF-8, invalid bytes
  replaced) under one of six ``Description-Content-Type`` values (GFM, CommonMark,
  reStructuredText, none, plain, unknown). Any exception is a crash, and so is output that
  could run script (a ``<script``, an ``on…=`` handler or a ``javascript:`` URL outside
  escaped text): it must be sanitized HTML or escaped plain text.
- 6-7: ``generator.render.markup.read_description`` of the bytes as core metadata, then the
  rendering above of what it found: any exception is a crash.

This fuzzes the pure renderer in-process (the helper processes of
``generator.output.descriptions`` run the same function under a deadline). Give libFuzzer a
``-timeout`` to find inputs that are slow despite the bounds. The seed corpus
(``bench/work/fuzz-describe/seeds``) is real READMEs of each kind and the two hostile
descriptions found by hand. Run from the repository root::

    .venv/bin/python -m bench.fuzz_describe -atheris_runs=1000000 -timeout=10 \
        -max_len=65536 bench/work/fuzz-describe/corpus bench/work/fuzz-describe/seeds

A crash leaves ``crash-<sha1>`` with the input: turn it into a regression test.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

import atheris

# Coverage is traced in timeshelf's and readme_renderer's code only: tracing docutils and
# Pygments too made each execution ten times slower (50 a second), for a property that
# timeshelf's own code has to hold whatever they do.
with atheris.instrument_imports(include=["generator", "readme_renderer"]):
    from generator.render.markup import read_description, render_description

WORK = Path(__file__).resolve().parent / "work" / "fuzz-describe"
CONTENT_TYPES = (
    "text/markdown", "text/markdown; variant=CommonMark", "text/x-rst", "", "text/plain",
    "text/x-unknown",
)
_ACTIVE_TAGS = frozenset({"script", "iframe", "object", "embed", "style", "form", "base", "meta"})
_ACTIVE_SCHEMES = ("javascript:", "data:", "vbscript:")
SEEDS = {
    "markdown": b"\0# Title\n\nSome *emphasis*, `code`, a [link](docs/).\n\n"
                b"| a | b |\n|---|---|\n| 1 | 2 |\n\n> quoted\n\n- one\n  - two\n",
    "rst": b"\2Title\n=====\n\nSome *emphasis* and ``literal``.\n\n.. code-block:: python\n\n"
           b"   print(1)\n\n* one\n\n  * two\n",
    "plain": b"\4line 1\nline <2>\n",
    "nested-rst": b"\2" + "\n\n".join(" " * i + f"p{i}" for i in range(60)).encode(),
    "nested-markdown": b"\0" + b"> " * 100 + b"x",
    "metadata": b"\6Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
                b"Description-Content-Type: text/markdown\n\n# Demo\n\n<script>x</script>\n",
}


class _Inert(HTMLParser):
    """Fails on any tag or attribute of the rendered HTML that could run script."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE_TAGS:
            raise AssertionError(f"<{tag}> in a rendered description")
        for key, value in attrs:
            if key.startswith("on"):
                raise AssertionError(f"<{tag} {key}=...> in a rendered description")
            if key in ("href", "src", "action") and (value or "").strip().lower().startswith(
                _ACTIVE_SCHEMES
            ):
                raise AssertionError(f"<{tag} {key}={value!r}> in a rendered description")


def check(html: str) -> None:
    parser = _Inert()
    parser.feed(html)
    parser.close()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    target, body = data[0] % 8, data[1:]
    if target < 6:
        check(render_description(body.decode("utf-8", "replace"), CONTENT_TYPES[target]))
        return
    described = read_description(body)
    if described is not None:
        check(render_description(described.text, described.content_type))


def main() -> None:
    seeds = WORK / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (seeds / name).write_bytes(data)
    (WORK / "corpus").mkdir(exist_ok=True)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
