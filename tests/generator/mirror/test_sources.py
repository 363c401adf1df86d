"""Which sources ``timeshelf sync`` works on and what ``create source`` says about a
mirror: the subscribed sources only for a bare sync, the size of an unfiltered upstream,
the refusal of the site itself as its own upstream, and curated names the upstream lacks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import Conflict
from generator.installation import Installation
from generator.mirror.sources import check_not_self
from tests.conftest import CliRunner, Dists
from tests.generator.mirror.test_sync import configure, filenames, publish
from tests.upstream import FakeUpstream

SITE = "http://127.0.0.1:8000/"


def test_a_bare_sync_takes_the_subscribed_sources_and_names_the_skipped_ones(
    mirror: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    publish(upstream, dists, "alpha", "1.0")
    assert mirror("create", "source", "--name", "unread", "--type", "pypi", "--upstream",
                  "http://127.0.0.1:9/simple/").code == 0

    result = mirror("sync")

    assert result.code == 0, result.err
    assert result.err_lines[0] == (
        "skipping source 'unread' (pypi): no repository subscribes to it (`timeshelf "
        "subscribe --repo R --source unread`, or sync it with --source unread)"
    )
    assert "pypi: 1 listed, 1 checked" in result.err
    assert "unread:" not in result.err
    assert filenames(installation, "alpha") == {"alpha-1.0-py3-none-any.whl"}


def test_a_bare_sync_with_no_subscribed_mirror_says_so(
    cli: CliRunner, installation: Installation,
) -> None:
    configure(installation)
    assert cli("create", "source", "--name", "unread", "--type", "pypi", "--upstream",
               "http://127.0.0.1:9/simple/").code == 0
    result = cli("sync")
    assert result.code == 1
    assert result.err_lines[-1] == ("error: no source to sync: no repository subscribes to a "
                                    "pypi or curated-pypi source")
    assert "skipping source 'unread'" in result.err


def test_a_named_source_is_synced_even_unsubscribed(
    cli: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    configure(installation)
    publish(upstream, dists, "alpha", "1.0")
    assert cli("create", "source", "--name", "solo", "--type", "pypi", "--upstream",
               upstream.index_url).code == 0
    result = cli("sync", "--source", "solo")
    assert result.code == 0, result.err
    assert "solo: 1 listed, 1 checked, 1 changed, 1 files added" in result.err


def test_creating_an_unfiltered_pypi_source_says_how_big_it_is_and_how_to_limit_it(
    cli: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
) -> None:
    for name in ("alpha", "beta", "gamma"):
        publish(upstream, dists, name, "1.0")
    result = cli("create", "source", "--name", "everything", "--type", "pypi", "--upstream",
                 upstream.index_url)
    assert result.code == 0, result.err
    assert result.err_lines[1:] == [
        f"  'everything' has no allow list: `timeshelf sync` will mirror all of "
        f"{upstream.index_url}: about 3 projects",
        f'  to limit it: add `allow = ["django", "numpy>=1.26"]` under [sources.everything] '
        f"in {installation.config.file}, or mirror a curated list instead (`timeshelf create "
        "source --name NAME --type curated-pypi`, then `timeshelf update --source NAME "
        "--file requirements.txt`)",
    ]
    assert upstream.paths() == ["/simple/"], "one request: the root"


def test_creating_a_filtered_or_curated_source_says_nothing_of_the_size(
    cli: CliRunner, installation: Installation, upstream: FakeUpstream,
) -> None:
    configure(installation, '\n[sources.some]\nallow = ["alpha"]\n')
    for name, kind in (("some", "pypi"), ("picked", "curated-pypi")):
        result = cli("create", "source", "--name", name, "--type", kind, "--upstream",
                     upstream.index_url)
        assert result.code == 0, result.err
        assert len(result.err_lines) == 1, result.err
    assert upstream.requests() == []


def test_an_unreadable_upstream_leaves_the_size_unknown(cli: CliRunner) -> None:
    result = cli("create", "source", "--name", "far", "--type", "pypi", "--upstream",
                 "http://127.0.0.1:9/simple/")
    assert result.code == 0, result.err
    assert result.err_lines[1].startswith(
        "  'far' has no allow list: `timeshelf sync` will mirror all of "
        "http://127.0.0.1:9/simple/: its size unknown (http://127.0.0.1:9/simple/: no answer "
        "after 1 attempts"
    )


@pytest.mark.parametrize(("upstream", "given", "message"), [
    (f"{SITE}python/latest/simple/", True,
     f"--upstream {SITE}python/latest/simple/ is this installation's own site ({SITE}): a "
     "source cannot mirror itself; pass the Simple API URL of another index"),
    (f"{SITE}python/latest/simple/", False,
     f"the index pip is configured to use, {SITE}python/latest/simple/, is this "
     f"installation's own site ({SITE}), so it cannot be the default upstream; pass "
     "--upstream URL of the index to mirror"),
], ids=["given-with-upstream", "from-pip"])
def test_the_site_as_its_own_upstream_is_refused_with_what_to_change(
    upstream: str, given: bool, message: str,
) -> None:
    with pytest.raises(Conflict) as refused:
        check_not_self(SITE, upstream, given=given)
    assert str(refused.value) == message


def test_another_upstream_is_not_the_site(upstream: FakeUpstream) -> None:
    check_not_self(SITE, upstream.index_url, given=True)


def test_create_source_refuses_its_own_site_given_with_upstream(
    cli: CliRunner, installation: Installation,
) -> None:
    own = f"{installation.config.base_url}python/latest/simple/"
    result = cli("create", "source", "--name", "loop", "--type", "pypi", "--upstream", own)
    assert result.code == 1
    assert result.err_lines == [
        f"error: --upstream {own} is this installation's own site "
        f"({installation.config.base_url}): a source cannot mirror itself; pass the Simple "
        "API URL of another index"
    ]


def test_curated_names_the_upstream_lacks_are_reported_and_fail_the_run(
    cli: CliRunner, installation: Installation, upstream: FakeUpstream, dists: Dists,
    tmp_path: Path,
) -> None:
    configure(installation)
    publish(upstream, dists, "alpha", "1.0")
    assert cli("create", "source", "--name", "picked", "--type", "curated-pypi",
               "--upstream", upstream.index_url).code == 0
    assert cli("subscribe", "--repo", "python", "--source", "picked").code == 0
    wanted = tmp_path / "requirements.txt"
    wanted.write_text("alpha\nnonexistent-zz\nAlso_Missing>=1\n")
    missing = (f"  error: not found at {upstream.index_url}: Also_Missing, nonexistent-zz "
               "(named by the curated list of picked; correct the names with `timeshelf "
               "update --source picked --file FILE`)")

    updated = cli("update", "--source", "picked", "--file", wanted)

    assert updated.code == 1
    assert missing in updated.err_lines, updated.err
    assert filenames(installation, "alpha") == {"alpha-1.0-py3-none-any.whl"}

    synced = cli("sync", "--source", "picked")
    assert synced.code == 1
    assert missing in synced.err_lines, synced.err

    wanted.write_text("alpha\n")
    assert cli("update", "--source", "picked", "--file", wanted).code == 0
