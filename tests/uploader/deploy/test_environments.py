"""The environment builder: plans and keys (pure), then real builds with pip and uv from
a ``timeshelf serve`` of fixture wheels on 127.0.0.1, the cache, concurrency, failures,
externals, compiling, pruning, and the ``[python]`` configuration.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from generator.config.python import DEFAULT_PROHIBITED, PythonSettings, parse_python_settings
from generator.config.settings import DEFAULT_CONFIG, load_config
from generator.errors import ConfigError
from tests.deployment import fixture_wheels, special, tar_bytes
from tests.servers import make_installation, run_timeshelf, run_timeshelf_serve
from uploader.deploy.builder import Builder, is_pinned
from uploader.deploy.commands import format_size, parse_size
from uploader.deploy.environments import BuildPlan, Environment, EnvironmentCache, plan_build
from uploader.deploy.errors import BuildError, PythonError
from uploader.deploy.installers import Pip, Uv
from uploader.deploy.pythons import PythonInstall, analyse, select_python
from uploader.deploy.requirements import DEFAULT_PROHIBITED as REQUIREMENTS_DEFAULT
from uploader.deploy.requirements import Processed


def install(version: str, externals: tuple[tuple[str, str], ...] = ()) -> PythonInstall:
    return PythonInstall(
        executable=f"/opt/python/{version}/bin/python", version=version, pip="24.0", venv=True,
        bundled_pip="24.0",
        externals=tuple((canonicalize_name(n), v) for n, v in externals),
    )


def processed(*lines: str) -> Processed:
    return Processed(requirements=lines, constraints=(), options=(),
                     names=tuple(canonicalize_name(line.split("=")[0]) for line in lines), log=())


SYSTEM = install("3.11.7", (("numpy", "1.26.4"), ("jinja2", "3.1.6")))


def plan(*lines: str, **options: object) -> BuildPlan:
    arguments: dict[str, object] = {
        "installer": Uv(binary="uv", version="0.5"), "index_url": "http://127.0.0.1:1/s/",
        "externals": ("numpy",), **options,
    }
    python = arguments.pop("python", SYSTEM)
    assert isinstance(python, PythonInstall)
    return plan_build(processed(*lines), python, **arguments)  # type: ignore[arg-type]


# -- pure: plans, keys, selection ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "matching", "from_system"),
    [
        ("numpy==1.20.0", False, True),
        ("numpy==1.20.0", True, False),
        ("numpy==1.26.4", True, True),
        ("numpy>=1.25", True, True),
        ("numpy", True, True),
        ("jinja2==3.1.6", False, False),  # installed in the system, but not configured external
        ("pandas==2.0", False, False),
    ],
    ids=["pin-ignored", "pin-mismatch-matching", "pin-match-matching", "range-match",
         "unpinned", "not-configured", "not-external"],
)
def test_external_decisions(line: str, matching: bool, from_system: bool) -> None:
    lines: list[str] = []
    chosen = plan(line, external_version_matching=matching, log=lines.append)
    assert (chosen.requirements == ()) is from_system
    assert bool(chosen.externals) is from_system
    if from_system:
        assert chosen.externals == (("numpy", "1.26.4"),)
        assert lines == [f"using the system's numpy 1.26.4 for {line!r}"]


BASE = plan("alpha==1.0")


@pytest.mark.parametrize(
    "changed",
    [
        plan("alpha==1.0", python=install("3.11.8")),
        plan("alpha==1.0", installer=Pip(version="0.5")),
        plan("alpha==1.0", installer=Uv(binary="uv", version="0.6")),
        plan("alpha==1.1"),
        plan("alpha==1.0", "beta==1"),
        plan("alpha==1.0", index_url="http://127.0.0.1:1/python/2026-01-01/simple/"),
        plan("alpha==1.0", extra_packages=("gunicorn",)),
        plan("alpha==1.0", "numpy"),
    ],
    ids=["python-patch", "installer", "installer-version", "version", "more", "snapshot",
         "extra-packages", "external"],
)
def test_everything_that_decides_an_environment_changes_its_key(changed: BuildPlan) -> None:
    assert changed.key != BASE.key


def test_the_key_ignores_order_and_the_interpreter_path() -> None:
    moved = dataclasses.replace(SYSTEM, executable="/usr/local/bin/python3")
    assert plan("beta==1", "alpha==1.0").key == plan("alpha==1.0", "beta==1").key
    assert plan("alpha==1.0", python=moved).key == BASE.key


INSTALLS = (install("3.10.13"), install("3.11.2"), install("3.11.7"), install("3.12.1"))


@pytest.mark.parametrize(
    ("version", "requires", "exact", "chosen"),
    [
        ("3.11.2", None, False, "3.11.7"),
        ("3.11.2", None, True, "3.11.2"),
        ("3.10.1", None, False, "3.10.13"),
        (None, ">=3.11,<3.12", False, "3.11.7"),
        ("3.12.1", "<3.11", False, "3.10.13"),
        (None, None, False, "3.12.1"),
    ],
    ids=["minor-highest-patch", "exact", "other-minor", "requires", "requires-wins", "newest"],
)
def test_python_selection(version: str | None, requires: str | None, exact: bool,
                          chosen: str) -> None:
    assert select_python(INSTALLS, version=version, requires=requires, exact=exact).version == chosen


@pytest.mark.parametrize(
    ("version", "requires", "exact", "message"),
    [
        ("3.9.1", None, False, "no configured Python matches the same major.minor as 3.9.1"),
        ("3.11.5", None, True, "no configured Python matches exactly 3.11.5"),
        (None, ">=3.13", False, "no configured Python satisfies >=3.13"),
        ("x", None, False, "invalid Python version 'x'"),
        (None, "~=", False, "invalid environment.python.requires '~='"),
    ],
    ids=["no-minor", "no-exact", "no-requires", "bad-version", "bad-requires"],
)
def test_python_selection_errors(version: str | None, requires: str | None, exact: bool,
                                 message: str) -> None:
    with pytest.raises(PythonError, match=message) as info:
        select_python(INSTALLS, version=version, requires=requires, exact=exact)
    assert "available: 3.10.13" in str(info.value) or "invalid" in message


@pytest.mark.parametrize(
    ("line", "pinned"),
    [("a==1.0", True), ("a===1.0", True), ("a==1.*", False), ("a>=1", False), ("a", False),
     ("a==1.0 --hash=sha256:ab", True), ("a>=1,<2", False)],
    ids=["eq", "arbitrary", "wildcard", "range", "bare", "hashed", "two"],
)
def test_is_pinned(line: str, pinned: bool) -> None:
    assert is_pinned(line) is pinned


# -- configuration ------------------------------------------------------------------------------


def test_default_prohibited_list_is_the_documented_one() -> None:
    documented = tomllib.loads(DEFAULT_CONFIG)["python"]["prohibited"]
    assert set(documented) == set(DEFAULT_PROHIBITED) == set(REQUIREMENTS_DEFAULT)


def test_python_defaults(tmp_path: Path) -> None:
    (tmp_path / "timeshelf.toml").write_text("")
    settings = load_config(tmp_path / "timeshelf.toml").python
    assert settings.executables == (sys.executable,)
    assert settings.environments_dir == tmp_path / "environments"
    assert (settings.installer, settings.snapshot, settings.repository) == ("pip", "", "python")
    assert settings.externals_check_is_fatal is True


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"installer": "conda"}, "installer = 'conda' is invalid: use one of pip, uv"),
        ({"external": "numpy"}, "external = 'numpy' is invalid: expected a list of strings"),
        ({"external": ["not a name"]}, "'not a name' is not a project name"),
        ({"exact_version_matching": "yes"}, "expected true or false"),
        ({"extra_packages": ["gunicorn>=>1"]}, "is not a requirement"),
        ({"snapshot": "yesterday"}, "snapshot = 'yesterday' is invalid: use a date YYYY-MM-DD"),
        ({"snapshot": "2026-02-30"}, "use a date YYYY-MM-DD"),
    ],
    ids=["installer", "external-type", "external-name", "flag", "extra", "snapshot-word",
         "snapshot-day"],
)
def test_bad_python_settings(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_python_settings({"python": table}, Path("/srv"))


# -- real builds ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a ``timeshelf serve`` of the fixture wheels."""
    home = tmp_path_factory.mktemp("index")
    config = make_installation(home / "inst", *fixture_wheels(home / "dists"))
    with run_timeshelf_serve(config) as server:
        yield server.base_url + "/"


