"""Running the real CLI as a subprocess on a pseudo-terminal, as a person at a terminal
would (``os.openpty``: stdout and stderr are the pty's slave, so ``isatty()`` is true)."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence

COLUMNS = 200


def run_in_pty(argv: Sequence[str], *, env: Mapping[str, str],
               timeout: float = 120.0) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr on a new pseudo-terminal ``COLUMNS`` wide; its
    exit code and everything it wrote (the terminal turns ``\\n`` into ``\\r\\n``)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
    process = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
        env={**env, "COLUMNS": str(COLUMNS)},
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"{argv} ran over {timeout}s: {b''.join(chunks)!r}")
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the slave side is gone
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return process.wait(timeout=30), b"".join(chunks).decode()
