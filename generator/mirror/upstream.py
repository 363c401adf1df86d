"""What an upstream Simple Repository API says, parsed: pages in, records out (no I/O).

Both representations are read: PEP 691 JSON (with PEP 700 ``size``/``upload-time`` and
the private ``_last-serial`` keys PyPI adds) and PEP 503 HTML (with PEP 592 yanks and
PEP 658/714 metadata attributes), each with its PEP 792 project status. A file URL is resolved against the page's own URL, as
pip and uv do. Files the mirror cannot serve are counted, not dropped silently: a file
without a sha256 (content-addressed paths need it) or whose name is not a wheel or an
sdist ``packaging`` can parse, or whose name no store may hold
(``generator.intake.distributions.check_filename``: control characters, over 240 characters);
each skip keeps its reason. Serials (``_last-serial``, ``X-PyPI-Last-Serial``) are 1 to 18
ASCII digits: anything else on a page is an ``UpstreamError`` for that page (a root
entry's bad serial only makes the serial unknown, so the project is fetched).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from packaging.utils import NormalizedName, canonicalize_name

from generator.catalog.status import upstream_status
from generator.clock import format_timestamp, parse_timestamp
from generator.errors import InvalidDistribution, TimeshelfError
from generator.intake.distributions import check_filename
from generator.naming import PackageType, parse_filename
from generator.records import ProjectStatus

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# The Accept header of the mirror: JSON preferred, HTML understood (pip's own choice).
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.1, text/html;q=0.01"
_HEX = frozenset("0123456789abcdef")
# str.isdigit() takes "²" and int() any length up to 4,300 digits: a serial or a length
# is ASCII digits only, and 18 of them fit any real one (PyPI's serial is ~8 digits).
_COUNT = re.compile(r"[0-9]{1,18}")
MAX_COUNT = 10**18 - 1

# Why a listed file is skipped (the sync report counts skips by these).
NO_SHA256 = "no sha256"
BAD_NAME = "a file name no store may hold"
NOT_A_DISTRIBUTION = "not a wheel or sdist of this project"
NO_URL = "no file name or URL"


class UpstreamError(TimeshelfError, ValueError):
    """An upstream page that cannot be read as the Simple Repository API."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedProject:
    """One project of the upstream root listing (``serial`` when the upstream gives one)."""

    name: NormalizedName
    display_name: str
    serial: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    """The upstream root listing and its validators."""

    projects: tuple[ListedProject, ...]
    serial: int | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamFile:
    """One file as the upstream lists it (``url`` absolute)."""

    filename: str
    url: str
    version: str
    packagetype: PackageType
    sha256: str
    blake2_256: str
    size: int | None
    upload_time: str | None
    requires_python: str | None
    yanked: bool
    yanked_reason: str
    metadata_sha256: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectPage:
    """An upstream project page: its files and the validators of the response.

    ``skips`` holds one reason per file the mirror cannot carry (``NO_SHA256``,
    ``BAD_NAME``, ``NOT_A_DISTRIBUTION``, ``NO_URL``).
    """

    name: NormalizedName
    files: tuple[UpstreamFile, ...]
    serial: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    skips: tuple[str, ...] = ()
    # The PEP 792 status the page declares (None: none, which means active).
    status: ProjectStatus | None = None

    @property
    def skipped(self) -> int:
        return len(self.skips)


