"""Processing a bundle's requirements before anything is installed.

A requirements file comes from whoever deploys, so it is read as untrusted input:

- options that change where packages come from (``-i``, ``--index-url``,
  ``--extra-index-url``, ``-f``/``--find-links``, ``--trusted-host``, ``--no-index``) are
  refused unless the policy allows them: environments build from this server only;
- editable installs (``-e``) and direct URL or path references (``pkg @ https://…``,
  ``./dir``, ``git+…``) are refused unless allowed;
- ``-r``/``-c`` may only name files inside the bundle (``read`` enforces it); a file is
  read once however its path is spelled (``a.txt``, ``./a.txt``, ``x/../a.txt``);
- a file may have ``MAX_FILE_CHARS`` characters and all files together
  ``MAX_TOTAL_CHARS``, ``MAX_LINES`` requirement lines in all, includes ``MAX_INCLUDE_DEPTH``
  deep: processing time stays bounded whatever the bundle holds;
- ``--hash`` options are kept (pip then checks every file);
- per-requirement build options (``--config-settings``, ``--global-option``,
  ``--install-option``) and ``${VARIABLE}`` references (pip would expand them from the
  server's environment) are refused;
- lines naming the publishing client itself (``rsconnect…``) are dropped, and prohibited
  packages (configured, plus ``DEFAULT_PROHIBITED``) removed.

Every change is a log line; every problem of the file is reported at once.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from generator.config.python import DEFAULT_PROHIBITED as CONFIGURED_DEFAULT_PROHIBITED
from uploader.deploy.errors import RequirementsError

# Packages that install only on other operating systems (Windows, macOS); a bundle made
# on a laptop often lists them, and they would fail the build on this server. The list is
# the configuration's default (``[python] prohibited``), normalized.
DEFAULT_PROHIBITED: frozenset[NormalizedName] = frozenset(
    canonicalize_name(n) for n in CONFIGURED_DEFAULT_PROHIBITED
)
PUBLISHING_CLIENT_PREFIX = "rsconnect"
_SOURCE_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-index",
}
_PASS_THROUGH = {"--pre", "--prefer-binary", "--only-binary", "--no-binary"}
_TAKES_VALUE = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--only-binary",
    "--no-binary",
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
}
_BUILD_OPTIONS = ("--config-settings", "--global-option", "--install-option", "-C")
_HASH = re.compile(r"--hash[= ](sha256|sha384|sha512):([0-9a-fA-F]+)")
_VARIABLE = re.compile(r"\$\{[A-Za-z0-9_]+\}")
_URLISH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git\+|hg\+|svn\+|bzr\+|file:|\.{0,2}/|~)", re.I)
MAX_INCLUDE_DEPTH = 5
MAX_LINES = 10_000
# A pip-compile --generate-hashes lock of a large data-science stack is ~200 KB; 1 MiB
# is 5x that, and 10 MB of comment lines took 6.7 s to process.
MAX_FILE_CHARS = 1024 * 1024
# Includes are at most MAX_INCLUDE_DEPTH deep but may be many: 4 MiB in all.
MAX_TOTAL_CHARS = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What a requirements file may do; the defaults are the safe ones."""

    allow_index_options: bool = False
    allow_editable: bool = False
    allow_direct_references: bool = False
    prohibited: frozenset[NormalizedName] = DEFAULT_PROHIBITED


@dataclass(frozen=True, slots=True, kw_only=True)
class Processed:
    """Requirements ready for the installer, and what was changed on the way."""

    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    options: tuple[str, ...]
    names: tuple[NormalizedName, ...]
    log: tuple[str, ...]

    def text(self) -> str:
        """The requirements file to give the installer (constraints go in their own file)."""
        return "".join(f"{line}\n" for line in (*self.options, *self.requirements))


@dataclass(slots=True)
class _State:
    policy: Policy
    read: Callable[[str], str]
    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    names: list[NormalizedName] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seen_files: set[str] = field(default_factory=set)
    lines: int = 0
    chars: int = 0


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) with comments stripped and ``\\`` continuations joined."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            yield start, full
    if pending.strip():
        yield start, pending.strip()


def process_requirements(
    text: str, *, name: str, read: Callable[[str], str], policy: Policy | None = None
) -> Processed:
    """Process the requirements file ``name`` (``text``); ``read(path)`` returns an included
    file's text and raises ``ValueError`` for a path outside the bundle.

    Raises ``RequirementsError`` listing every problem.
    """
    state = _State(policy=policy or Policy(), read=read)
    if _admit(state, text, name):
        state.seen_files.add(posixpath.normpath(name))
        _process(state, text, name, depth=0, constraint=False)
    if state.problems:
        raise RequirementsError(state.problems)
    return Processed(
        requirements=tuple(state.requirements),
        constraints=tuple(state.constraints),
        options=tuple(dict.fromkeys(state.options)),
        names=tuple(state.names),
        log=tuple(state.log),
    )


def _admit(state: _State, text: str, name: str) -> bool:
    """True when ``text`` (the file ``name``) is within the size bounds; else a problem."""
    state.chars += len(text)
    if len(text) > MAX_FILE_CHARS:
        state.problems.append(
            f"{name}: {len(text)} characters, more than the {MAX_FILE_CHARS} a requirements "
            "file may have"
        )
        return False
    if state.chars > MAX_TOTAL_CHARS:
        state.problems.append(
            f"{name}: the requirements files reach {state.chars} characters, more than the "
            f"{MAX_TOTAL_CHARS} they may have together"
        )
        return False
    return True


