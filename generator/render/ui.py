"""The web UI's pages: records in, HTML and JSON out (no I/O, no clock).

Pages sit at fixed depths of the site, so every link is relative and the site works
under any prefix:

    /                                  home: repositories and the search box
    /<repo>/                           repository: setup, packages, activity
    /<repo>/packages/<prefix>/         the packages whose name starts with <prefix>
    /<repo>/project/<name>/            package: description, latest files, versions
    /<repo>/project/<name>/<version>/  a version and all of its files
    /<repo>/project/<name>/versions/   every version (only when the package page
                                       cannot list them all)
    /<repo>/search/<c>.json            search shard: [display name, version] rows
    /static/ui.css, /static/ui.js      assets (copied from site/static/)

Absolute URLs appear only in the setup commands, built from the configured
``base_url``. Every description is sanitized HTML from ``generator.render.markup``; every
other value goes through Jinja2's autoescaping (or, on package pages, the same
``markupsafe.escape`` in ``generator.render.prefill`` and ``generator.render.fasthtml``).

``UI_VERSION`` names the output format: change it whenever a byte of output would.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup
from packaging.utils import NormalizedName
from packaging.version import Version

from generator.naming import version_sort_key
from generator.records import (
    Activity,
    CooldownAllowance,
    FileRecord,
    ProjectState,
    Repo,
    Source,
)
from generator.render.client_setup import (
    Snippet,
    index_snippets,
    index_url,
    trusted_host,
    upload_snippets,
)
from generator.render.fasthtml import show_time
from generator.render.prefill import Prefilled
from generator.render.simple import dumps, file_url
from generator.render.uiadvisories import (
    AdvisoryView,
    package_advisories_html,
    version_advisories_html,
)
from generator.render.uifiles import VersionView, breakable, file_row, file_table, version_items
from generator.render.uinotices import cooldown_notes, status_note
from generator.resources import templates_dir

# 2: quotes in the package pages' hand-built HTML escaped as the templates escape them
# (``&#39;``, ``&#34;``; was ``html.escape``'s ``&#x27;``, ``&quot;``).
# 3: the package page shows the latest version's files in a table and a versions list;
# a page per version; the home page's facts; the layout for phones.
UI_VERSION = "3"

# From /<repo>/project/<name>/ up to the site root.
PACKAGE_ROOT = "../../../"
# From /<repo>/project/<name>/<version>/ (and .../versions/) up to the site root.
VERSION_ROOT = "../../../../"
_FILES = PACKAGE_ROOT + "files/"
_VERSION_FILES = VERSION_ROOT + "files/"
# The package page lists at most this many files of the latest version and this many
# versions (newest first; all of them on ``<name>/versions/`` when there are more).
FILE_LIMIT = 100
VERSION_LIMIT = 100
# A version page lists at most this many of its files (then links to the index page,
# which lists every file): VERSION_PAGE_BOUND bytes whatever the version.
VERSION_FILE_LIMIT = 250
VERSION_PAGE_BOUND = 600_000
VERSIONS_DIR = "versions"
# What a package page may weigh besides its description, whatever the project's size:
# FILE_LIMIT file rows (at most about 2.2 kB each with a 255-byte file name, 0.8 kB for
# a usual one) and VERSION_LIMIT version lines (at most 0.6 kB, usually 0.2 kB), and the
# page around them (6 kB).
PACKAGE_PAGE_BOUND = 300_000
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
# The values of the package and version pages' templates (generator.render.prefill).
_PACKAGE_VALUES = (
    "summary", "latest", "latest_href", "requires_python", "description", "file_table",
    "more_files", "version_items", "versions_count", "all_versions", "status_note",
    "advisories", "cooldown",
)
_VERSION_VALUES = (
    "version", "date", "count", "plural", "requires_python", "yanked", "prerelease",
    "file_table", "more_files", "status_note", "advisories",
)
# Repositories with at most this many projects list them all on their page.
INLINE_LIMIT = 300
ACTIVITY_LIMIT = 40
# Projects with an affected latest version named on the repository page, at most.
VULNERABLE_LIMIT = 100
# Rows on one page of the package list, and the longest name prefix a page splits by.
PAGE_LIMIT = 500
MAX_PREFIX = 8
_KINDS = {
    "file_added": "added",
    "file_yanked": "yanked",
    "file_unyanked": "un-yanked",
    "file_removed": "removed",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRow:
    """A project in a repository's lists and search shards."""

    name: NormalizedName
    display_name: str
    version: str
    source: str
    summary: str
    updated: str

    def to_json(self) -> list[str]:
        return [self.name, self.display_name, self.version, self.source, self.summary,
                self.updated]

    @classmethod
    def from_json(cls, row: Sequence[str]) -> PackageRow:
        return cls(name=NormalizedName(row[0]), display_name=row[1], version=row[2],
                   source=row[3], summary=row[4], updated=row[5])


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoCard:
    """A repository on the home page."""

    name: str
    description: str
    sources: tuple[Source, ...]
    projects: int
    shards: str
    newest_upload: NewestUpload | None = None
    # The newest day with a snapshot ("" when none yet).
    newest_snapshot: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewestUpload:
    """The newest file added to a repository, for its card on the home page."""

    at: str
    project: str
    display_name: str
    version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixPage:
    """A page of the package list: the projects whose name starts with ``prefix``, or,
    when they are too many for one page, links to longer prefixes (``groups``: prefix
    and count) and the few names no longer than the prefix itself."""

    prefix: str
    rows: tuple[PackageRow, ...]
    groups: tuple[tuple[str, int], ...]