def parse_count(text: str) -> int | None:
    """The value of ``text`` when it is 1 to 18 ASCII digits, else None."""
    return int(text) if _COUNT.fullmatch(text) else None


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def parse_serial(value: Any, url: str, where: str = "_last-serial") -> int | None:
    """A serial as an upstream gives it (bandersnatch a string, PyPI a number; None:
    absent); ``UpstreamError`` naming ``url`` for anything but 0 to ``MAX_COUNT``."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    if isinstance(value, str) and (parsed := parse_count(value)) is not None:
        return parsed
    raise UpstreamError(
        f"{url}: {where} {_shown(value)} is not a serial: expected 1 to 18 ASCII digits"
    )


def _entry_serial(value: Any, url: str) -> int | None:
    try:
        return parse_serial(value, url)
    except UpstreamError:
        return None  # unknown: the project's page is fetched and its own serial checked


def _load(body: bytes, url: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise UpstreamError(f"{url}: not valid JSON ({e})") from e
    except RecursionError as e:
        # A hostile upstream's '[' * 100000 must fail this page, not the whole sync.
        raise UpstreamError(f"{url}: not valid JSON (nested too deeply)") from e
    if not isinstance(document, dict) or not isinstance(document.get("meta"), dict):
        raise UpstreamError(f"{url}: not a PEP 691 document (no 'meta' object)")
    version = str(document["meta"].get("api-version", ""))
    if not version.startswith("1."):
        raise UpstreamError(
            f"{url}: unsupported API version {version!r} (this mirror reads 1.x)"
        )
    return document


def parse_root_json(body: bytes, url: str) -> Listing:
    """The PEP 691 project list; ``UpstreamError`` if it is not one."""
    document = _load(body, url)
    projects = document.get("projects")
    if not isinstance(projects, list):
        raise UpstreamError(f"{url}: the project list has no 'projects' array")
    listed: dict[NormalizedName, ListedProject] = {}
    for entry in projects:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name = canonicalize_name(entry["name"])
        listed[name] = ListedProject(
            name=name, display_name=entry["name"],
            serial=_entry_serial(entry.get("_last-serial"), url),
        )
    return Listing(
        projects=tuple(listed.values()),
        serial=parse_serial(document["meta"].get("_last-serial"), url),
    )


def _digest(hashes: dict[str, str], name: str) -> str | None:
    value = hashes.get(name)
    if isinstance(value, str) and len(value) == 64 and set(value.lower()) <= _HEX:
        return value.lower()
    return None


def _metadata_hash(value: Any) -> str | None:
    """The sha256 of a PEP 658 ``core-metadata`` value, or None (absent, ``true`` without
    a hash, ``false``): metadata is advertised only when its hash can be checked."""
    if isinstance(value, dict):
        return _digest(value, "sha256")
    return None


def _make_file(
    project: NormalizedName, filename: str, url: str, hashes: dict[str, str],
    size: int | None, upload_time: str | None, requires_python: str | None,
    yanked: Any, metadata: Any,
) -> UpstreamFile | str:
    """The file, or the reason it is skipped."""
    try:
        # The name becomes a path segment below /files/ and a file name in the store.
        check_filename(filename)
    except InvalidDistribution:
        return BAD_NAME
    sha256 = _digest(hashes, "sha256")
    if sha256 is None:
        return NO_SHA256
    try:
        parsed = parse_filename(filename, project)
    except ValueError:
        return NOT_A_DISTRIBUTION
    if parsed.project != project:
        return NOT_A_DISTRIBUTION
    uploaded = None
    if upload_time:
        try:
            uploaded = format_timestamp(parse_timestamp(upload_time))
        except ValueError:
            uploaded = None
    return UpstreamFile(
        filename=filename, url=url, version=parsed.version, packagetype=parsed.packagetype,
        sha256=sha256, blake2_256=_digest(hashes, "blake2b_256") or "",
        size=size if isinstance(size, int) and size >= 0 else None, upload_time=uploaded,
        requires_python=requires_python or None, yanked=bool(yanked) and yanked is not False,
        yanked_reason=yanked if isinstance(yanked, str) else "",
        metadata_sha256=_metadata_hash(metadata),
    )


def parse_project_json(body: bytes, url: str, project: NormalizedName) -> ProjectPage:
    """A PEP 691 project page; ``UpstreamError`` if it is not one."""
    document = _load(body, url)
    entries = document.get("files")
    if not isinstance(entries, list):
        raise UpstreamError(f"{url}: the project page has no 'files' array")
    files: list[UpstreamFile] = []
    skips: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str) \
                or not isinstance(entry.get("url"), str):
            skips.append(NO_URL)
            continue
        hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
        metadata = next(
            (entry[k] for k in ("core-metadata", "dist-info-metadata", "data-dist-info-metadata")
             if k in entry),
            None,
        )
        made = _make_file(
            project, entry["filename"], urljoin(url, entry["url"]), hashes or {},
            entry.get("size"), entry.get("upload-time"), entry.get("requires-python"),
            entry.get("yanked", False), metadata,
        )
        if isinstance(made, str):
            skips.append(made)
        else:
            files.append(made)
    # PEP 792: a top-level ``project-status`` object (the spec's own example once put it
    # in ``meta``: read there too).
    marker = document.get("project-status", document["meta"].get("project-status"))
    status = upstream_status(marker.get("status"), marker.get("reason")) \
        if isinstance(marker, dict) else None
    return ProjectPage(
        name=project, files=tuple(files),
        serial=parse_serial(document["meta"].get("_last-serial"), url), skips=tuple(skips),
        status=status,
    )


class _Anchors(HTMLParser):
    """Collects ``<a>`` elements (attributes and text) and a ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.base: str | None = None
        self.meta: dict[str, str] = {}
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "meta":
            fields = dict(attrs)
            name, content = fields.get("name"), fields.get("content")
            if name and content is not None:
                self.meta.setdefault(name, content)
        elif tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _parse(body: bytes) -> _Anchors:
    parser = _Anchors()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()
    return parser


