"""Ctrl-C during a real ``timeshelf sync`` subprocess (SIGINT), then the resume command
it printed: what it says was committed is in the catalog, and the resumed run fetches
only the projects that were not, then publishes them all."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from generator.cli.mirror import interruption
from generator.installation import Installation
from generator.mirror.report import SyncReport
from generator.records import Source
from tests.conftest import CliRunner, Dists
from tests.generator.mirror.test_sync import OLD, configure, filenames
from tests.servers import timeshelf_command
from tests.upstream import FakeUpstream, serve_slow_upstream

PROJECTS = 60


@pytest.fixture
def upstream(dists: Dists) -> Iterator[FakeUpstream]:
    """``PROJECTS`` projects whose files take 50 ms each to download (a sync of ~3 s
    with one prefetching worker)."""
    wheels = (dists.wheel(f"proj-{p:02d}", "1.0") for p in range(PROJECTS))
    with serve_slow_upstream(wheels, uploaded=OLD, file_delay=0.05) as served:
        yield served


def project_pages(upstream: FakeUpstream) -> list[str]:
    return [p.split("/")[2] for p in upstream.paths("/simple/") if p.count("/") == 3]


def test_an_interrupted_sync_tells_what_it_kept_and_its_resume_command_finishes_the_rest(
    installation: Installation, cli: CliRunner, upstream: FakeUpstream,
) -> None:
    configure(installation, '\n[sources.pypi]\nfile_mode = "prefetch"\n')
    path = installation.config.file
    path.write_text(path.read_text().replace("workers = 4", "workers = 1"))
    assert cli("create", "source", "--name", "pypi", "--type", "pypi", "--upstream",
               upstream.index_url).code == 0
    assert cli("subscribe", "--repo", "python", "--source", "pypi").code == 0
    upstream.clear_log()

    process = subprocess.Popen(
        timeshelf_command("--config", str(path), "sync"), stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TIMESHELF_PROGRESS_SECONDS": "0.1"},
    )
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    for line in process.stderr:
        seen.append(line)
        progress = re.match(r"syncing pypi: (\d+)/60 projects", line)
        if progress and int(progress[1]) >= 10:
            break
        assert time.monotonic() < deadline, seen
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    process.stderr.close()
    code = process.wait(timeout=60)
    err = "".join(seen) + rest

    assert code == 130, err
    assert "Traceback" not in err
    assert "aborted" not in err
    told = re.search(
        r"^pypi: interrupted after [\d.]+s; committed: (\d+) of 60 project\(s\) to check, "
        r"(\d+) file\(s\) added, 0 yanked, 0 removed; (\d+) project\(s\) remain$", err, re.M,
    )
    assert told, err
    committed, added, remain = (int(g) for g in told.groups())
    assert 10 <= committed < PROJECTS
    assert committed + remain == PROJECTS
    assert added == committed  # one file per project
    assert "  the index was not regenerated with these changes\n" in err
    source = installation.catalog.get_source("pypi")
    kept = set(installation.catalog.mirror_projects(source))
    assert len(kept) == committed, "the summary says what the catalog holds"
    assert filenames(installation, "proj-00") == set(), "not published yet"

    resume = re.search(r"^  resume with: (.*)$", err, re.M)
    assert resume, err
    argv = shlex.split(resume[1])
    assert argv[:3] == ["timeshelf", "--config", str(path.resolve())]
    upstream.clear_log()
    done = subprocess.run(timeshelf_command(*argv[1:]), capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))

    assert done.returncode == 0, done.stderr
    fetched = project_pages(upstream)
    assert len(fetched) == remain, "the resumed run fetches only what was not committed"
    assert not kept & set(fetched)
    # A file the interrupted run had downloaded but not yet recorded stays in the store.
    assert remain - 2 <= len(upstream.paths("/packages/")) <= remain
    assert f"pypi: 60 listed, {remain} checked, {remain} changed, {remain} files added" \
        in done.stderr
    for p in range(PROJECTS):
        assert filenames(installation, f"proj-{p:02d}") == {f"proj_{p:02d}-1.0-py3-none-any.whl"}


def test_the_interruption_names_the_sources_not_synced_yet() -> None:
    report = SyncReport(source="pypi", upstream="http://127.0.0.1:9/simple/", listed=0,
                        interrupted=True, seconds=0.4)
    others = [Source(id=2, name="extra", type="pypi", upstream=None),
              Source(id=3, name="team", type="curated-pypi", upstream=None)]
    assert interruption(report, others, "timeshelf --config /x.toml sync") == [
        "pypi: interrupted after 0.4s; committed: 0 of 0 project(s) to check, 0 file(s) "
        "added, 0 yanked, 0 removed; 0 project(s) remain (the upstream listing was not read "
        "yet)",
        "  not synced yet: extra, team",
        "  the index was not regenerated with these changes",
        "  resume with: timeshelf --config /x.toml sync",
        "  (it skips the projects already committed, then regenerates)",
    ]