def prefix_pages(rows: Sequence[PackageRow], prefix: str,
                 limit: int | None = None) -> list[PrefixPage]:
    """The pages of the package list below ``prefix`` (``rows`` sorted, all starting with
    it), the page of ``prefix`` first. A page lists at most ``limit`` rows (default
    ``PAGE_LIMIT``), so one change re-renders a bounded page whatever the size of the
    repository."""
    limit = PAGE_LIMIT if limit is None else limit
    if len(rows) <= limit or len(prefix) >= MAX_PREFIX:
        return [PrefixPage(prefix=prefix, rows=tuple(rows), groups=())]
    depth = len(prefix) + 1
    own: list[PackageRow] = []
    grouped: dict[str, list[PackageRow]] = {}
    for row in rows:
        if len(row.name) < depth:
            own.append(row)
        else:
            grouped.setdefault(row.name[:depth], []).append(row)
    pages = [PrefixPage(prefix=prefix, rows=tuple(own),
                        groups=tuple((p, len(g)) for p, g in grouped.items()))]
    for sub, group in grouped.items():
        pages.extend(prefix_pages(group, sub, limit))
    return pages


def shard_key(name: str) -> str:
    """The search shard and letter page of a normalized project name: its first character."""
    return name[:1]


@functools.lru_cache(maxsize=1 << 16)
def _version_info(version: str) -> tuple[tuple[int, Version | str], bool]:
    """(sort key, is a pre-release) of a version string; cached: a full generation asks
    about the same few thousand strings a million times."""
    key = version_sort_key(version)
    return key, isinstance(key[1], Version) and key[1].is_prerelease


def is_prerelease(version: str) -> bool:
    return _version_info(version)[1]


def _newest_first(versions: Iterable[str]) -> list[str]:
    return sorted(versions, key=lambda v: _version_info(v)[0], reverse=True)


def latest_version(files: Iterable[FileRecord]) -> str:
    """The version a package page leads with, as PyPI picks it: the newest final release
    that is not yanked, else the newest not yanked, else the newest."""
    versions: dict[str, bool] = {}
    for f in files:
        versions[f.version] = versions.get(f.version, True) and f.yanked
    ordered = _newest_first(versions)
    for candidates in (
        [v for v in ordered if not versions[v] and not is_prerelease(v)],
        [v for v in ordered if not versions[v]],
        ordered,
    ):
        if candidates:
            return candidates[0]
    return ""


def description_file(files: Iterable[FileRecord], version: str) -> FileRecord | None:
    """The file whose metadata describes ``version``: a wheel with PEP 658 metadata, else
    an sdist (its PKG-INFO), each in filename order."""
    chosen = [f for f in files if f.version == version]
    wheels = sorted((f for f in chosen if f.metadata_sha256), key=lambda f: f.filename)
    sdists = sorted((f for f in chosen if f.packagetype == "sdist"), key=lambda f: f.filename)
    for found in (wheels, sdists):
        if found:
            return found[0]
    return None


def package_row(project: ProjectState, summary: str, latest: str | None = None) -> PackageRow:
    """The project's row in lists and search; ``latest`` is its ``latest_version`` when the
    caller has it already."""
    return PackageRow(
        name=project.name,
        display_name=project.display_name,
        version=latest_version(project.files) if latest is None else latest,
        source=project.source,
        summary=summary,
        updated=max((f.upload_time for f in project.files), default="")[:10],
    )


