"""Fixtures for the end-to-end tests: a real installation served by a real nginx.

One installation and one nginx (on a free 127.0.0.1 port, configured with the output of
``timeshelf nginx-conf --standalone``) are shared by all tests of a module; each test
adds projects of its own, so tests do not see each other's packages.

pip and uv run with an environment stripped of every ``PIP_*``/``UV_*`` variable and
of proxies, with configuration files and caches off: the machine's global pip
configuration (extra indexes, find-links, constraints) must not leak into a test, and
no test may reach the internet.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from tests.factory import build_sdist
from tests.servers import NGINX, free_port, nginx_conf_for, run_nginx

TIMESHELF = Path(sys.executable).with_name("timeshelf")
PYTHON = Path(sys.executable)
UV = Path(sys.executable).with_name("uv")
CLIENTS = ("pip", "uv")
REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def client_env(home: Path, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """An environment for pip and uv that no configuration of this machine reaches.

    Variables starting with any of ``drop`` (upper-cased) are left out too.
    """
    dropped = ("PIP_", "UV_", "TIMESHELF_", *drop)
    env = {
        k: v for k, v in os.environ.items()
        if not k.upper().startswith(dropped) and not k.lower().endswith("_proxy")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_PROXY="127.0.0.1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_CACHE_DIR="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_PROGRESS_BAR="off",
        UV_NO_CACHE="1",
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
    )
    return env


def run(args: Sequence[str | Path], env: Mapping[str, str] | None = None,
        check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command; on an unexpected exit status fail with its whole output."""
    done = subprocess.run(
        [str(a) for a in args], env=dict(env) if env is not None else None,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done


def timeshelf_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without ``TIMESHELF_*`` (a stray ``TIMESHELF_NOW``), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMESHELF_")}
    env.update(extra or {})
    return env


def installed(target: Path) -> dict[str, str]:
    """``{normalized name: version}`` of the distributions in a ``--target`` directory."""
    found: dict[str, str] = {}
    for dist in metadata.distributions(path=[str(target)]):
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        found[name] = dist.version
    return found


def install_into(
    target: Path, client: str, index_url: str, requirement: str, client_home: Path
) -> tuple[int, dict[str, str], str]:
    """``requirement`` installed by ``client`` ("pip" or "uv") from ``index_url`` into
    ``target``: the exit code, what ``target`` then holds, and what the client said."""
    index = ["--index-url", index_url]
    if client == "pip":
        args: list[str | Path] = [PYTHON, "-m", "pip", "install", "--target", target, *index,
                                  requirement]
    else:
        args = [UV, "pip", "install", "--python", PYTHON, "--target", target, *index,
                requirement]
    done = run(args, env=client_env(client_home), check=False)
    return done.returncode, installed(target) if target.exists() else {}, \
        done.stdout + done.stderr


@dataclass
class Site:
    """An installation and the nginx serving its output on 127.0.0.1."""

    home: Path
    config: Path
    port: int
    access_log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}python/latest/simple/"

    @property
    def output(self) -> Path:
        return self.home / "site"

    @property
    def file_index_url(self) -> str:
        """The same index read from disk: clients get ``index.html`` (no negotiation), as
        from a static host that cannot negotiate (an S3 website)."""
        return (self.output / "python" / "latest" / "simple").as_uri() + "/"

    def timeshelf(self, *args: str | Path, env: Mapping[str, str] | None = None,
                  check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real ``timeshelf`` CLI against this installation."""
        return run([TIMESHELF, "--config", self.config, *args], env=timeshelf_env(env),
                   check=check)

    def add(self, *files: Path, source: str = "local",
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.timeshelf("add", "--source", source, *files, env=env)

    def log_mark(self) -> int:
        """A position in the access log; ``requests_since`` reads what came after it."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def requests_since(self, mark: int) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every request logged after ``mark``."""
        # nginx logs a request after sending its last byte: a client can exit first.
        size, deadline = -1, time.monotonic() + 2
        while size != self.access_log.stat().st_size and time.monotonic() < deadline:
            size = self.access_log.stat().st_size
            time.sleep(0.05)
        with self.access_log.open("rb") as log:
            log.seek(mark)
            lines = log.read().decode(errors="replace").splitlines()
        found = []
        for line in lines:
            m = REQUEST_LINE.search(line)
            if m:
                found.append((m["method"], m["path"], int(m["status"])))
        return found


@dataclass
class Clients:
    """pip and uv, isolated, installing from a site into fresh ``--target`` directories."""

    site: Site
    work: Path
    env: dict[str, str]
    _count: int = 0

    def fresh_dir(self, stem: str) -> Path:
        self._count += 1
        path = self.work / f"{stem}-{self._count}"
        path.mkdir(parents=True)
        return path

    def install(self, client: str, *requirements: str, options: Sequence[str] = (),
                index_url: str | None = None, check: bool = True
                ) -> tuple[Path, subprocess.CompletedProcess[str]]:
        """Install into a fresh target with the real ``client`` from ``index_url`` (default:
        the site over HTTP; ``""``: no index, for ``--find-links`` in ``options``);
        returns the target and the run."""
        target = self.fresh_dir(f"{client}-target")
        index = self.site.index_url if index_url is None else index_url
        index_args = ["--index-url", index] if index else ["--no-index"]
        if client == "pip":
            args: list[str | Path] = [
                PYTHON, "-m", "pip", "install", "--target", target, *index_args,
                *options, *requirements,
            ]
        elif client == "uv":
            args = [
                UV, "pip", "install", "--python", PYTHON, "--target", target,
                *index_args, *options, *requirements,
            ]
        else:
            raise ValueError(f"unknown client {client!r}: use pip or uv")
        return target, run(args, env=self.env, check=check)

    def pip(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([PYTHON, "-m", "pip", *args], env=self.env, check=check)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A fresh installation (``timeshelf init``) served by nginx on a free port, with the
    configuration ``timeshelf nginx-conf --standalone`` prints."""
    if shutil.which(NGINX) is None:
        pytest.fail(f"nginx ({NGINX}) is not installed: `make test` installs it")
    home = tmp_path_factory.mktemp("installation")
    run([TIMESHELF, "init", home], env=timeshelf_env())
    config = home / "timeshelf.toml"
    conf = nginx_conf_for(config, listen=f"127.0.0.1:{free_port()}")
    with run_nginx(conf, tmp_path_factory.mktemp("nginx")) as nginx:
        yield Site(home=home, config=config, port=nginx.port,
                   access_log=nginx.extra["access_log"])


@pytest.fixture(scope="module")
def clients(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Clients:
    work = tmp_path_factory.mktemp("clients")
    home = work / "home"
    home.mkdir()
    return Clients(site=site, work=work, env=client_env(home))


@pytest.fixture
def dists(tmp_path: Path) -> Path:
    """A directory for this test's wheels and sdists."""
    path = tmp_path / "dists"
    path.mkdir()
    return path


# A PEP 517 backend with no requirements, shipped inside the sdist (``backend-path``):
# it turns the sdist into a pure wheel, so pip and uv can build our sdists offline.
IN_TREE_BACKEND = '''\
import base64, hashlib, os, re, zipfile

def _pkg_info():
    with open("PKG-INFO", encoding="utf-8") as f:
        return f.read()

def _field(text, name):
    return re.search(rf"^{name}: (.*)$", text, re.M).group(1).strip()

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    text = _pkg_info()
    name = re.sub(r"[-_.]+", "_", _field(text, "Name")).lower()
    version = _field(text, "Version")
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\\n".encode(),
        f"{info}/METADATA": text.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: e2e\\nRoot-Is-Purelib: true\\n"
                         b"Tag: py3-none-any\\n",
    }
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\\n".join(lines) + f"\\n{info}/RECORD,,\\n").encode()
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return filename
'''


def build_buildable_sdist(directory: Path, name: str, version: str) -> Path:
    """A real sdist that pip and uv can build offline (its backend is inside it)."""
    top = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"
    pyproject = (
        "[build-system]\nrequires = []\nbuild-backend = 'backend'\nbackend-path = ['.']\n"
    )
    return build_sdist(directory, name, version, extra={
        f"{top}/pyproject.toml": pyproject.encode(),
        f"{top}/backend.py": IN_TREE_BACKEND.encode(),
    })

