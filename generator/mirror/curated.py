"""Curated lists: the requirements a ``curated-pypi`` source mirrors, and their closure.

A list holds one requirement per line (``django``: every version; ``numpy>=1.26``: those
versions). With ``--closure`` the dependencies are resolved by ``pip-compile`` against the
source's own upstream, once per configured Python version (each needs that interpreter
with pip-tools; this interpreter is always one), and the resulting ``name==version`` pins
are recorded in the catalog beside the list, with the tool that made them, so the
mirrored set can be reproduced without resolving again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from generator.errors import ConfigError, Conflict

# pip-compile may need minutes for a large closure against a slow upstream.
COMPILE_TIMEOUT = 1800


def read_requirements(path: Path) -> tuple[str, ...]:
    """The requirements in ``path`` (comments and blank lines skipped); every bad line is
    reported at once in one ``Conflict``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise Conflict(f"cannot read {path}: {e}") from e
    found: list[str] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, 1):
        text = raw.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("-"):
            problems.append(f"line {number}: options such as {text.split()[0]!r} are not "
                            "taken (the source's upstream is the index)")
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement as e:
            problems.append(f"line {number}: {text!r} is not a requirement ({e})")
            continue
        if requirement.url:
            problems.append(f"line {number}: {text!r} names a URL; use a name and specifiers")
            continue
        found.append(f"{requirement.name}{requirement.specifier}")
    if problems:
        raise Conflict(f"{path}: " + "; ".join(problems))
    if not found:
        raise Conflict(f"{path} names no project: write one requirement per line, e.g. django")
    return tuple(dict.fromkeys(found))


def _interpreter(version: str) -> str:
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if version == running:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        raise ConfigError(
            f"no Python {version} interpreter (python{version}) on PATH to resolve the closure "
            f"for; install it with pip-tools, or resolve for {running} only"
        )
    return found


def _pins(text: str) -> set[str]:
    pins = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins.add(f"{Requirement(name.strip()).name}=={version.strip()}")
    return pins


def _run(
    argv: list[str], env: dict[str, str], version: str, upstream: str
) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of pip-compile; ``Conflict`` when it runs longer than
    ``COMPILE_TIMEOUT``. It runs in a session of its own, so that on timeout its whole
    process group (pip's build subprocesses too) is killed, not pip-compile alone."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=COMPILE_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise Conflict(
                f"pip-compile did not resolve the closure for Python {version} against "
                f"{upstream} within {COMPILE_TIMEOUT:g} s and was stopped: try again when "
                "the upstream answers faster, or list fewer or more tightly pinned projects"
            ) from None
        return process.returncode, stdout, stderr


def compile_closure(
    requirements: tuple[str, ...], upstream: str, versions: tuple[str, ...]
) -> tuple[tuple[str, ...], str]:
    """(sorted pins, tool description) of the closure of ``requirements`` for every version
    in ``versions``, resolved by pip-compile against ``upstream`` only.

    The machine's pip configuration is ignored (no extra indexes, find-links or
    constraints leak in), so the result depends on the upstream alone. Raises
    ``Conflict`` when pip-compile fails or runs longer than ``COMPILE_TIMEOUT`` seconds,
    ``ConfigError`` when a version has no interpreter.
    """
    pins: set[str] = set()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PIP_TOOLS_")) or k == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    with tempfile.TemporaryDirectory(prefix="timeshelf-compile-") as work:
        source = Path(work) / "requirements.in"
        source.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        for version in versions:
            output = Path(work) / f"requirements-{version}.txt"
            argv = [
                _interpreter(version), "-m", "piptools", "compile", "--quiet", "--no-header",
                "--no-annotate", "--no-emit-index-url", "--no-emit-trusted-host",
                "--strip-extras", "--allow-unsafe", "--no-config", "--index-url", upstream,
                "--cache-dir", str(Path(work) / "cache"), "--output-file", str(output),
                str(source),
            ]
            returncode, stdout, stderr = _run(argv, env, version, upstream)
            if returncode != 0:
                detail = (stderr or stdout).strip().splitlines()[-3:]
                raise Conflict(
                    f"pip-compile could not resolve the closure for Python {version} against "
                    f"{upstream}: {' / '.join(detail) or 'exit ' + str(returncode)}"
                )
            pins |= _pins(output.read_text(encoding="utf-8"))
    tool = f"pip-compile {metadata.version('pip-tools')} (Python {', '.join(versions)})"
    return tuple(sorted(pins, key=str.lower)), tool