def version_anchor(version: str) -> str:
    return "v-" + quote(version, safe="")


def search_shard(rows: Iterable[PackageRow]) -> bytes:
    """A search shard: ``{"projects": [[display name, version], ...]}`` in name order."""
    return dumps({"projects": [[r.display_name, r.version] for r in rows]})


def shard_data(rows: Iterable[PackageRow]) -> bytes:
    """The rows of one shard as the generator keeps them (hidden, for later updates)."""
    return dumps({"version": UI_VERSION, "rows": [r.to_json() for r in rows]})


def read_shard_data(data: bytes) -> list[PackageRow]:
    """Rows written by ``shard_data``; ``ValueError`` if they are of another format."""
    document = json.loads(data)
    if document.get("version") != UI_VERSION:
        raise ValueError("shard data of another format")
    return [PackageRow.from_json(r) for r in document["rows"]]


class UiRenderer:
    """Renders the web UI with the templates in ``directory``/ui."""

    def __init__(self, directory: Path | None = None) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory or templates_dir()),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
            # Templates never change while a generation runs: no stat() of each
            # extended or imported template on every page.
            auto_reload=False,
        )
        self.env.filters["url_parts"] = _url_parts
        self.env.filters["breakable"] = _breakable
        self._home = self.env.get_template("ui/home.html")
        self._repo = self.env.get_template("ui/repo.html")
        # A page per project: rendered by a join, not a template run (generator.render.prefill).
        self._package = Prefilled(self.env.get_template("ui/package.html"))
        self._version = Prefilled(self.env.get_template("ui/version.html"))
        self._versions = self.env.get_template("ui/versions.html")
        self._letter = self.env.get_template("ui/letter.html")

    def home_html(self, repos: Sequence[RepoCard]) -> bytes:
        search = [{"name": r.name, "shards": r.shards} for r in repos if r.shards]
        return self._home.render(
            root="", repos=repos,
            search_repos=json.dumps(search, sort_keys=True, separators=(",", ":")),
        ).encode()

    def repo_html(
        self, *, repo: Repo, sources: Sequence[Source], base_url: str, projects: int,
        shards: str, rows: Sequence[PackageRow] | None, activity: Sequence[Activity],
        vulnerable: Sequence[str] | None = None,
        cooldown: str = "", allowances: Sequence[CooldownAllowance] = (),
    ) -> bytes:
        """The repository page; ``rows`` is the whole package list when it is short;
        ``vulnerable`` the projects whose latest version an advisory affects (None:
        no vulnerability data, nothing said); ``cooldown`` says the repository's
        cooldown (empty: none) and ``allowances`` are the releases let in early."""
        url = index_url(base_url, repo.name)
        uploads = [
            (s, upload_snippets(base_url, s.name)) for s in sources if s.type == "local-python"
        ]
        return self._repo.render(
            root="../", repo=repo, sources=sources, index_url=url,
            latest_url=url, base_index=f"{base_url}{repo.name}/",
            trusted=trusted_host(url), snippets=index_snippets(url, repo.name),
            uploads=uploads, projects=projects, shards=shards, rows=rows,
            activity=[(a, _KINDS.get(a.kind, a.kind), show_time(a.at)) for a in activity],
            search_repos=json.dumps([{"name": repo.name, "shards": shards}],
                                    separators=(",", ":")),
            vulnerable=vulnerable, vulnerable_shown=(vulnerable or ())[:VULNERABLE_LIMIT],
            cooldown=cooldown,
            allowances=[(a, show_time(a.allowed_at)) for a in allowances],
        ).encode()

    def prefix_html(self, repo: Repo, page: PrefixPage, shards: str) -> bytes:
        """A page of the package list (``/<repo>/packages/<prefix>/``)."""
        parents = [page.prefix[:i] for i in range(1, len(page.prefix))]
        return self._letter.render(
            root="../../../", repo=repo, page=page, parents=parents, shards=shards,
            letter=page.prefix[:1],
        ).encode()

    def package_html(
        self, *, repo: Repo, project: ProjectState, summary: str, description: str,
        base_url: str, latest: str | None = None,
        versions: Sequence[VersionFiles] | None = None,
        advisories: Mapping[str, Sequence[AdvisoryView]] | None = None,
    ) -> bytes:
        """A package page; ``description`` must be sanitized HTML (``generator.render.markup``);
        ``latest`` is the project's ``latest_version`` and ``versions`` its
        ``versions_of`` when the caller has them already; ``advisories`` the advisories
        affecting each version (only versions with some).

        Besides the description, the page holds at most ``FILE_LIMIT`` file rows (of the
        latest version) and ``VERSION_LIMIT`` version lines: ``PACKAGE_PAGE_BOUND``."""
        if versions is None:
            versions = versions_of(project)
        if latest is None:
            latest = latest_version(project.files)
        files = next((v.files for v in versions if v.version == latest), ())
        requires = sorted({f.requires_python for f in files if f.requires_python})
        url, trust = _install_target(base_url, repo.name)
        latest_dir = version_dir(latest)
        latest_href = version_href(latest) if latest_dir else ""
        shown = files[:FILE_LIMIT]
        more_files = ""
        if len(files) > len(shown):
            more_files = f"{len(shown)} of the {len(files)} files of {latest} shown"
            if latest_href:
                more_files += ": see its page"
        listed = versions[:VERSION_LIMIT]
        values = {
            "name": project.name, "display_name": project.display_name,
            "source": project.source, "summary": summary, "latest": latest,
            "latest_href": latest_href, "requires_python": ", ".join(requires),
            "description": Markup(description),  # noqa: S704 (sanitized by generator.render.markup)
            # The hot loops of a full generation, built by generator.render.uifiles.
            "file_table": Markup(file_table(  # noqa: S704 (escaped there)
                [file_row(f, file_url(_FILES, f)) for f in shown])),
            "more_files": more_files,
            "version_items": Markup(version_items(  # noqa: S704 (escaped there)
                [_version_view(v, "", advisories) for v in listed])),
            "versions_count": str(len(versions)),
            "all_versions": str(len(versions)) if len(versions) > len(listed) else "",
            "status_note": status_note(project),
            "advisories": _package_advisories(latest, versions, advisories),
            "cooldown": cooldown_notes(project.cooldown),
        }

        def shape(v: Mapping[str, str]) -> dict[str, object]:
            return {
                "root": PACKAGE_ROOT, "repo": repo, "index_url": url,
                "project": _ProjectFields(v["name"], v["display_name"], v["source"]),
                **{k: v[k] for k in _PACKAGE_VALUES},
                "install": Snippet(id="install", title="Install", where="shell",
                                   text=f"pip install --index-url {url}{trust} "
                                        f"{v['display_name']}"),
            }

        return self._package.render((repo, base_url), values, shape).encode()

    def version_pages(
        self, *, repo: Repo, project: ProjectState, base_url: str,
        versions: Sequence[VersionFiles],
        advisories: Mapping[str, Sequence[AdvisoryView]] | None = None,
    ) -> list[tuple[str, bytes]]:
        """The page of each version that has one (``version_dir``): (directory, HTML),
        newest first. A page lists its version's files (a row of ``file_row``; at most
        ``VERSION_FILE_LIMIT``, then a link to the index page) and depends on nothing else: a new release rewrites no older version's page."""
        url, trust = _install_target(base_url, repo.name)
        pages = []
        for v in versions:
            directory = version_dir(v.version)
            if directory is None:
                continue
            requires = sorted({f.requires_python for f in v.files if f.requires_python})
            shown = v.files[:VERSION_FILE_LIMIT]
            values = {
                "name": project.name, "display_name": project.display_name,
                "source": project.source, "version": v.version, "date": v.date,
                "count": str(len(v.files)), "plural": "" if len(v.files) == 1 else "s",
                "requires_python": ", ".join(requires),
                "yanked": "yes" if v.yanked else "",
                "prerelease": "yes" if v.prerelease else "",
                "file_table": Markup(file_table(  # noqa: S704 (escaped there)
                    [file_row(f, file_url(_VERSION_FILES, f)) for f in shown])),
                "more_files": f"{len(shown)} of the {len(v.files)} files shown"
                if len(v.files) > len(shown) else "",
                "status_note": status_note(project),
                "advisories": Markup(version_advisories_html(  # noqa: S704 (escaped there)
                    v.version, (advisories or {}).get(v.version, ()))),
            }

            def shape(v: Mapping[str, str]) -> dict[str, object]:
                return {
                    "root": VERSION_ROOT, "repo": repo,
                    "project": _ProjectFields(v["name"], v["display_name"], v["source"]),
                    **{k: v[k] for k in _VERSION_VALUES},
                    "install": Snippet(id="install", title="Install this version",
                                       where="shell",
                                       text=f"pip install --index-url {url}{trust} "
                                            f"{v['display_name']}=={v['version']}"),
                }

            pages.append((directory, self._version.render((repo, base_url), values, shape).encode()))
        return pages

    def versions_html(self, *, repo: Repo, project: ProjectState,
                      versions: Sequence[VersionFiles],
                      advisories: Mapping[str, Sequence[AdvisoryView]] | None = None) -> bytes:
        """The list of all versions (``<name>/versions/``), for a project with more than
        the package page lists."""
        return self._versions.render(
            root=VERSION_ROOT, repo=repo, project=project, count=len(versions),
            items=Markup(version_items(  # noqa: S704 (escaped there)
                [_version_view(v, "../", advisories) for v in versions])),
        ).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionFiles:
    """A version of a project and its files in filename order."""

    version: str
    date: str
    yanked: bool
    prerelease: bool
    files: tuple[FileRecord, ...]