def builder(root: Path, index: str, **settings: object) -> Builder:
    chosen = PythonSettings(**{"environments_dir": root, "installer": "uv", **settings})  # type: ignore[arg-type]
    return Builder(chosen, index)


def app(directory: Path, requirements: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "requirements.txt").write_text(requirements)
    return directory


def build(b: Builder, directory: Path, lines: list[str] | None = None) -> Environment:
    log = lines.append if lines is not None else (lambda line: None)
    return b.complete(b.prepare(directory, log=log), log)


def python_of(environment: Environment, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(environment.python_executable), "-c", code], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def built(index: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Environment]:
    """The same requirements built once with pip and once with uv."""
    root = tmp_path_factory.mktemp("envs")
    directory = app(root / "app", "delta==1.0\n")
    return {
        installer: build(builder(root / "cache", index, installer=installer), directory)
        for installer in ("pip", "uv")
    }


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_build_installs_imports_and_keeps_its_lockfile(
    built: dict[str, Environment], installer: str, index: str
) -> None:
    environment = built[installer]
    assert not environment.hit
    assert environment.installer == installer
    done = python_of(environment, "import alpha, beta, gamma, delta; print(beta.__version__)")
    assert done.stdout == "2.0\n", done.stderr
    freeze = (environment.path / "freeze.txt").read_text().splitlines()
    assert {"alpha==1.0", "beta==2.0", "delta==1.0", "gamma==1.0"} <= set(freeze)
    pip_conf = (environment.path / "venv" / "pip.conf").read_text()
    assert f"index-url = {index}python/latest/simple/" in pip_conf
    meta = json.loads((environment.path / "meta.json").read_text())
    assert meta["installer"] == installer
    assert environment.path.parent.name == f"{environment.key}.d"