def _anchors(body: bytes, url: str) -> tuple[list[tuple[dict[str, str | None], str]], str]:
    parser = _parse(body)
    base = urljoin(url, parser.base) if parser.base else url
    return parser.anchors, base


def parse_root_html(body: bytes, url: str) -> Listing:
    """A PEP 503 project list: one anchor per project, its text the name."""
    anchors, _base = _anchors(body, url)
    listed: dict[NormalizedName, ListedProject] = {}
    for _attrs, text in anchors:
        if text:
            name = canonicalize_name(text)
            listed[name] = ListedProject(name=name, display_name=text, serial=None)
    return Listing(projects=tuple(listed.values()))


def _hash_attribute(value: str | None) -> str | None:
    if value is None or "=" not in value:
        return None
    algorithm, _, digest = value.partition("=")
    return _digest({algorithm.lower(): digest}, "sha256")


def parse_project_html(body: bytes, url: str, project: NormalizedName) -> ProjectPage:
    """A PEP 503 project page (PEP 592 ``data-yanked``, PEP 714 ``data-core-metadata``,
    PEP 792 ``pypi:project-status`` meta tags)."""
    parser = _parse(body)
    anchors = parser.anchors
    base = urljoin(url, parser.base) if parser.base else url
    files: list[UpstreamFile] = []
    skips: list[str] = []
    for attrs, _text in anchors:
        href = attrs.get("href")
        if not href:
            continue
        location, fragment = urldefrag(urljoin(base, href))
        filename = unquote(location.rstrip("/").rpartition("/")[2])
        algorithm, _, digest = fragment.partition("=")
        yanked: Any = False
        if "data-yanked" in attrs:
            yanked = attrs["data-yanked"] or True
        metadata = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        made = _make_file(
            project, filename, location, {algorithm.lower(): digest}, None, None,
            attrs.get("data-requires-python"), yanked,
            {"sha256": _hash_attribute(metadata)} if _hash_attribute(metadata) else None,
        )
        if isinstance(made, str):
            skips.append(made)
        else:
            files.append(made)
    status = upstream_status(parser.meta.get("pypi:project-status"),
                             parser.meta.get("pypi:project-status-reason"))
    return ProjectPage(name=project, files=tuple(files), skips=tuple(skips), status=status)


def is_json(content_type: str | None) -> bool:
    """True when a response's ``Content-Type`` is the PEP 691 JSON type."""
    return (content_type or "").split(";")[0].strip().lower() == JSON_TYPE
