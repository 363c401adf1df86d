"""Building and caching the virtual environments of deployed bundles.

An environment is identified by its cache key: the hash of everything that decides its
contents (Python full version, installer and its version, the processed requirements
and constraints, the index URL, extra packages, and which externals were taken from the
system). A hit reuses the environment without running an installer.

Layout under the environments directory::

    <key>                  symlink to the live build (replaced atomically)
    <key>.d/<build-id>/    a build: venv/, requirements.txt, freeze.txt, meta.json
    .locks/<key>.lock      one build per key at a time (others wait, then hit);
                           there only while a build or a deletion of the key runs
    failed/<key>-<id>.log  logs of failed builds (a failure is never cached)

Builds happen in a fresh ``<key>.d/<build-id>/`` (virtualenvs are not relocatable, so
the directory never moves) and become live by renaming a symlink into place. A failed
build leaves only its log: no ``<key>.d/``, no lock file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from uploader.deploy.errors import BuildError
from uploader.deploy.installers import Installer, installer_env
from uploader.deploy.pythons import PythonInstall
from uploader.deploy.requirements import Processed

Log = Callable[[str], None]
_KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildPlan:
    """Everything a build needs, decided before it starts; ``key`` identifies the result."""

    python: PythonInstall
    installer: Installer
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    options: tuple[str, ...]
    index_url: str
    extra_packages: tuple[str, ...]
    externals: tuple[tuple[NormalizedName, str], ...]

    @property
    def key(self) -> str:
        document = {
            "python": self.python.version,
            "installer": [self.installer.name, self.installer.version],
            "requirements": sorted(self.requirements),
            "constraints": sorted(self.constraints),
            "options": sorted(self.options),
            "index": self.index_url,
            "extra": sorted(self.extra_packages),
            "externals": [list(e) for e in self.externals],
        }
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(data).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    """A built environment (``hit``: reused from the cache, not built by this request)."""

    key: str
    path: Path
    python: str
    installer: str
    created: float
    last_used: float
    size: int
    hit: bool

    @property
    def python_executable(self) -> Path:
        return self.path / "venv" / "bin" / "python"

    def packages(self) -> tuple[str, ...]:
        """The lockfile's lines (``freeze.txt``, written by the build); empty without one."""
        freeze = self.path / "freeze.txt"
        if not freeze.is_file():
            return ()
        return tuple(line for line in freeze.read_text().splitlines() if line.strip())


def plan_build(
    processed: Processed,
    python: PythonInstall,
    *,
    installer: Installer,
    index_url: str,
    extra_packages: Sequence[str] = (),
    externals: Sequence[str] = (),
    external_version_matching: bool = False,
    log: Log = lambda line: None,
) -> BuildPlan:
    """Decide the build: which lines the system's externals satisfy, and the rest."""
    chosen_externals: list[tuple[NormalizedName, str]] = []
    wanted_externals = {canonicalize_name(e) for e in externals}
    requirements: list[str] = []
    for line in processed.requirements:
        requirement = Requirement(line.split(" --hash=")[0])
        name = canonicalize_name(requirement.name)
        system = python.external_version(name) if name in wanted_externals else None
        if system is None:
            requirements.append(line)
            continue
        if (
            external_version_matching
            and requirement.specifier
            and system not in requirement.specifier
        ):
            log(
                f"external {name} {system} does not satisfy {line!r}: installing from the repository"
            )
            requirements.append(line)
            continue
        log(f"using the system's {name} {system} for {line!r}")
        chosen_externals.append((name, system))
    return BuildPlan(
        python=python,
        installer=installer,
        requirements=tuple(requirements),
        constraints=processed.constraints,
        options=processed.options,
        index_url=index_url,
        extra_packages=tuple(extra_packages),
        externals=tuple(sorted(set(chosen_externals))),
    )