def test_pip_and_uv_environments_are_different_entries(built: dict[str, Environment]) -> None:
    assert built["pip"].key != built["uv"].key
    assert built["pip"].path.parent.parent == built["uv"].path.parent.parent


def test_a_second_build_is_a_hit_without_an_installer(
    built: dict[str, Environment], index: str, tmp_path: Path
) -> None:
    first = built["uv"]
    cache_root = first.path.parent.parent
    before = sorted(p.name for p in first.path.parent.iterdir())
    lines: list[str] = []
    again = build(builder(cache_root, index, installer="uv"), app(tmp_path / "a", "delta==1.0\n"),
                  lines)
    assert again.hit
    assert again.key == first.key
    assert not any(line.startswith("$ ") for line in lines)
    assert sorted(p.name for p in first.path.parent.iterdir()) == before


def test_concurrent_builds_of_one_key_run_once(index: str, tmp_path: Path) -> None:
    b = builder(tmp_path / "cache", index)
    directory = app(tmp_path / "app", "gamma==1.0\n")
    planned = b.prepare(directory, log=lambda line: None)
    results: list[Environment] = []
    logs: list[list[str]] = [[], [], []]

    def run(i: int) -> None:
        results.append(b.cache.build(planned, logs[i].append))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 3
    assert len({r.key for r in results}) == 1
    assert [r.hit for r in results].count(False) == 1
    assert len(list((tmp_path / "cache" / f"{planned.key}.d").iterdir())) == 1
    installs = [log for log in logs if any("uv pip install" in line for line in log)]
    assert len(installs) == 1
    assert list((tmp_path / "cache" / ".locks").iterdir()) == [], "a lock file was left"


def test_a_failed_build_is_never_cached(index: str, tmp_path: Path) -> None:
    b = builder(tmp_path / "cache", index)
    directory = app(tmp_path / "app", "alpha==9.9\n")
    planned = b.prepare(directory, log=lambda line: None)
    with pytest.raises(BuildError, match="failed with exit code"):
        b.cache.build(planned, lambda line: None)
    assert b.cache.get(planned.key) is None
    # Only the log of the failure is left: no <key>.d/, no link, no lock file.
    root = tmp_path / "cache"
    assert sorted(p.name for p in root.iterdir()) == [".cache", ".locks", "failed"]
    assert list((root / ".locks").iterdir()) == []
    (log,) = (root / "failed").iterdir()
    assert log.name.startswith(f"{planned.key}-")
    assert "alpha==9.9" in log.read_text()


@pytest.mark.parametrize("key", ["0" * 32, "0000", "../../etc", "A" * 32, ""],
                         ids=["unknown", "short", "path", "upper-case", "empty"])
def test_deleting_no_environment_leaves_no_trace(tmp_path: Path, key: str) -> None:
    root = tmp_path / "environments"
    (root / "failed").mkdir(parents=True)
    cache = EnvironmentCache(root)
    assert not cache.delete(key)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["failed"]


