"""The hand-built HTML of the hot loops (``generator.render.fasthtml``) is, byte for byte,
what Jinja2's autoescaping templates make of the same records.

The reference is the template loop the fast code replaced: the Simple project page is
compared whole (the real ``templates/simple/project.html`` with its loop put back). The
web UI's tables are held to theirs in ``test_uifiles.py``.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import NormalizedName

from generator.records import PROJECT_STATUSES, FileRecord, ProjectState, ProjectStatus
from generator.render.fasthtml import escape, human_size
from generator.render.simple import PROJECT_FILES_PREFIX, Renderer, file_url

_ENV = jinja2.Environment(
    autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)

# templates/simple/project.html with the loop it held before the loop moved into Python.
SIMPLE_LOOP = (
    "{% for f in files %}\n"
    '    <a href="{{ f.href }}"{% if f.requires_python %} data-requires-python="{{ f.requires_python }}"{% endif %}{% if f.yanked %} data-yanked="{{ f.yanked_reason }}"{% endif %}{% if f.metadata_sha256 %} data-core-metadata="sha256={{ f.metadata_sha256 }}" data-dist-info-metadata="sha256={{ f.metadata_sha256 }}"{% endif %} data-gpg-sig="{{ \'true\' if f.has_signature else \'false\' }}">{{ f.filename }}</a><br>\n'
    "{% endfor %}\n"
    "  </body>"
)
_TEMPLATE = Path(__file__).resolve().parents[3] / "templates" / "simple" / "project.html"


def _simple_project_reference() -> jinja2.Template:
    text = _TEMPLATE.read_text()
    if "{{ links }}  </body>" not in text:
        raise AssertionError(f"{_TEMPLATE} no longer places {{{{ links }}}} before </body>")
    return _ENV.from_string(text.replace("{{ links }}  </body>", SIMPLE_LOOP))


SIMPLE_PROJECT = _simple_project_reference()

# Every character HTML escaping changes, beside non-ASCII and the values real files have.
_HOSTILE = "ab1.-_ <>&'\"é☃"
_texts = st.one_of(
    st.text(alphabet=_HOSTILE, max_size=12),
    st.text(max_size=8),
    st.sampled_from(["demo-1.0.tar.gz", ">=3.9", "", "2026-03-01T12:00:00.000000Z"]),
)
_filenames = st.one_of(
    st.text(alphabet=_HOSTILE, min_size=1, max_size=16),
    st.sampled_from(["demo-1.0.tar.gz", "demo-1.0-py3-none-any.whl", "d é-1.0.zip"]),
)
_hashes = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.text(alphabet=_HOSTILE, min_size=64, max_size=64),
)
_files = st.builds(
    FileRecord,
    filename=_filenames,
    version=st.sampled_from(["1.0", "2.0b1", "0.9", "1!2.0", "1.0+local.é"]),
    packagetype=st.sampled_from(["sdist", "bdist_wheel"]),
    sha256=_hashes,
    blake2_256=st.just("cd" * 32),
    size=st.integers(0, 10**12),
    requires_python=st.one_of(st.none(), _texts),
    upload_time=_texts,
    metadata_sha256=st.one_of(st.none(), _hashes, _texts),
    has_signature=st.booleans(),
    yanked=st.booleans(),
    yanked_reason=_texts,
)


def _simple_view(f: FileRecord) -> dict[str, object]:
    return {
        "href": f"{file_url(PROJECT_FILES_PREFIX, f)}#sha256={f.sha256}",
        "requires_python": f.requires_python, "yanked": f.yanked,
        "yanked_reason": f.yanked_reason, "metadata_sha256": f.metadata_sha256,
        "has_signature": f.has_signature, "filename": f.filename,
    }


_statuses = st.builds(ProjectStatus, status=st.sampled_from(PROJECT_STATUSES), reason=_texts)


@settings(max_examples=300, deadline=None)
@given(files=st.lists(_files, max_size=5, unique_by=lambda f: f.filename),
       display=_texts.filter(bool), status=_statuses)
def test_a_simple_project_page_is_the_templates(
    files: list[FileRecord], display: str, status: ProjectStatus
) -> None:
    project = ProjectState(name=NormalizedName("demo"), display_name=display,
                           source="local", serial=1, files=tuple(files), status=status)
    # PEP 792: a quarantined project's page lists no files.
    listed = [] if status.status == "quarantined" else files
    expected = SIMPLE_PROJECT.render(
        api_version="1.4", display_name=display, status=status.status,
        status_reason=status.reason,
        files=[_simple_view(f) for f in sorted(listed, key=lambda f: f.filename)],
    ).encode()
    assert Renderer().project_html(project, PROJECT_FILES_PREFIX) == expected


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("plain", "plain"), ("'", "&#39;"), ('"', "&#34;"), ("<&>", "&lt;&amp;&gt;"),
     ("é☃", "é☃")],
    ids=["nothing", "apostrophe", "quote", "markup", "non-ascii"],
)
def test_escape_is_autoescapes(text: str, escaped: str) -> None:
    assert escape(text) == escaped == str(_ENV.from_string("{{ t }}").render(t=text))


@pytest.mark.parametrize(("size", "shown"), [(0, "0 bytes"), (999, "999 bytes"),
                                             (12_345, "12.3 kB"), (4_100_000, "4.1 MB")])
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown
