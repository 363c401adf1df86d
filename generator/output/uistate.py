"""The web UI's kept state, in hidden files beside a repository's pages.

``<out>/<repo>/.webui.json`` is the watermark (``UiState``: the last event serial
rendered, the formats and site address the pages were made with, the size of each
search shard, the newest upload for the home page), written last by a generation; ``<out>/<repo>/.webui/<c>.json`` holds the
list rows of shard ``<c>``, so a change rewrites only its shard. Both are read back
here; anything unreadable or of another format reads as absent (then everything is
rendered again).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator.render.markup import MARKUP_VERSION
from generator.render.simple import dumps
from generator.render.ui import UI_VERSION, PackageRow, read_shard_data, shard_data
from generator.storage.atomic import write_if_changed

STATE = ".webui.json"
DATA = ".webui"


@dataclass(slots=True)
class UiReport:
    """What one UI generation of one repository did (paths relative to the output)."""

    repo: str
    mode: str
    packages: int = 0
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class UiState:
    """The watermark of a repository's UI, and the size of each shard."""

    serial: int
    version: str
    markup: str
    base_url: str
    shards: tuple[tuple[str, int], ...]
    # The newest file added, as the home page shows it: (time, project, display name,
    # version), or () when none is known.
    newest_upload: tuple[str, ...] = ()
    # The projects whose latest version an advisory affects (the repository page counts
    # them), by name.
    vulnerable: tuple[str, ...] = ()

    def is_current(self, base_url: str) -> bool:
        """True when pages were made by this format, renderer and site address."""
        return (self.version, self.markup, self.base_url) == (UI_VERSION, MARKUP_VERSION, base_url)

    @property
    def projects(self) -> int:
        return sum(n for _, n in self.shards)

    @property
    def letters(self) -> str:
        return "".join(c for c, _ in self.shards)


def read_state(base: Path) -> UiState | None:
    """The UI watermark of the repository directory ``base``; None if absent or unreadable."""
    try:
        document = json.loads((base / STATE).read_bytes())
        return UiState(
            serial=int(document["serial"]), version=str(document["version"]),
            markup=str(document["markup"]), base_url=str(document["base_url"]),
            shards=tuple(sorted((str(c), int(n)) for c, n in document["shards"].items())),
            newest_upload=tuple(str(v) for v in document.get("newest_upload", ())),
            vulnerable=tuple(sorted(str(v) for v in document.get("vulnerable", ()))),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def read_rows(base: Path, letter: str) -> list[PackageRow] | None:
    """The kept rows of one shard; None if absent or of another format."""
    try:
        return read_shard_data((base / DATA / f"{letter}.json").read_bytes())
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def write_rows(base: Path, letter: str, rows: Sequence[PackageRow]) -> None:
    """Keep the rows of shard ``letter`` (in name order) for the next incremental run."""
    write_if_changed(base / DATA / f"{letter}.json", shard_data(rows))


def write_state(base: Path, state: UiState) -> None:
    """Write the watermark of the repository directory ``base`` (skipped when unchanged)."""
    document = {
        "base_url": state.base_url, "markup": state.markup, "serial": state.serial,
        "shards": dict(state.shards), "version": state.version,
        "newest_upload": list(state.newest_upload),
    }
    if state.vulnerable:
        document["vulnerable"] = list(state.vulnerable)
    write_if_changed(base / STATE, dumps(document))
