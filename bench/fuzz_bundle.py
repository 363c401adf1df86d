"""Coverage-guided fuzzing (atheris, libFuzzer) of bundle extraction.

Each input's first byte picks how the rest becomes an archive:

- 0: the bytes are the ``.tar.gz`` as uploaded;
- 1: the bytes are a tar, gzip-compressed here (so mutations reach tar headers);
- otherwise: a tar built member by member from the bytes (``FuzzedDataProvider``): up to
  12 members, each a file, directory, symbolic link, hard link or FIFO, with names and
  link targets drawn from a small alphabet (``a``, ``b``, ``d``, ``x``, ``.``, ``..``,
  leading or trailing ``/``), the material of link-chain escapes.

``extract_bundle`` writes into a target many directories below a fresh sandbox on tmpfs,
so a write even a dozen levels above the target lands inside the sandbox. The property,
whatever the archive: only ``BundleError`` escapes, each of its problems one line; the
sandbox holds the target and the directories above it and nothing else; every link
inside the target resolves to a regular file inside it. A violation raises, which
libFuzzer reports as a crash. Run from the repository root::

    nice -n 10 .venv/bin/python -m bench.fuzz_bundle -atheris_runs=1000000 \
        bench/work/fuzz_bundle/corpus

libFuzzer's own options follow; it prints its statistics (``#N DONE`` ends a full run).
A crash leaves ``crash-<sha1>`` with the input: turn it into a regression test.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from uploader.deploy.bundles import BundleError, BundleLimits, extract_bundle

WORK = Path(__file__).resolve().parent / "work" / "fuzz_bundle"
PARTS = ("a", "b", "d", "x", ".", "..")
KINDS = (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE)
MAX_MEMBERS = 12
# Deeper than MAX_MEMBERS links can climb: every escape stays inside the sandbox.
DEPTH = 2 * MAX_MEMBERS
LIMITS = BundleLimits(max_members=4 * MAX_MEMBERS, max_expanded=4096)


def setup() -> Path:
    """A private scratch directory on tmpfs when there is one."""
    WORK.joinpath("corpus").mkdir(parents=True, exist_ok=True)
    shm = "/dev/shm"  # noqa: S108 - a tmpfs for speed; mkdtemp makes a private directory
    return Path(tempfile.mkdtemp(prefix="fuzz-bundle-", dir=shm if os.path.isdir(shm) else None))


SCRATCH = setup()
ARCHIVE = SCRATCH / "bundle.tar.gz"
SANDBOX = SCRATCH / "sandbox"
TARGET = SANDBOX.joinpath(*(f"l{i}" for i in range(DEPTH)), "target")
ABOVE = frozenset({SANDBOX, *(p for p in TARGET.parents if p.is_relative_to(SANDBOX))})


def fuzzed_path(fdp: atheris.FuzzedDataProvider) -> str:
    """A path of 0-4 parts from ``PARTS``, sometimes absolute, sometimes with a final '/'."""
    parts = [PARTS[fdp.ConsumeIntInRange(0, len(PARTS) - 1)]
             for _ in range(fdp.ConsumeIntInRange(0, 4))]
    text = "/".join(parts)
    shape = fdp.ConsumeIntInRange(0, 7)
    return "/" + text if shape == 0 else text + "/" if shape == 1 else text


def structured_archive(data: bytes) -> bytes:
    """A gzip tar whose members are read off ``data``."""
    fdp = atheris.FuzzedDataProvider(data)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for _ in range(fdp.ConsumeIntInRange(0, MAX_MEMBERS)):
            info = tarfile.TarInfo(fuzzed_path(fdp))
            info.type = KINDS[fdp.ConsumeIntInRange(0, len(KINDS) - 1)]
            info.mode = 0o755 if fdp.ConsumeBool() else 0o644
            if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = fuzzed_path(fdp)
            if info.type == tarfile.REGTYPE:
                content = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 16))
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def archive_of(data: bytes) -> bytes:
    mode, body = data[0], data[1:]
    if mode == 0:
        return body
    if mode == 1:
        return gzip.compress(body, compresslevel=1)
    return structured_archive(body)


def check_confined() -> None:
    """Raise when anything exists outside the target, or a link in it leads elsewhere than
    to a regular file inside."""
    if sorted(SCRATCH.iterdir()) != sorted([ARCHIVE, SANDBOX]):
        raise AssertionError(f"written beside the sandbox: {sorted(SCRATCH.iterdir())}")
    real = Path(os.path.realpath(TARGET))
    for path, dirs, files in os.walk(SANDBOX):
        for entry in (Path(path) / n for n in (*dirs, *files)):
            if entry in ABOVE or entry == TARGET:
                continue
            if not entry.is_relative_to(TARGET):
                raise AssertionError(f"written outside the target: {entry}")
            if entry.is_symlink():
                resolved = Path(os.path.realpath(entry))
                if not resolved.is_relative_to(real) or not entry.is_file():
                    raise AssertionError(
                        f"{entry} -> {os.readlink(entry)!r} is not a link to a file inside"
                    )


def test_one_input(data: bytes) -> None:
    if not data:
        return
    ARCHIVE.write_bytes(archive_of(data))
    TARGET.mkdir(parents=True)
    try:
        try:
            extract_bundle(ARCHIVE, TARGET, LIMITS)
        except BundleError as e:
            if any("\n" in problem for problem in e.problems):
                raise AssertionError(f"a problem of more than one line: {e!r}") from e
        check_confined()
    finally:
        shutil.rmtree(SANDBOX, ignore_errors=True)


def main() -> None:
    try:
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