def _process(state: _State, text: str, name: str, *, depth: int, constraint: bool) -> None:
    for number, line in logical_lines(text):
        state.lines += 1
        where = f"{name}:{number}"
        if state.lines > MAX_LINES:
            state.problems.append(f"{where}: more than {MAX_LINES} requirement lines")
            return
        if _VARIABLE.search(line):
            state.problems.append(
                f"{where}: environment variable references (${{…}}) are not allowed: {line!r}"
            )
            continue
        if line.startswith("-"):
            _option(state, line, where, depth=depth, constraint=constraint)
        else:
            _requirement(state, line, where, constraint=constraint)


def _option(state: _State, line: str, where: str, *, depth: int, constraint: bool) -> None:
    try:
        words = shlex.split(line)
    except ValueError as e:
        state.problems.append(f"{where}: cannot parse {line!r}: {e}")
        return
    flag, _, inline = words[0].partition("=")
    value = inline or (words[1] if len(words) > 1 and flag in _TAKES_VALUE else "")
    if flag in ("-r", "--requirement", "-c", "--constraint"):
        _include(
            state,
            value,
            where,
            depth=depth,
            constraint=flag in ("-c", "--constraint") or constraint,
        )
    elif flag in ("-e", "--editable"):
        if state.policy.allow_editable:
            state.requirements.append(line)
            state.log.append(f"{where}: kept editable install {value!r} (allowed by configuration)")
        else:
            state.problems.append(
                f"{where}: editable installs (-e) are not allowed: list a released version instead"
            )
    elif flag in _SOURCE_OPTIONS:
        if state.policy.allow_index_options:
            state.options.append(line)
            state.log.append(f"{where}: kept {flag} (allowed by configuration)")
        else:
            state.problems.append(
                f"{where}: {flag} is not allowed: environments install only from this server's "
                "repository; remove the option"
            )
    elif flag in _PASS_THROUGH:
        state.options.append(line)
    else:
        state.problems.append(
            f"{where}: unsupported option {flag!r} (allowed: -r, -c, --hash, "
            f"{', '.join(sorted(_PASS_THROUGH))})"
        )


def _include(state: _State, path: str, where: str, *, depth: int, constraint: bool) -> None:
    if not path:
        state.problems.append(f"{where}: -r/-c needs a file name")
        return
    if depth >= MAX_INCLUDE_DEPTH:
        state.problems.append(f"{where}: includes nested more than {MAX_INCLUDE_DEPTH} deep")
        return
    if _URLISH.match(path) and "://" in path:
        state.problems.append(
            f"{where}: {path!r} is a URL: -r/-c may only name files in the bundle"
        )
        return
    key = posixpath.normpath(path)
    if key in state.seen_files:
        state.log.append(f"{where}: {path} already included, skipped")
        return
    state.seen_files.add(key)
    try:
        text = state.read(path)
    except (ValueError, OSError) as e:
        state.problems.append(f"{where}: cannot include {path!r}: {_first_line(e)}")
        return
    if not _admit(state, text, path):
        return
    state.log.append(f"{where}: included {'constraints' if constraint else 'requirements'} {path}")
    _process(state, text, path, depth=depth + 1, constraint=constraint)


def _requirement(state: _State, line: str, where: str, *, constraint: bool) -> None:
    hashes = _HASH.findall(line)
    spec = _HASH.sub("", line).strip()
    extra = [w for w in spec.split() if w.startswith("-")]
    if any(w.startswith(_BUILD_OPTIONS) for w in extra):
        state.problems.append(f"{where}: per-requirement build options are not allowed: {line!r}")
        return
    if extra:
        state.problems.append(f"{where}: unsupported option(s) {' '.join(extra)!r} in {line!r}")
        return
    try:
        requirement = Requirement(spec)
    except InvalidRequirement as e:
        if _URLISH.match(spec) or spec.endswith((".whl", ".tar.gz", ".zip")):
            state.problems.append(
                f"{where}: direct URL or path references are not allowed: {spec!r}; "
                "upload the package and require it by name"
            )
        else:
            state.problems.append(f"{where}: invalid requirement {spec!r}: {_first_line(e)}")
        return
    project = canonicalize_name(requirement.name)
    if requirement.url and not state.policy.allow_direct_references:
        state.problems.append(
            f"{where}: direct URL references are not allowed: {spec!r}; "
            "upload the package and require it by name"
        )
        return
    if project.startswith(PUBLISHING_CLIENT_PREFIX):
        state.log.append(
            f"{where}: dropped {spec!r} (the publishing client is not needed at run time)"
        )
        return
    if project in state.policy.prohibited:
        state.log.append(f"{where}: removed prohibited package {spec!r}")
        return
    rendered = str(requirement) + "".join(f" --hash={a}:{h.lower()}" for a, h in hashes)
    if constraint:
        state.constraints.append(rendered)
    else:
        state.requirements.append(rendered)
        state.names.append(project)


def _first_line(error: Exception) -> str:
    """The first line of ``error``'s message: a problem is one line (packaging adds the
    requirement again, with a caret under the fault, on lines of their own)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
