"""The environment builder, run on the server: a bundle in, a cached environment out.

This is the server side of a deploy (the bundle API and ``timeshelf env build`` call it;
the client that uploads bundles is ``uploader.deploy.client``). Two steps, so that everything a deployer can fix is answered before anything runs:

- ``Builder.prepare`` (fast, no installer, no network): the manifest and its checksums,
  the requirements processed under the configured policy, the Python selected, the
  ``Installer`` chosen (``installers.choose_installer``), and the ``BuildPlan`` with its
  cache key. Every change is logged.
- ``Builder.complete`` (slow, in the background): unpinned requirements compiled with
  pip-tools when configured, then the environment built, or reused on a cache hit.

The Pythons are analysed once (``Builder.check``, which ``timeshelf serve`` and
``timeshelf python check`` run at startup); errors are ``BundleError``,
``RequirementsError``, ``PythonError`` (all ``ValueError``: the bundle's fault) or
``BuildError`` (uv missing, or the build failed), see ``uploader.deploy.errors``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from generator.config.python import PythonSettings, check_snapshot_date
from generator.config.settings import Config
from generator.errors import ConfigError
from uploader.deploy.bundles import (
    BundleLimits,
    extract_bundle,
    read_manifest,
    reader,
    requirements_file,
    verify_checksums,
)
from uploader.deploy.environments import BuildPlan, Environment, EnvironmentCache, plan_build
from uploader.deploy.errors import PythonError
from uploader.deploy.installers import choose_installer, find_uv, installer_env, installer_problem
from uploader.deploy.pythons import PythonInstall, analyse, check_installs, select_python
from uploader.deploy.requirements import Policy, process_requirements

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class PythonCheck:
    """The startup analysis: usable installations, fatal errors, warnings."""

    installs: tuple[PythonInstall, ...]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


class Builder:
    """Plans and builds bundle environments with the configured Pythons and policy.

    ``uv`` is the uv binary installers may use (default: the one ``find_uv`` finds, looked
    for once, here); None when there is none.
    """

    def __init__(
        self,
        settings: PythonSettings,
        base_url: str,
        *,
        installs: tuple[PythonInstall, ...] | None = None,
        limits: BundleLimits | None = None,
        uv: str | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.cache = EnvironmentCache(settings.environments_dir)
        self.limits = limits or BundleLimits()
        self.uv = uv or find_uv()
        self._installs = installs
        self._lock = threading.Lock()

    @classmethod
    def for_config(cls, config: Config, base_url: str | None = None) -> Builder:
        """The builder of an installation; bundles are bounded by its request size too."""
        limit = min(BundleLimits().max_compressed, config.max_request_size)
        return cls(
            config.python, base_url or config.base_url, limits=BundleLimits(max_compressed=limit)
        )

    # -- startup ---------------------------------------------------------------------------

    def check(self) -> PythonCheck:
        """Analyse every configured interpreter (and uv when it is the installer)."""
        settings = self.settings
        installs, errors, warnings = [], [], []
        for executable in settings.executables:
            try:
                installs.append(analyse(executable, settings.external))
            except PythonError as e:
                errors.append(str(e))
        for problem in check_installs(installs, settings.external):
            if "external package" in problem and not settings.externals_check_is_fatal:
                warnings.append(problem + " (it will be installed from the repository)")
            else:
                errors.append(problem)
        unusable = installer_problem(settings.installer, self.uv)
        if unusable is not None:
            errors.append(unusable)
        with self._lock:
            self._installs = tuple(installs)
        return PythonCheck(installs=tuple(installs), errors=tuple(errors), warnings=tuple(warnings))

    @property
    def installs(self) -> tuple[PythonInstall, ...]:
        """The analysed interpreters (analysed now if ``check`` has not run)."""
        if self._installs is None:
            self.check()
        assert self._installs is not None
        return self._installs

    # -- planning --------------------------------------------------------------------------

    def index_url(self, snapshot: str | None = None) -> str:
        """This server's repository index, as of ``snapshot`` (or the configured day, or latest)."""
        day = check_snapshot_date(snapshot or "", "snapshot") or self.settings.snapshot
        return f"{self.base_url}{self.settings.repository}/{day or 'latest'}/simple/"

    @property
    def policy(self) -> Policy:
        settings = self.settings
        return Policy(
            allow_index_options=settings.allow_index_options,
            allow_editable=settings.allow_editable,
            allow_direct_references=settings.allow_direct_references,
            prohibited=frozenset(canonicalize_name(n) for n in settings.prohibited),
        )

    def prepare(self, root: Path, *, log: Log, snapshot: str | None = None) -> BuildPlan:
        """The plan for the bundle extracted at ``root``; raises the bundle's problems."""
        manifest = read_manifest(root, self.limits)
        if manifest is not None:
            verify_checksums(root, manifest)
            log(f"manifest.json: checksums of {len(manifest.checksums)} file(s) verified")
        else:
            log("no manifest.json: using requirements.txt and the newest Python")
        name, text = requirements_file(root, manifest)
        processed = process_requirements(text, name=name, read=reader(root), policy=self.policy)
        for line in processed.log:
            log(line)
        python = select_python(
            self.installs,
            version=manifest.python_version if manifest else None,
            requires=manifest.python_requires if manifest else None,
            exact=self.settings.exact_version_matching,
        )
        asked = (
            f"environment.python.requires {manifest.python_requires}"
            if manifest and manifest.python_requires
            else f"python.version {manifest.python_version}"
            if manifest and manifest.python_version
            else "no version asked"
        )
        log(f"Python {python.version} ({python.executable}) selected ({asked})")
        installer = choose_installer(
            self.settings.installer,
            allow_uv=manifest.allow_uv if manifest is not None else None,
            python=python,
            uv=self.uv,
            log=log,
        )
        index = self.index_url(snapshot)
        log(f"installing with {installer.name} {installer.version} from {index}")
        return plan_build(
            processed,
            python,
            installer=installer,
            index_url=index,
            extra_packages=self.settings.extra_packages,
            externals=self.settings.external,
            external_version_matching=self.settings.external_version_matching,
            log=log,
        )

    # -- building --------------------------------------------------------------------------

    def complete(self, plan: BuildPlan, log: Log) -> Environment:
        """Compile (when configured) and build or reuse the environment of ``plan``."""
        if self.settings.compile_unpinned:
            plan = self.compile(plan, log)
        return self.cache.build(plan, log)

    def compile(self, plan: BuildPlan, log: Log) -> BuildPlan:
        """``plan`` with unpinned requirements resolved by pip-compile against its index."""
        unpinned = [line for line in plan.requirements if not is_pinned(line)]
        if not unpinned:
            log("every requirement is pinned: nothing to compile")
            return plan
        if any("--hash=" in line for line in plan.requirements):
            log("requirements carry hashes: not compiled (pip checks them as given)")
            return plan
        work = self.settings.environments_dir / ".cache"
        work.mkdir(parents=True, exist_ok=True)
        env = installer_env(work)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            source, output = Path(tmp) / "requirements.in", Path(tmp) / "requirements.txt"
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("".join(f"{c}\n" for c in plan.constraints))
            source.write_text(
                "".join(f"{line}\n" for line in (*plan.options, *plan.requirements))
                + ("-c constraints.txt\n" if plan.constraints else "")
            )
            self.cache.run(
                [
                    sys.executable, "-m", "piptools", "compile", "--quiet", "--no-header",
                    "--no-annotate", "--no-emit-index-url", "--no-emit-trusted-host", "--no-strip-extras",
                    "--index-url", plan.index_url, "--cache-dir", env["PIP_CACHE_DIR"],
                    "--output-file", str(output), str(source),
                ],
                log,
                env,
            )
            lines = [
                line.strip()
                for line in output.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "-"))
            ]
        system = {name for name, _ in plan.externals}
        kept = [line for line in lines if canonicalize_name(Requirement(line).name) not in system]
        log(
            f"compiled {len(unpinned)} unpinned requirement(s) against {plan.index_url}: "
            f"{len(kept)} pinned"
        )
        return dataclasses.replace(plan, requirements=tuple(kept))


