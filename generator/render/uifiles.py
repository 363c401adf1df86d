"""Hand-built HTML of the web UI's file tables and version lists, byte for byte the
templates' (``tests/generator/render/test_uifiles.py`` holds them to the template loops).

A full generation writes a package page and a page per version of every project:
building their per-file HTML in Python is several times faster than a Jinja2 loop. Every
value goes through ``generator.render.fasthtml.escape`` (the templates' autoescape);
callers wrap the result in ``Markup`` for their template.

Each line has a bounded size whatever the project (the numbers the package page's bound
in ``generator.render.ui`` is made of): a file row is about 600 bytes plus twice its
file name and percent-quoted URL (a file name is at most 255 bytes), a version line
about 180 bytes plus three times the version.

Records in, text out: no I/O, no clock. URLs come in already percent-quoted
(``generator.render.simple.file_url``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from generator.records import FileRecord
from generator.render.fasthtml import escape, human_size, show_time

_KIND = ("sdist", "wheel")


def breakable(text: str) -> str:
    """``text`` escaped, with a ``<wbr>`` after each ``_``, ``.`` and ``+``: a narrow
    column wraps a file name between its parts, never inside a word."""
    # Three replaces are several times faster than a regex substitution with a template
    # (no escaped entity holds one of these characters).
    return escape(text).replace("_", "_<wbr>").replace(".", ".<wbr>").replace("+", "+<wbr>")


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionView:
    """A version in a package's versions list."""

    version: str
    # The version's page relative to the package page ("" when it has none).
    href: str
    anchor: str
    date: str
    yanked: bool
    prerelease: bool
    files: int
    # The ids of the advisories affecting the version (``generator.advisories``).
    advisories: tuple[str, ...] = ()


FILE_TABLE_HEAD = (
    '<div class="table-wrap"><table class="files">\n'
    '<thead><tr><th scope="col">File</th><th scope="col">Size</th><th scope="col">Uploaded</th>'
    '<th scope="col">Requires-Python</th><th scope="col">Hashes</th></tr></thead>\n<tbody>\n'
)
FILE_TABLE_TAIL = "</tbody></table></div>\n"


def file_table(rows: Sequence[str]) -> str:
    """A table of files from their rows (``file_row``)."""
    return FILE_TABLE_HEAD + "".join(rows) + FILE_TABLE_TAIL


def file_row(f: FileRecord, url: str) -> str:
    """One file as a row of a file table; ``url`` is the file's relative URL."""
    href = escape(f"{url}#sha256={f.sha256}")
    sha256 = escape(f.sha256)
    size = f.size
    title = f' title="{size} bytes"' if size >= 1000 else ""
    signed = (
        f' <a class="signed" href="{escape(url)}.asc" title="OpenPGP signature '
        'uploaded with the file (.asc)">SIGNED</a>' if f.has_signature else ""
    )
    yanked = (
        ' <span class="tag tag-yanked">yanked</span>'
        f'<span class="yank-reason">Yank reason: {escape(f.yanked_reason or "none given")}</span>'
        if f.yanked else ""
    )
    row = '<tr class="is-yanked">' if f.yanked else "<tr>"
    return (
        f'{row}<td class="file-cell">'
        f'<a class="file-name" href="{href}">{breakable(f.filename)}</a> '
        f'<span class="tag">{_KIND[f.packagetype == "bdist_wheel"]}</span>{signed}{yanked}</td>'
        f'<td data-label="Size"><span{title}>{human_size(size)}</span></td>'
        f'<td data-label="Uploaded"><time>{escape(show_time(f.upload_time))}</time></td>'
        f'<td data-label="Requires-Python">{escape(f.requires_python or "")}</td>'
        f'<td data-label="Hashes"><details><summary>SHA256</summary>'
        f'<code class="hash">{sha256}</code></details></td></tr>\n'
    )


def version_items(versions: Sequence[VersionView]) -> str:
    """The items of a versions list (``<ul class="version-list">``)."""
    out = []
    for v in versions:
        name = escape(v.version)
        tags = (' <span class="tag">pre-release</span>' if v.prerelease else "") + (
            ' <span class="tag tag-yanked">yanked</span>' if v.yanked else ""
        ) + (
            f' <span class="tag tag-vulnerable" title="{escape(", ".join(v.advisories))}">'
            'vulnerable</span>' if v.advisories else ""
        )
        link = f'<a href="{escape(v.href)}">{name}</a>' if v.href else name
        out.append(
            f'<li id="{escape(v.anchor)}">{link}{tags} <time>{escape(v.date)}</time> '
            f'<span class="meta">{v.files} file{"" if v.files == 1 else "s"}</span></li>\n'
        )
    return "".join(out)
