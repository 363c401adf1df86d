"""Reading an OSV export: the per-ecosystem zip of OSV JSON files, or a directory of them.

Bounded: at most ``MAX_MEMBERS`` JSON members and ``MAX_TOTAL`` bytes uncompressed
(else ``InvalidExport``, nothing read); a member larger than ``osv.MAX_DOCUMENT`` is
reported malformed (not read). A zip that cannot be read to its end (not a zip, a
truncated one, a bad CRC, a bad deflate stream) raises ``InvalidExport``; callers read
the whole export before they change anything, so a corrupt one imports nothing.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.advisories.osv import MAX_DOCUMENT, MalformedAdvisory, parse_advisory
from generator.errors import TimeshelfError
from generator.records import Advisory

MAX_MEMBERS = 500_000
MAX_TOTAL = 4 * 1024 * 1024 * 1024


class InvalidExport(TimeshelfError, ValueError):
    """An OSV export that cannot be read whole; the message says why and what is valid."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportContents:
    """What an export holds: its advisories (the newest of each id) and the members
    that were no readable advisory, one message each."""

    advisories: tuple[Advisory, ...]
    malformed: tuple[str, ...]
    read: int


def read_export(
    path: Path, *, on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None, display: str | None = None,
) -> ExportContents:
    """Every advisory of the zip or directory at ``path``; ``InvalidExport`` when it
    cannot be read whole (``display`` names it in messages)."""
    shown = display or str(path)
    found: dict[str, Advisory] = {}
    malformed: list[str] = []
    read = 0
    for name, data in _members(path, shown, on_total):
        read += 1
        try:
            if data is None:
                raise MalformedAdvisory(name, f"larger than the {MAX_DOCUMENT}-byte limit")
            advisory = parse_advisory(data, name)
        except MalformedAdvisory as e:
            malformed.append(str(e))
        else:
            kept = found.get(advisory.id)
            if kept is None or kept.modified < advisory.modified:
                found[advisory.id] = advisory
        if on_progress is not None:
            on_progress(1)
    return ExportContents(advisories=tuple(found[i] for i in sorted(found)),
                          malformed=tuple(malformed), read=read)


def _members(
    path: Path, shown: str, on_total: Callable[[int], None] | None
) -> Iterator[tuple[str, bytes | None]]:
    """(name, bytes or None when over the size limit) of each ``.json`` member."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        _check_bounds(shown, len(files), sum(p.stat().st_size for p in files))
        if on_total is not None:
            on_total(len(files))
        for p in files:
            name = str(p.relative_to(path))
            try:
                data = None if p.stat().st_size > MAX_DOCUMENT else p.read_bytes()
            except OSError as e:
                raise InvalidExport(f"{shown}: cannot read {name} ({e.strerror or e}); "
                                    "nothing was imported") from None
            yield name, data
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist()
                       if not i.is_dir() and i.filename.endswith(".json")]
            _check_bounds(shown, len(members), sum(i.file_size for i in members))
            if on_total is not None:
                on_total(len(members))
            for info in members:
                if info.file_size > MAX_DOCUMENT:
                    yield info.filename, None
                    continue
                with archive.open(info) as member:
                    data = member.read(MAX_DOCUMENT + 1)
                yield info.filename, None if len(data) > MAX_DOCUMENT else data
    except FileNotFoundError:
        raise InvalidExport(f"{shown}: no such file or directory: pass an OSV export "
                            "(a zip of OSV JSON files, or a directory of them)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as e:
        raise InvalidExport(f"{shown}: not a readable zip of OSV JSON files ({e}); nothing "
                            "was imported") from None


def _check_bounds(shown: str, members: int, total: int) -> None:
    if members > MAX_MEMBERS:
        raise InvalidExport(f"{shown}: {members} JSON members, over the limit of "
                            f"{MAX_MEMBERS}; nothing was imported")
    if total > MAX_TOTAL:
        raise InvalidExport(f"{shown}: {total} bytes of JSON uncompressed, over the limit of "
                            f"{MAX_TOTAL}; nothing was imported")