def startup_builder(config: Config, base_url: str, warn: Log) -> Builder:
    """A checked builder for ``timeshelf serve``: warnings go to ``warn``; a fatal problem
    is a ``ConfigError`` of one line (the first problem, and how to see them all)."""
    builder = Builder.for_config(config, base_url)
    result = builder.check()
    for warning in result.warnings:
        warn(f"warning: {warning}")
    if result.errors:
        more = len(result.errors) - 1
        raise ConfigError(
            f"[python] check failed: {result.errors[0]}"
            + (f" (and {more} more problem(s): run `timeshelf python check`)" if more else "")
        )
    return builder


def is_pinned(line: str) -> bool:
    """Whether a requirement line names exactly one version (``==X`` without a wildcard)."""
    requirement = Requirement(line.split(" --hash=")[0])
    specifiers = list(requirement.specifier)
    return (
        len(specifiers) == 1
        and specifiers[0].operator in ("==", "===")
        and not specifiers[0].version.endswith("*")
    )


@contextlib.contextmanager
def unpacked(path: Path, workdir: Path, limits: BundleLimits | None = None) -> Iterator[Path]:
    """The bundle at ``path`` as a directory: a directory as is, a gzip tar extracted
    safely into a private temporary directory under ``workdir`` (removed on exit)."""
    if path.is_dir():
        yield path
        return
    workdir.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="bundle-", dir=workdir))
    try:
        os.chmod(private, 0o700)
        target = private / "app"
        target.mkdir()
        yield extract_bundle(path, target, limits)
    finally:
        shutil.rmtree(private, ignore_errors=True)
