"""A full disk and a read-only store during upload and generate.

The installation lives on a small tmpfs (``mount -t tmpfs -o size=…``), or its store on a
read-only bind mount; both need root and a kernel that lets us mount, so the tests skip
elsewhere. In every case: a clear error (one line from the CLI, a 5xx with a message
from the sidecar, no traceback), the previous site byte for byte intact, nothing
acknowledged lost, and once space or write access is back the next run completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.config.settings import load_config
from tests.factory import WheelSpec, build_wheel
from tests.reliability.harness import (
    ENV,
    check_site,
    create_token,
    make_installation,
    start_serve,
    upload,
)
from tests.servers import free_port, run_timeshelf, timeshelf_command


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True, timeout=30)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    try:
        _mount("--bind", str(path), str(path))
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot bind-mount here (needs root and mount rights)")
    try:
        _mount("-o", "remount,ro,bind", str(path))
        yield path
    finally:
        _umount(path)


def pages(output: Path) -> dict[str, str]:
    """sha256 of every page (not the files) below the output directory."""
    return {
        str(p.relative_to(output)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in output.rglob("*") if p.is_file() and "files" not in p.relative_to(output).parts
        and not p.name.endswith(".lock")
    }


def fill(directory: Path, leave: int) -> Path:
    """Write a filler file until only about ``leave`` bytes are free; its path."""
    filler = directory / "filler"
    free = shutil.disk_usage(directory).free - leave
    with filler.open("wb") as out, contextlib.suppress(OSError):
        out.write(b"\0" * max(free, 0))
    return filler


def big_wheel(directory: Path, name: str, version: str, size: int = 400_000) -> Path:
    return build_wheel(directory, WheelSpec(name, version, extra={"blob.bin": os.urandom(size)}))


def test_full_disk_during_upload_is_a_clear_5xx_and_loses_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "6m") as disk:
        config = make_installation(disk / "inst", projects=3, versions=1)
        token = create_token(config)
        port = free_port()
        process = start_serve(config, port, tmp_path / "serve.log")
        try:
            small = build_wheel(tmp_path, WheelSpec("proj-000", "5.0"))
            assert upload(port, token, small)[0] == 200
            before = pages(load_config(config).output_path)
            filler = fill(disk, leave=100_000)
            status, text = upload(port, token, big_wheel(tmp_path, "proj-001", "5.0"))
            assert 500 <= status < 600, (status, text)
            assert text.strip()
            assert "Traceback" not in text
            assert len(text.strip().splitlines()) == 1
            assert pages(load_config(config).output_path) == before
            assert check_site(config, [small.name]) == []
            filler.unlink()
            status, text = upload(port, token, big_wheel(tmp_path, "proj-001", "5.1"))
            assert status == 200, text
        finally:
            process.terminate()
            process.wait(timeout=30)
        assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_full_disk_during_generate_is_one_line_and_keeps_the_site(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        config = make_installation(disk / "inst", projects=30, versions=1)
        extra = tmp_path / "extra"
        extra.mkdir()
        added = [str(build_wheel(extra, WheelSpec(f"proj-{p:03d}", "7.0"))) for p in range(30)]
        run_timeshelf("--config", str(config), "add", "--source", "local", *added, env=ENV)
        output = load_config(config).output_path
        before = pages(output)
        filler = fill(disk, leave=2_000)
        done = subprocess.run(
            timeshelf_command("--config", str(config), "generate", "--full"),
            capture_output=True, text=True, timeout=120, env={**os.environ, **ENV},
        )
        assert done.returncode != 0
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        changed = {k for k, v in pages(output).items() if before.get(k) != v}
        # Pages may move forward (each a whole, consistent page), never to a broken state.
        assert all(k in before for k in changed)
        # SQLite cannot even open its WAL on a full disk: free space, then check the pages
        # as the failed run left them.
        filler.unlink()
        assert check_site(config) == []
        run_timeshelf("--config", str(config), "generate", env=ENV)
        assert check_site(config, [Path(p).name for p in added]) == []


def test_read_only_store_during_upload_is_a_clear_5xx(tmp_path: Path) -> None:
    config = make_installation(tmp_path / "inst", projects=3, versions=1)
    token = create_token(config)
    store = load_config(config).store_path
    port = free_port()
    process = start_serve(config, port, tmp_path / "serve.log")
    try:
        before = pages(load_config(config).output_path)
        with read_only(store):
            status, text = upload(port, token, build_wheel(tmp_path, WheelSpec("proj-002", "6.0")))
            assert 500 <= status < 600, (status, text)
            assert text.strip()
            assert "Traceback" not in text
            assert len(text.strip().splitlines()) == 1
        assert pages(load_config(config).output_path) == before
        assert check_site(config) == []
        again = build_wheel(tmp_path, WheelSpec("proj-002", "6.0"))
        assert upload(port, token, again)[0] == 200
        assert check_site(config, [again.name]) == []
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_read_only_site_during_generate_is_one_line_and_keeps_the_site(tmp_path: Path) -> None:
    config = make_installation(tmp_path / "inst", projects=5, versions=1)
    extra = tmp_path / "extra"
    extra.mkdir()
    added = [str(build_wheel(extra, WheelSpec(f"proj-{p:03d}", "8.0"))) for p in range(5)]
    run_timeshelf("--config", str(config), "add", "--source", "local", *added, env=ENV)
    output = load_config(config).output_path
    before = pages(output)
    with read_only(output):
        done = subprocess.run(
            timeshelf_command("--config", str(config), "generate"),
            capture_output=True, text=True, timeout=120, env={**os.environ, **ENV},
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert pages(output) == before
    run_timeshelf("--config", str(config), "generate", env=ENV)
    assert check_site(config, [Path(p).name for p in added]) == []
