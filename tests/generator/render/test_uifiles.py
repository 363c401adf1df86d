"""The web UI's hand-built file tables and version lists (``generator.render.uifiles``)
are, byte for byte, what Jinja2's autoescaping templates make of the same records."""

from __future__ import annotations

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from generator.records import FileRecord
from generator.render.fasthtml import human_size, show_time
from generator.render.simple import file_url
from generator.render.ui import PACKAGE_ROOT, version_anchor
from generator.render.uifiles import VersionView, breakable, file_row, file_table, version_items
from tests.generator.render.test_fasthtml import _files, _texts

_ENV = jinja2.Environment(
    autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["breakable"] = lambda text: Markup(breakable(text))  # noqa: S704

FILE_ROWS = _ENV.from_string("""\
{% for f in files %}
<tr{% if f.yanked %} class="is-yanked"{% endif %}><td class="file-cell"><a class="file-name" href="{{ f.href }}">{{ f.filename | breakable }}</a> <span class="tag">{{ f.kind }}</span>{% if f.signature %} <a class="signed" href="{{ f.signature }}" title="OpenPGP signature uploaded with the file (.asc)">SIGNED</a>{% endif %}{% if f.yanked %} <span class="tag tag-yanked">yanked</span><span class="yank-reason">Yank reason: {{ f.yanked_reason or "none given" }}</span>{% endif %}</td><td data-label="Size"><span{% if f.size >= 1000 %} title="{{ f.size }} bytes"{% endif %}>{{ f.shown_size }}</span></td><td data-label="Uploaded"><time>{{ f.uploaded }}</time></td><td data-label="Requires-Python">{{ f.requires_python or "" }}</td><td data-label="Hashes"><details><summary>SHA256</summary><code class="hash">{{ f.sha256 }}</code></details></td></tr>
{% endfor %}
""")
VERSION_ITEMS = _ENV.from_string("""\
{% for v in versions %}
<li id="{{ v.anchor }}">{% if v.href %}<a href="{{ v.href }}">{{ v.version }}</a>{% else %}{{ v.version }}{% endif %}{% if v.prerelease %} <span class="tag">pre-release</span>{% endif %}{% if v.yanked %} <span class="tag tag-yanked">yanked</span>{% endif %}{% if v.advisories %} <span class="tag tag-vulnerable" title="{{ v.advisories | join(", ") }}">vulnerable</span>{% endif %} <time>{{ v.date }}</time> <span class="meta">{{ v.files }} file{{ "" if v.files == 1 else "s" }}</span></li>
{% endfor %}
""")
FILES = PACKAGE_ROOT + "files/"


def _view(f: FileRecord) -> dict[str, object]:
    url = file_url(FILES, f)
    return {
        "href": f"{url}#sha256={f.sha256}", "filename": f.filename, "yanked": f.yanked,
        "kind": "wheel" if f.packagetype == "bdist_wheel" else "sdist",
        "signature": f"{url}.asc" if f.has_signature else "", "size": f.size,
        "shown_size": human_size(f.size), "uploaded": show_time(f.upload_time),
        "requires_python": f.requires_python, "sha256": f.sha256,
        "yanked_reason": f.yanked_reason,
    }


@settings(max_examples=300, deadline=None)
@given(files=st.lists(_files, max_size=4))
def test_file_rows_are_the_templates(files: list[FileRecord]) -> None:
    rows = [file_row(f, file_url(FILES, f)) for f in files]
    assert "".join(rows) == FILE_ROWS.render(files=[_view(f) for f in files])
    assert file_table(rows).count("<tr>") + file_table(rows).count('<tr class') == len(rows) + 1


@settings(max_examples=300, deadline=None)
@given(versions=st.lists(st.builds(
    VersionView, version=st.sampled_from(["1.0", "2.0b1", "1.0+é'x", "<1>", '"2"']),
    href=st.one_of(st.just(""), _texts), anchor=_texts, date=_texts,
    yanked=st.booleans(), prerelease=st.booleans(), files=st.integers(0, 3),
    advisories=st.lists(st.sampled_from(["PYSEC-2026-1", "GHSA-<x>-'y'"]), max_size=2).map(tuple),
), max_size=4))
def test_version_items_are_the_templates(versions: list[VersionView]) -> None:
    assert version_items(versions) == VERSION_ITEMS.render(versions=versions)


def test_a_file_name_wraps_between_its_parts_only() -> None:
    assert breakable("demo_pkg-1.0.tar.gz") == "demo_<wbr>pkg-1.<wbr>0.<wbr>tar.<wbr>gz"
    assert breakable("<x>_y") == "&lt;x&gt;_<wbr>y"
    assert version_anchor("1.0+a") == "v-1.0%2Ba"
