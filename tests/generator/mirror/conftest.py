"""Fixtures of the mirror's tests: a fixture upstream on 127.0.0.1 and a source of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generator.installation import Installation
from tests.conftest import CliRunner
from tests.generator.mirror.test_sync import configure
from tests.upstream import FakeUpstream, serve_upstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with serve_upstream(FakeUpstream()) as served:
        yield served


@pytest.fixture
def mirror(installation: Installation, cli: CliRunner, upstream: FakeUpstream) -> CliRunner:
    """Source ``pypi`` mirroring ``upstream``, subscribed by ``python`` after ``local``."""
    configure(installation)
    result = cli("create", "source", "--name", "pypi", "--type", "pypi", "--upstream",
                 upstream.index_url)
    assert result.code == 0, result.err
    assert cli("subscribe", "--repo", "python", "--source", "pypi").code == 0
    # `create source` read the root once to count its projects (an unfiltered mirror).
    upstream.clear_log()
    return cli
