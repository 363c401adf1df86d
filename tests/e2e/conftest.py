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

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.factory import build_sdist

TIMESHELF = Path(sys.executable).with_name("timeshelf")
PYTHON = Path(sys.executable)
UV = Path(sys.executable).with_name("uv")
NGINX = Path("/usr/sbin/nginx")
CLIENTS = ("pip", "uv")
REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def nginx_binary() -> Path:
    """The nginx to run: Debian's, else the first on PATH; fails (never skips) without one."""
    if NGINX.is_file():
        return NGINX
    found = shutil.which("nginx")
    if found is None:
        pytest.fail("nginx is not installed: `make test` installs it (apt-get install nginx-light)")
    return Path(found)


def client_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for pip and uv that no configuration of this machine reaches."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TIMESHELF_")) and not k.lower().endswith("_proxy")
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
    env.update(extra or {})
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


def installed(target: Path) -> dict[str, str]:
    """``{normalized name: version}`` of the distributions in a ``--target`` directory."""
    found: dict[str, str] = {}
    for dist in metadata.distributions(path=[str(target)]):
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        found[name] = dist.version
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    pytest.fail(f"nginx did not listen on 127.0.0.1:{port} within 10 s")


@dataclass
class Site:
    """An installation and the nginx serving its output on 127.0.0.1."""

    home: Path
    config: Path
    port: int
    nginx_dir: Path

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
    def access_log(self) -> Path:
        return self.nginx_dir / "logs" / "access.log"

    def timeshelf(self, *args: str | Path, env: Mapping[str, str] | None = None,
                  check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real ``timeshelf`` CLI against this installation."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TIMESHELF_")}
        full_env.update(env or {})
        return run([TIMESHELF, "--config", self.config, *args], env=full_env, check=check)

    def add(self, *files: Path, source: str = "local",
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.timeshelf("add", "--source", source, *files, env=env)

    def log_mark(self) -> int:
        """A position in the access log; ``requests_since`` reads what came after it."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def requests_since(self, mark: int) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every request logged after ``mark``."""
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
                index: bool = True, check: bool = True
                ) -> tuple[Path, subprocess.CompletedProcess[str]]:
        """Install into a fresh target with the real ``client`` from the site's index
        (unless not ``index``); returns the target and the run."""
        target = self.fresh_dir(f"{client}-target")
        index_args = ["--index-url", self.site.index_url] if index else []
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


def _fallback_conf(site: Site) -> str:
    # TEMPORARY until generator/nginx.py lands.
    return f"""
daemon off;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log;
events {{ worker_connections 64; }}
http {{
  include /etc/nginx/mime.types;
  access_log logs/access.log;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  map $http_accept $simple_index {{
    default index.html;
    "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
  }}
  server {{
    listen 127.0.0.1:{site.port};
    root {site.output};
    location ~ /simple/ {{
      index $simple_index;
      types {{ text/html html; application/vnd.pypi.simple.v1+json json; }}
    }}
  }}
}}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A fresh installation (``timeshelf init``) served by nginx on a free port."""
    binary = nginx_binary()
    home = tmp_path_factory.mktemp("installation")
    nginx_dir = tmp_path_factory.mktemp("nginx")
    for sub in ("logs", "tmp"):
        (nginx_dir / sub).mkdir()
    run([TIMESHELF, "init", home])
    site = Site(home=home, config=home / "timeshelf.toml", port=free_port(), nginx_dir=nginx_dir)
    if (Path(__file__).parents[2] / "generator" / "nginx.py").exists():
        conf_text = site.timeshelf(
            "nginx-conf", "--listen", f"127.0.0.1:{site.port}", "--standalone"
        ).stdout
    else:
        conf_text = _fallback_conf(site)
    conf = nginx_dir / "nginx.conf"
    conf.write_text(conf_text)
    # Run as root (CI containers), nginx would hand requests to workers running as
    # "nobody", who cannot read pytest's private temporary directories.
    as_root = ["-g", "user root;"] if os.geteuid() == 0 else []
    command = [str(binary), "-p", str(nginx_dir), "-c", str(conf), *as_root]
    run([*command, "-t"])
    stderr = nginx_dir / "stderr.log"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL, stderr=err,
        )
    try:
        wait_for_port(site.port, process, stderr)
        yield site
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def http_get(url: str, headers: Mapping[str, str] | None = None) -> Response:
    """One GET to 127.0.0.1 that does not follow redirects (header names lowercased)."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", url
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers=dict(headers or {}))
        response = connection.getresponse()
        return Response(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=response.read(),
        )
    finally:
        connection.close()
