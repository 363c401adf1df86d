"""Fixtures of the vulnerability tests: an installation showing demo-lib 1.0, 1.1, 2.0
and other-lib 1.0, and a loopback OSV feed configured as ``[vulnerabilities] url``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from generator.installation import Installation
from tests.conftest import CliRunner, Dists
from tests.osv import OsvFeed, export_zip, ghsa, pysec, serve_osv


def standard_advisories() -> list[dict[str, object]]:
    """PYSEC-2026-1 (demo-lib below 1.1, alias CVE-2026-0001) and GHSA-abcd-efgh-ijkl
    (demo-lib from 1.1 up to 3.0, HIGH)."""
    return [
        pysec(1, "Demo_Lib", fixed="1.1", aliases=["CVE-2026-0001"],
              summary="Path traversal in demo-lib"),
        ghsa("abcd-efgh-ijkl", "demo-lib", introduced="1.1", fixed="3.0",
             aliases=["CVE-2026-0002"]),
    ]


@pytest.fixture
def feed() -> Iterator[OsvFeed]:
    with serve_osv(OsvFeed(body=export_zip(standard_advisories()))) as served:
        yield served


@pytest.fixture
def shelf(installation: Installation, cli: CliRunner, dists: Dists, feed: OsvFeed) -> CliRunner:
    """The installation with the projects added and ``[vulnerabilities] url`` the feed."""
    wheels = [dists.wheel("demo-lib", v) for v in ("1.0", "1.1", "2.0")]
    wheels.append(dists.wheel("other-lib", "1.0"))
    assert cli("add", "--source", "local", *wheels).code == 0
    path = installation.config.file
    text = path.read_text()
    text = re.sub(r'(\[vulnerabilities\][^\[]*?)url = ""', rf'\1url = "{feed.url}"', text)
    path.write_text(text)
    return cli