def test_externals_bring_their_dependencies_and_nothing_else(index: str, tmp_path: Path) -> None:
    b = builder(tmp_path / "cache", index, external=("jinja2",))
    lines: list[str] = []
    environment = build(b, app(tmp_path / "app", "jinja2==1.0\nalpha==1.0\n"), lines)
    assert any("external jinja2: linked" in line and "markupsafe" in line for line in lines)
    done = python_of(environment, "import jinja2, markupsafe, alpha; print('ok')")
    assert done.stdout == "ok\n", done.stderr
    linked = {p.name.split("-")[0].lower() for p in (environment.path / "venv" / "externals").iterdir()}
    assert {"jinja2", "markupsafe"} <= linked
    assert "flask" not in linked
    assert python_of(environment, "import flask").returncode == 1


def test_extra_packages_are_installed_everywhere(index: str, tmp_path: Path) -> None:
    b = builder(tmp_path / "cache", index, extra_packages=("gamma",))
    environment = build(b, app(tmp_path / "app", "beta==1.0\n"))
    assert python_of(environment, "import beta, gamma").returncode == 0


def test_unpinned_requirements_are_compiled_first(index: str, tmp_path: Path) -> None:
    b = builder(tmp_path / "cache", index, compile_unpinned=True, external=("jinja2",))
    lines: list[str] = []
    environment = build(b, app(tmp_path / "app", "alpha\njinja2\n"), lines)
    assert any("compiled 1 unpinned requirement(s)" in line for line in lines), lines
    requirements = (environment.path / "requirements.txt").read_text().splitlines()
    assert requirements == ["alpha==1.0", "beta==2.0"]
    pinned = b.compile(b.prepare(app(tmp_path / "p", "alpha==1.0\n"), log=lambda line: None),
                       lines.append)
    assert pinned.requirements == ("alpha==1.0",)
    assert lines[-1] == "every requirement is pinned: nothing to compile"


def test_a_snapshot_day_changes_the_index(index: str, tmp_path: Path) -> None:
    b = builder(tmp_path / "cache", index, snapshot="2026-01-05")
    planned = b.prepare(app(tmp_path / "app", "alpha\n"), log=lambda line: None)
    assert planned.index_url == f"{index}python/2026-01-05/simple/"
    assert b.index_url("2026-02-01") == f"{index}python/2026-02-01/simple/"


def test_prune_by_count_and_size_least_recently_used_first(index: str, tmp_path: Path) -> None:
    b = builder(tmp_path / "cache", index)
    made = [build(b, app(tmp_path / name, f"{name}\n"))
            for name in ("beta==1.0", "beta==2.0", "gamma==1.0")]
    for age, environment in zip((300, 100, 200), made, strict=True):
        os.utime(environment.path / "meta.json", (1e9 - age, 1e9 - age))
    assert b.cache.prune(keep=2) == (made[0].key,)
    assert b.cache.prune(max_bytes=made[1].size + 1) == (made[2].key,)
    assert [e.key for e in b.cache.environments()] == [made[1].key]
    assert b.cache.delete(made[1].key)
    assert not b.cache.delete(made[1].key)
    assert b.cache.environments() == ()


def test_startup_check_both_ways(tmp_path: Path) -> None:
    fatal = Builder(PythonSettings(environments_dir=tmp_path, external=("nosuchthing",)),
                    "http://127.0.0.1:1/").check()
    assert fatal.errors == (
        f"{sys.executable} ({analyse(sys.executable).version}): external package "
        "'nosuchthing' is not installed",
    )
    lenient = Builder(PythonSettings(environments_dir=tmp_path, external=("nosuchthing",),
                                     externals_check_is_fatal=False), "http://127.0.0.1:1/").check()
    assert lenient.errors == ()
    assert "it will be installed from the repository" in lenient.warnings[0]
    broken = Builder(PythonSettings(environments_dir=tmp_path, executables=("/nonexistent/py",)),
                     "http://127.0.0.1:1/").check()
    assert "cannot run the Python '/nonexistent/py'" in broken.errors[0]


