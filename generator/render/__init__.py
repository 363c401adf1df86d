"""Rendering: records in, bytes out, with no I/O and no clock.

Owns the Simple Repository API pages (``simple``: PEP 503 HTML and PEP 691 JSON), the
web UI's pages (``ui``, filled by ``prefill``), the hand-built HTML of their hot loops
(``fasthtml`` for the Simple pages, ``uifiles`` for the UI's file tables and version
lists, escaped as the templates' autoescape escapes), sanitized project
descriptions (``markup``) and the client setup snippets (``client_setup``). The templates
come from ``templates/``. May import ``generator.errors``, ``generator.naming``,
``generator.records``, ``generator.resources`` and the store's key layout
(``generator.storage.store.file_key``); nothing that reads or writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.render.client_setup import (
        Snippet,
        index_snippets,
        index_url,
        trusted_host,
        upload_snippets,
        upload_url,
    )
    from generator.render.fasthtml import escape
    from generator.render.markup import (
        MARKUP_VERSION,
        Description,
        plain_description,
        read_description,
        render_description,
    )
    from generator.render.prefill import Prefilled
    from generator.render.simple import (
        API_VERSION,
        FORMATS,
        HTML_CONTENT_TYPE,
        JSON_CONTENT_TYPE,
        PROJECT_FILES_PREFIX,
        RENDER_VERSION,
        Renderer,
        SimpleFormat,
        dumps,
        file_url,
        project_json,
        root_json,
        simple_format,
    )
    from generator.render.ui import (
        UI_VERSION,
        PackageRow,
        PrefixPage,
        RepoCard,
        UiRenderer,
        description_file,
        latest_version,
        package_row,
        prefix_pages,
        read_shard_data,
        search_shard,
        shard_data,
        shard_key,
    )

__all__ = [
    "API_VERSION",
    "FORMATS",
    "HTML_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "MARKUP_VERSION",
    "PROJECT_FILES_PREFIX",
    "RENDER_VERSION",
    "UI_VERSION",
    "Description",
    "PackageRow",
    "Prefilled",
    "PrefixPage",
    "Renderer",
    "RepoCard",
    "SimpleFormat",
    "Snippet",
    "UiRenderer",
    "description_file",
    "dumps",
    "escape",
    "file_url",
    "index_snippets",
    "index_url",
    "latest_version",
    "package_row",
    "plain_description",
    "prefix_pages",
    "project_json",
    "read_description",
    "read_shard_data",
    "render_description",
    "root_json",
    "search_shard",
    "shard_data",
    "shard_key",
    "simple_format",
    "trusted_host",
    "upload_snippets",
    "upload_url",
]

__getattr__ = lazy_face(__name__, __file__)
