"""A snapshot day's entries for its unchanged projects, copied from the previous day.

A new day holds one entry per project (``generator.snapshots.materialize``). Every project that did
not change that day gets the previous day's entry: a hard link to its symbolic link, so
the inode is shared and its target never read. At 100k projects these are 100k
``link`` calls (about 1.5 s on ext4), spent in the kernel, so for a large day they run
in a helper process (``LinkJob``) while the materializer renders the changed projects:
a thread would not overlap them, since each call takes the GIL back in between.

The helper is ``python -c _HELPER PRIOR SIMPLE PARENT_PID`` (``main``) with the names
on its standard input, one per line (not ``-m``: the package's face imports this module
first, and runpy would then run it a second time). It stops on its own if its parent dies (a killed
``generate``), so it never writes into a build directory the next run is removing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from generator.errors import StoreError
from generator.workers import worker_env

PARENT_CHECK_EVERY = 512  # links between two checks that the parent is still alive


def share_links(prior: Path, simple: Path, names: Iterable[str], parent: int | None = None) -> None:
    """Give ``simple`` the entries ``names`` of the day ``prior``: hard links to its
    symbolic links (``linkat`` without following them). Where a hard link cannot be made
    (a file system without them, or an inode at its link limit) the entry is a new
    symbolic link to the same target. With ``parent``, stops when that process is gone."""
    source = os.open(prior, os.O_RDONLY | os.O_DIRECTORY)
    try:
        destination = os.open(simple, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for count, name in enumerate(names):
                if parent is not None and count % PARENT_CHECK_EVERY == 0 \
                        and os.getppid() != parent:
                    return
                try:
                    os.link(name, name, src_dir_fd=source, dst_dir_fd=destination,
                            follow_symlinks=False)
                except OSError:
                    target = os.readlink(name, dir_fd=source)
                    os.symlink(target, name, dir_fd=destination)
        finally:
            os.close(destination)
    finally:
        os.close(source)


_HELPER = "import sys; from generator.snapshots.daylinks import main; sys.exit(main(sys.argv[1:]))"


class LinkJob:
    """``share_links`` running in a helper process; ``wait`` for it to finish."""

    def __init__(self, process: subprocess.Popen[bytes], feeder: threading.Thread,
                 simple: Path) -> None:
        self._process, self._feeder, self._simple = process, feeder, simple

    @classmethod
    def start(cls, prior: Path, simple: Path, names: Iterable[str]) -> LinkJob:
        process = subprocess.Popen(
            [sys.executable, "-c", _HELPER, str(prior), str(simple), str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=worker_env(),
        )
        data = "".join(f"{name}\n" for name in names).encode()
        # Fed from a thread: the pipe holds 64 KiB and the helper reads only once it has
        # started, while this process goes on rendering.
        assert process.stdin is not None
        feeder = threading.Thread(target=_feed, args=(process.stdin, data), daemon=True)
        feeder.start()
        return cls(process, feeder, simple)

    def wait(self) -> None:
        """Wait for the links; ``StoreError`` saying why if the helper failed."""
        self._feeder.join()
        assert self._process.stderr is not None
        errors = self._process.stderr.read()
        self._process.stderr.close()
        if self._process.wait() != 0:
            lines = errors.decode(errors="replace").strip().splitlines()
            reason = lines[-1] if lines else f"exit status {self._process.returncode}"
            raise StoreError(f"could not link the previous day's entries into {self._simple}: "
                             f"{reason}")


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):  # the helper died: wait() reports it
        try:
            pipe.write(data)
        finally:
            pipe.close()


def main(argv: Sequence[str]) -> int:
    """``PRIOR SIMPLE PARENT_PID``, names on standard input; exits 1 with the error's
    one line on standard error."""
    prior, simple, parent = argv
    names = sys.stdin.buffer.read().decode().split("\n")
    try:
        share_links(Path(prior), Path(simple), [n for n in names if n], parent=int(parent))
    except OSError as e:
        print(f"{e.strerror or e}: {e.filename or simple}", file=sys.stderr)
        return 1
    return 0