def versions_of(project: ProjectState) -> list[VersionFiles]:
    """The project's versions, newest first."""
    by_version: dict[str, list[FileRecord]] = {}
    for f in project.files:
        by_version.setdefault(f.version, []).append(f)
    out = []
    for version in _newest_first(by_version):
        files = by_version[version]
        if len(files) > 1:
            files.sort(key=_filename)
        out.append(VersionFiles(
            version=version, date=min([f.upload_time for f in files])[:10],
            yanked=all([f.yanked for f in files]), prerelease=is_prerelease(version),
            files=tuple(files),
        ))
    return out


def version_dir(version: str) -> str | None:
    """The directory of a version's page below its package page, or None when the
    version (a legacy one) is no safe path segment: ASCII letters, digits and
    ``._+!-``, starting with a letter or digit, and not ``versions`` (the full list)."""
    if len(version) > 128 or version == VERSIONS_DIR or _SAFE_SEGMENT.fullmatch(version) is None:
        return None
    return version


def version_href(version: str) -> str:
    """A version page's URL relative to its package page."""
    return quote(version, safe="+!") + "/"


def _version_view(
    v: VersionFiles, up: str, advisories: Mapping[str, Sequence[AdvisoryView]] | None = None,
) -> VersionView:
    return VersionView(
        version=v.version, href=up + version_href(v.version) if version_dir(v.version) else "",
        anchor=version_anchor(v.version), date=v.date, yanked=v.yanked,
        prerelease=v.prerelease, files=len(v.files),
        advisories=tuple(a.id for a in (advisories or {}).get(v.version, ())),
    )