class EnvironmentCache:
    """The environments directory: lookups, builds (one per key at a time), listing, pruning."""

    def __init__(self, root: Path, timeout: float = 1800.0) -> None:
        self.root = root
        self.timeout = timeout

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        """Hold the key's lock; its file is removed on release, so none is left behind.

        A waiter may have opened the file its holder then removed: once it holds that
        lock it sees the path gone (or another file there) and takes the lock again.
        """
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        path = locks / f"{key}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = _lstat(path)
            if current is not None and os.path.samestat(current, os.fstat(fd)):
                break
            os.close(fd)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            os.close(fd)

    def get(self, key: str) -> Environment | None:
        link = self.root / key
        meta = link / "meta.json"
        if not meta.is_file():
            return None
        data = json.loads(meta.read_text())
        return Environment(
            key=key,
            path=link.resolve(),
            python=data["python"],
            installer=data["installer"],
            created=data["created"],
            last_used=_last_used(link),
            size=data.get("size", 0),
            hit=True,
        )

    def build(self, plan: BuildPlan, log: Log) -> Environment:
        """The environment for ``plan``: cached, or built now. ``BuildError`` on failure."""
        key = plan.key
        existing = self.get(key)
        if existing is not None:
            _touch(self.root / key)
            log(f"environment {key} is cached: reusing it (no installer run)")
            return existing
        with self._lock(key):
            existing = self.get(key)  # built by a concurrent request while we waited
            if existing is not None:
                _touch(self.root / key)
                log(f"environment {key} was built meanwhile: reusing it")
                return existing
            return self._build(plan, key, log)

    def _build(self, plan: BuildPlan, key: str, log: Log) -> Environment:
        build_id = uuid.uuid4().hex[:12]
        target = self.root / f"{key}.d" / build_id
        target.mkdir(parents=True)
        lines: list[str] = []

        def record(line: str) -> None:
            lines.append(line)
            log(line)

        started = time.monotonic()
        try:
            self._create(plan, target, record)
            record(f"environment {key} built in {time.monotonic() - started:.1f} s")
        except BaseException as e:
            if isinstance(e, BuildError):
                failed = self.root / "failed"
                failed.mkdir(parents=True, exist_ok=True)
                (failed / f"{key}-{build_id}.log").write_text("\n".join([*lines, str(e)]) + "\n")
            shutil.rmtree(target, ignore_errors=True)
            # The key's lock is held: no other build of it can be using <key>.d/.
            with contextlib.suppress(OSError):
                target.parent.rmdir()
            raise
        size = _tree_size(target)
        meta = {
            "key": key,
            "python": plan.python.version,
            "installer": plan.installer.name,
            "created": time.time(),
            "size": size,
        }
        (target / "meta.json").write_text(json.dumps(meta, sort_keys=True) + "\n")
        link = self.root / f".{key}.{build_id}.link"
        os.symlink(f"{key}.d/{build_id}", link)
        os.replace(link, self.root / key)
        environment = self.get(key)
        assert environment is not None
        return dataclasses.replace(environment, hit=False)

    def run(self, argv: Sequence[str], log: Log, env: dict[str, str] | None = None) -> str:
        """Run a command, its output to ``log``; its stdout. ``BuildError`` if it fails."""
        log("$ " + " ".join(argv))
        try:
            done = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BuildError(f"{argv[0]} could not run: {e}") from e
        for line in (done.stdout + done.stderr).splitlines():
            log(line)
        if done.returncode != 0:
            raise BuildError(f"{' '.join(argv[:3])} failed with exit code {done.returncode}")
        return done.stdout

    def _create(self, plan: BuildPlan, target: Path, log: Log) -> None:
        venv, python = target / "venv", target / "venv" / "bin" / "python"
        env = installer_env(self.root / ".cache")
        requirements = target / "requirements.txt"
        requirements.write_text(
            "".join(
                f"{line}\n" for line in (*plan.options, *plan.requirements, *plan.extra_packages)
            )
        )
        constraints = target / "constraints.txt"
        constraints.write_text("".join(f"{line}\n" for line in plan.constraints))
        self.run(plan.installer.venv_command(plan.python.executable, venv), log, env)
        # The environment's own pip configuration: our index, our timeouts, nothing else.
        (venv / "pip.conf").write_text(
            f"[global]\nindex-url = {plan.index_url}\ntimeout = 60\nretries = 2\n"
            "disable-pip-version-check = true\nno-input = true\n"
        )
        self._link_externals(plan, venv, log)
        if plan.requirements or plan.extra_packages:
            command = plan.installer.install_command(
                python, index_url=plan.index_url, requirements=requirements,
                constraints=constraints, env=env,
            )
            self.run(command, log, env)
        freeze = self.run(plan.installer.freeze_command(python), lambda _: None, env)
        (target / "freeze.txt").write_text(freeze)
        log(f"lockfile: {len(freeze.splitlines())} packages")

    def _link_externals(self, plan: BuildPlan, venv: Path, log: Log) -> None:
        """Make only the chosen externals importable from the system installation."""
        if not plan.externals:
            return
        names = [name for name, _ in plan.externals]
        found = json.loads(
            self.run(
                [plan.python.executable, "-I", "-c", _EXTERNALS_PROBE, *names], lambda _: None
            )
        )
        shared = venv / "externals"
        shared.mkdir()
        for name, entry in found.items():
            for path in entry["paths"]:
                link = shared / Path(path).name
                if not link.exists():
                    os.symlink(path, link)
            closure = ", ".join(entry["dependencies"]) or "none"
            log(
                f"external {name}: linked from {plan.python.executable} "
                f"with its installed dependencies ({closure})"
            )
        site = next((venv / "lib").glob("python*/site-packages"))
        (site / "timeshelf-externals.pth").write_text(str(shared) + "\n")

    def environments(self) -> tuple[Environment, ...]:
        """Every live environment, by key."""
        found: list[Environment] = []
        if not self.root.is_dir():
            return ()
        for entry in sorted(self.root.iterdir()):
            if entry.is_symlink() and not entry.name.startswith("."):
                environment = self.get(entry.name)
                if environment is not None:
                    found.append(environment)
        return tuple(found)

    def delete(self, key: str) -> bool:
        """Remove an environment (waits for a build of it to finish); False if unknown:
        a key that is no environment id, or names none, leaves no trace (not even a lock)."""
        if not is_environment_key(key) or not (self.root / key).is_symlink():
            return False
        with self._lock(key):
            link = self.root / key
            if not link.is_symlink():
                return False
            link.unlink()
            shutil.rmtree(self.root / f"{key}.d", ignore_errors=True)
            return True

    def prune(self, *, keep: int | None = None, max_bytes: int | None = None) -> tuple[str, ...]:
        """Delete least recently used environments until within ``keep`` and ``max_bytes``."""
        environments = sorted(self.environments(), key=lambda e: e.last_used)
        removed: list[str] = []
        total = sum(e.size for e in environments)
        while environments and (
            (keep is not None and len(environments) > keep)
            or (max_bytes is not None and total > max_bytes)
        ):
            oldest = environments.pop(0)
            if self.delete(oldest.key):
                removed.append(oldest.key)
                total -= oldest.size
        return tuple(removed)


