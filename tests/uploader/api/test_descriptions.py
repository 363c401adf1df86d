"""Descriptions can never fail or stall an upload, ``add`` or ``generate`` (the real sidecar).

Two READMEs found by hostile testing: reStructuredText of 400 progressively indented
paragraphs (docutils raised ``RecursionError``: the upload answered 500 for a file it kept,
and every later upload failed) and Markdown of 60,000 nested block quotes (26 s to format,
under the one generation lock, so an unrelated upload a second later waited as long).
A third sidecar formats with a short deadline, so a description that is slow but within
every other bound is cut off by the helper process's deadline.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.clock import ENV_NOW, format_timestamp
from tests.factory import WheelSpec, build_sdist, build_wheel, metadata_text
from tests.servers import run_timeshelf
from tests.uploader.conftest import (
    NOW,
    RawReply,
    Sidecar,
    assert_stored,
    start_sidecar,
    upload_parts,
)

NOTE = "This description is shown as plain text: "
# 400 paragraphs, each indented one space more than the one before: about 240 kB.
RECURSIVE = "\n\n".join(" " * i + f"paragraph {i} " + "x" * 400 for i in range(400))
QUADRATIC = "> " * 60000 + "x"
# About 450 kB of ordinary reStructuredText: over a second of docutils.
SLOW = "\n\n".join(["A paragraph with *emphasis* in it."] * 12_000)


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    home = tmp_path_factory.mktemp("descriptions") / "inst"
    with start_sidecar(home, tmp_path_factory.mktemp("dists")) as running:
        yield running
        assert "Traceback" not in running.log(), running.log()


def described(sidecar: Sidecar, name: str, text: str, content_type: str) -> Path:
    head = metadata_text(name, "1.0").rstrip("\n")
    metadata = f"{head}\nDescription-Content-Type: {content_type}\n\n{text}"
    return build_wheel(sidecar.fresh_dir(), WheelSpec(name, "1.0", metadata=metadata))


def plain(sidecar: Sidecar, name: str) -> Path:
    return build_wheel(sidecar.fresh_dir(), WheelSpec(name, "1.0"))


def upload(sidecar: Sidecar, dist: Path) -> RawReply:
    return sidecar.post(upload_parts(dist))


def assert_acknowledged(reply: RawReply) -> None:
    """A 200 with no warning: the file is stored and its pages are regenerated."""
    assert reply.status == 200, reply.raw[:800]
    assert reply.body == b"", reply.body


def package_page(sidecar: Sidecar, project: str) -> str:
    page = sidecar.output / "python" / "project" / project / "index.html"
    return html.unescape(page.read_text(encoding="utf-8"))


def cli(sidecar: Sidecar, *args: str) -> str:
    """The CLI as a subprocess (a crash shows as a traceback on stderr); its output."""
    done = run_timeshelf("--config", str(sidecar.config), *args,
                         env={ENV_NOW: format_timestamp(NOW)})
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout + done.stderr


def test_a_recursive_rst_description_is_stored_listed_and_shown_plain(sidecar: Sidecar) -> None:
    dist = described(sidecar, "deep-rst", RECURSIVE, "text/x-rst")
    assert 200_000 < len(RECURSIVE) < 512 * 1024
    assert_acknowledged(upload(sidecar, dist))
    assert_stored(sidecar, dist, "deep-rst")
    page = package_page(sidecar, "deep-rst")
    assert NOTE + "it nests more than 48 levels deep." in page
    assert "paragraph 399 " in page
    # Every later upload, of any project, still works.
    after = plain(sidecar, "after-deep-rst")
    assert_acknowledged(upload(sidecar, after))
    assert_stored(sidecar, after, "after-deep-rst")


def test_generate_and_add_survive_a_recursive_description(sidecar: Sidecar) -> None:
    cli(sidecar, "generate", "--full")
    pkg_info = metadata_text("deep-sdist", "1.0").rstrip("\n") + (
        f"\nDescription-Content-Type: text/x-rst\n\n{RECURSIVE}"
    )
    sdist = build_sdist(sidecar.fresh_dir(), "deep-sdist", "1.0", pkg_info=pkg_info)
    cli(sidecar, "add", "--source", "local", str(sdist))
    assert NOTE + "it nests more than 48 levels deep." in package_page(sidecar, "deep-sdist")


def _timed_upload(sidecar: Sidecar, dist: Path, into: dict[str, object]) -> None:
    started = time.monotonic()
    into["reply"] = upload(sidecar, dist)
    into["seconds"] = time.monotonic() - started


def _upload_beside(sidecar: Sidecar, hostile: Path, name: str) -> None:
    """Upload ``hostile`` and, a second later, an unrelated project: the unrelated one must
    answer within 2 s, and both must be acknowledged."""
    result: dict[str, object] = {}
    thread = threading.Thread(target=_timed_upload, args=(sidecar, hostile, result))
    thread.start()
    time.sleep(1.0)
    unrelated = plain(sidecar, name)
    started = time.monotonic()
    reply = upload(sidecar, unrelated)
    seconds = time.monotonic() - started
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert_acknowledged(reply)
    assert_stored(sidecar, unrelated, name)
    assert seconds < 2.0, f"the unrelated upload waited {seconds:.1f} s"
    hostile_reply = result["reply"]
    assert isinstance(hostile_reply, RawReply)
    assert_acknowledged(hostile_reply)
    assert float(str(result["seconds"])) < 10, result["seconds"]
    assert_stored(sidecar, hostile, hostile.name.split("-")[0].replace("_", "-"))


def test_a_quadratic_markdown_description_stalls_no_one(sidecar: Sidecar) -> None:
    hostile = described(sidecar, "deep-md", QUADRATIC, "text/markdown")
    _upload_beside(sidecar, hostile, "beside-deep-md")
    assert NOTE + "it nests more than 48 levels deep." in package_page(sidecar, "deep-md")


@pytest.fixture(scope="module")
def hurried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """A sidecar whose descriptions have 0.3 s to format."""
    home = tmp_path_factory.mktemp("hurried") / "inst"
    settings = {"description_timeout = 2.0": "description_timeout = 0.3"}
    with start_sidecar(home, tmp_path_factory.mktemp("hurried-dists"), settings) as running:
        yield running
        assert "Traceback" not in running.log(), running.log()


def test_a_description_past_the_deadline_is_plain_and_stalls_no_one(hurried: Sidecar) -> None:
    slow = described(hurried, "slow-rst", SLOW, "text/x-rst")
    _upload_beside(hurried, slow, "beside-slow-rst")
    page = package_page(hurried, "slow-rst")
    assert "shown as plain text (its first 256 KiB): formatting it took longer than 0.3 seconds." in page
    assert "A paragraph with *emphasis* in it." in page