def _package_advisories(
    latest: str, versions: Sequence[VersionFiles],
    advisories: Mapping[str, Sequence[AdvisoryView]] | None,
) -> str:
    """The package page's vulnerability section ("" when no version is affected)."""
    if not advisories:
        return ""
    views: dict[str, AdvisoryView] = {}
    affected: dict[str, list[str]] = {}
    for v in versions:  # newest first
        for view in advisories.get(v.version, ()):
            views.setdefault(view.id, view)
            affected.setdefault(view.id, []).append(v.version)
    return Markup(package_advisories_html(  # noqa: S704 (escaped there)
        latest, [views[i] for i in sorted(views)], affected))


@dataclass(frozen=True, slots=True)
class _ProjectFields:
    """What a package page's template may print of its project (``generator.render.prefill``)."""

    name: str
    display_name: str
    source: str


def _filename(f: FileRecord) -> str:
    return f.filename


@functools.lru_cache(maxsize=64)
def _install_target(base_url: str, repo: str) -> tuple[str, str]:
    """A repository's index URL and the ``--trusted-host`` option it needs (or "")."""
    url = index_url(base_url, repo)
    host = trusted_host(url)
    return url, f" --trusted-host {host}" if host else ""


def _breakable(text: str) -> Markup:
    """A file name that wraps between its parts (``generator.render.uifiles.breakable``)."""
    return Markup(breakable(text))  # noqa: S704 (escaped there)


def _url_parts(text: str, url: str) -> list[tuple[str, bool]]:
    """``text`` cut around each occurrence of ``url``: (piece, is_url) pairs, for templates
    that mark the URL so the page's script can replace it."""
    pieces = text.split(url)
    out: list[tuple[str, bool]] = []
    for i, piece in enumerate(pieces):
        if piece:
            out.append((piece, False))
        if i < len(pieces) - 1:
            out.append((url, True))
    return out