# Run by the system interpreter: for each external, the top-level paths (packages,
# modules, .dist-info) of it and of its installed dependency closure, so that an external
# imports (jinja2 needs markupsafe) while nothing else of the system becomes visible.
# Dependencies behind an ``extra ==`` marker are left out: the bundle did not ask for them.
_EXTERNALS_PROBE = r"""
import importlib.metadata as m, json, pathlib, re, sys
def tops(d):
    base = pathlib.Path(d.locate_file(""))
    names = {pathlib.Path(str(f)).parts[0] for f in (d.files or []) if not str(f).startswith("..")}
    return [str(base / t) for t in sorted(names) if (base / t).exists()]
def norm(n):
    return re.sub(r"[-_.]+", "-", n).lower()
out = {}
for name in sys.argv[1:]:
    seen, todo, paths = set(), [name], []
    while todo:
        current = norm(todo.pop())
        if current in seen:
            continue
        try:
            d = m.distribution(current)
        except m.PackageNotFoundError:
            continue
        seen.add(current)
        paths += tops(d)
        for line in d.requires or []:
            if re.search(r"\bextra\s*==", line):
                continue
            todo.append(re.match(r"\s*([A-Za-z0-9._-]+)", line).group(1))
    out[name] = {"paths": paths, "dependencies": sorted(seen - {norm(name)})}
print(json.dumps(out))
"""


def is_environment_key(text: str) -> bool:
    """Whether ``text`` has the form of an environment id (``BuildPlan.key``)."""
    return _KEY.fullmatch(text) is not None


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _touch(link: Path) -> None:
    with contextlib.suppress(OSError):
        (link / "meta.json").touch()


def _last_used(link: Path) -> float:
    try:
        return (link / "meta.json").stat().st_mtime
    except OSError:
        return 0.0


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total