def test_env_commands_on_the_server(index: str, tmp_path: Path) -> None:
    config = make_installation(tmp_path / "inst")
    text = config.read_text().replace('listen = "127.0.0.1:8000"',
                                      f'listen = "{index[7:-1]}"')
    config.write_text(text.replace('installer = "pip"', 'installer = "uv"'))
    directory = app(tmp_path / "app", "gamma==1.0\n")
    environments = config.parent / "environments"
    empty = run_timeshelf("--config", str(config), "env", "list")
    assert empty.stdout == ""
    assert empty.stderr.splitlines()[-1] == (
        "no environments yet: `timeshelf deploy` a bundle, or `timeshelf env build` one"
    )
    built_ = run_timeshelf("--config", str(config), "env", "build", str(directory))
    key = built_.stdout.split()[0]
    environment = Builder.for_config(load_config(config)).cache.get(key)
    assert environment is not None
    used = datetime.fromtimestamp(environment.last_used, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    size = re.escape(format_size(environment.size))
    assert re.fullmatch(r"[0-9]+\.[0-9] (KiB|MiB)", format_size(environment.size))
    listed = run_timeshelf("--config", str(config), "env", "list").stdout.splitlines()
    assert listed[0].split("\t") == ["ID", "PYTHON", "INSTALLER", "SIZE", "LAST USED", "PATH"]
    assert re.fullmatch(rf"{key}\t3\.[0-9.]+\tuv\t{size}\t{used}\t{environment.path}",
                        listed[1]), listed
    assert len(listed) == 2
    bare = run_timeshelf("--config", str(config), "env", "list", "--no-header").stdout
    assert bare.splitlines() == listed[1:]

    before = sorted(p.relative_to(environments).as_posix() for p in environments.rglob("*"))
    for unknown, message in [
        ("0000", "error: '0000' is not an environment id (32 hex digits): see `timeshelf env list`"),
        ("0" * 32, f"error: no environment '{'0' * 32}': see `timeshelf env list`"),
    ]:
        refused = run_timeshelf("--config", str(config), "env", "delete", unknown, check=False)
        assert refused.returncode == 1
        assert refused.stderr.splitlines() == [message]
    after = sorted(p.relative_to(environments).as_posix() for p in environments.rglob("*"))
    assert after == before, "refused deletions left files (a lock?)"
    assert not any(".locks/" in name for name in after)

    pruned = run_timeshelf("--config", str(config), "env", "prune", "--max-size", "1K")
    assert pruned.stdout.split() == [key]
    missing = run_timeshelf("--config", str(config), "env", "delete", key, check=False)
    assert missing.returncode == 1
    assert f"no environment '{key}'" in missing.stderr
    assert not list((environments / ".locks").iterdir())


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
     (48 * 1024**2 + 200 * 1024, "48.2 MiB"), (10 * 1024**3, "10.0 GiB"),
     (3 * 1024**4, "3.0 TiB")],
    ids=["zero", "bytes", "kib", "kib-half", "mib", "gib", "tib"],
)
def test_sizes_are_shown_as_max_size_reads_them(size: int, shown: str) -> None:
    assert format_size(size) == shown
    if size >= 1024:  # rounded to a tenth: read back within 5 %
        assert abs(parse_size(shown) - size) <= size * 0.05


def test_env_build_prints_every_problem_on_its_line(tmp_path: Path) -> None:
    config = make_installation(tmp_path / "inst")
    directory = app(tmp_path / "app", "-i http://127.0.0.1:9/simple\nalpha\n-e ./src\n")
    refused = run_timeshelf("--config", str(config), "env", "build", str(directory), check=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    first = lines.index("error: requirements refused, 2 problems:")
    assert lines[first:] == [
        "error: requirements refused, 2 problems:",
        "  requirements.txt:1: -i is not allowed: environments install only from this "
        "server's repository; remove the option",
        "  requirements.txt:3: editable installs (-e) are not allowed: list a released "
        "version instead",
    ]
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(tar_bytes([("requirements.txt", b"alpha\n"), ("/abs", b""),
                                   special("dev", tarfile.CHRTYPE)]))
    refused = run_timeshelf("--config", str(config), "env", "build", str(archive), check=False)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-3:] == [
        "error: the bundle cannot be extracted, 2 problems:",
        "  bundle member '/abs' is an absolute path: use paths relative to the app",
        "  bundle member 'dev' is a device, FIFO or other special file",
    ]
    assert not list((config.parent / "environments" / ".incoming").iterdir())


def test_the_key_lock_excludes_though_its_file_is_removed(tmp_path: Path) -> None:
    # Each holder removes the lock file; a waiter that locked the removed file must lock
    # again, or it and a newcomer (who made a new file) would both hold the key.
    cache = EnvironmentCache(tmp_path)
    holders: list[int] = []
    overlaps: list[int] = []

    def work() -> None:
        for _ in range(40):
            with cache._lock("0" * 32):
                holders.append(1)
                if len(holders) > 1:
                    overlaps.append(len(holders))
                time.sleep(0.0005)
                holders.pop()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert overlaps == []
    assert list((tmp_path / ".locks").iterdir()) == []
