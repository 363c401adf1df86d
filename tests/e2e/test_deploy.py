"""End to end: bundles made by the real rsconnect-python client and by ``timeshelf
bundle``, deployed with ``timeshelf deploy`` to a real ``timeshelf serve`` that builds
from its own repository of fixture wheels; the startup check of ``serve`` both ways.

rsconnect-python is installed once per session into a tool virtualenv from the package
registry this machine is configured for (the only network use of the tests).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deployment import deploy_config, fixture_wheels, md5, special, tar_bytes
from tests.e2e.conftest import UV, client_env, run
from tests.servers import (
    ServerFailed,
    free_port,
    make_installation,
    run_timeshelf,
    run_timeshelf_serve,
    timeshelf_command,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def rsconnect(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a tool virtualenv with rsconnect-python installed."""
    home = tmp_path_factory.mktemp("rsconnect")
    venv.create(home / "venv", with_pip=True)
    python = home / "venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "rsconnect-python"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            "cannot install rsconnect-python from the package registry (pip install "
            f"rsconnect-python exited {done.returncode}); these tests need it:\n{done.stderr[-2000:]}"
        )
    return python


@dataclass(frozen=True)
class Sidecar:
    base_url: str
    config: Path
    token: str

    def deploy(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return run_timeshelf("deploy", *map(str, args), "--server", self.base_url,
                             env={"TIMESHELF_TOKEN": self.token}, check=False)

    def builds(self) -> set[str]:
        root = self.config.parent / "environments"
        return {str(p) for p in root.glob("*.d/*")}


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    home = tmp_path_factory.mktemp("deploy-e2e")
    config = make_installation(home / "inst", *fixture_wheels(home / "dists"))
    deploy_config(config, installer="uv")
    token = run_timeshelf("--config", str(config), "create", "token", "--description", "e2e",
                          "--sources", "local", "--scope", "deploy", "-q").stdout.strip()
    with run_timeshelf_serve(config) as server:
        yield Sidecar(server.base_url, config, token)


def environment_of(output: str) -> str:
    match = re.search(r"^environment ([0-9a-f]{32}) is ready$", output, re.MULTILINE)
    assert match, output
    return match[1]


def python_in(sidecar: Sidecar, key: str) -> str:
    return str(sidecar.config.parent / "environments" / key / "venv" / "bin" / "python")


def test_an_rsconnect_bundle_builds_imports_and_then_hits_the_cache(
    sidecar: Sidecar, rsconnect: Path, tmp_path: Path
) -> None:
    app = tmp_path / "api"
    app.mkdir()
    (app / "app.py").write_text("import alpha, gamma\napp = None\n")
    (app / "requirements.txt").write_text("alpha==1.0\ngamma==1.0\npywin32==306\n")
    run([rsconnect.parent / "rsconnect", "write-manifest", "api", app])
    manifest = json.loads((app / "manifest.json").read_text())
    assert set(manifest["files"]) == {"app.py", "requirements.txt"}
    bundle = tmp_path / "bundle.tar.gz"
    # rsconnect's own bundler for a manifest (what `rsconnect deploy manifest` uploads).
    run([rsconnect, "-c",
         "import shutil, sys\nfrom rsconnect.bundle import make_manifest_bundle\n"
         "with open(sys.argv[2], 'wb') as out:\n"
         "    shutil.copyfileobj(make_manifest_bundle(sys.argv[1]), out)\n",
         app / "manifest.json", bundle])
    with tarfile.open(bundle) as tar:
        assert tar.getnames()[0] == "manifest.json"

    first = sidecar.deploy(bundle)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "removed prohibited package 'pywin32==306'" in first.stdout
    key = environment_of(first.stdout)
    done = run([python_in(sidecar, key), "-c", "import alpha, beta, gamma; print('ok')"])
    assert done.stdout == "ok\n"

    builds = sidecar.builds()
    again = sidecar.deploy(bundle)
    assert again.returncode == 0, again.stderr
    assert environment_of(again.stdout) == key
    assert "is cached: reusing it (no installer run)" in again.stdout
    assert "$ " not in again.stdout
    assert sidecar.builds() == builds


@pytest.fixture(scope="module")
def client_venv(sidecar: Sidecar, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with delta (and so alpha, beta, gamma) installed from the sidecar."""
    home = tmp_path_factory.mktemp("client")
    env = client_env(home)
    run([UV, "venv", "--quiet", "--python", sys.executable, home / "venv"], env=env)
    run([UV, "pip", "install", "--quiet", "--python", home / "venv" / "bin" / "python",
         "--index-url", f"{sidecar.base_url}/python/latest/simple/", "delta==1.0"], env=env)
    return home / "venv" / "bin" / "python"


def test_timeshelf_bundle_writes_pip_freeze_and_the_rsconnect_layout(
    client_venv: Path, tmp_path: Path
) -> None:
    app = tmp_path / "dash"
    for name, data in {
        "app.py": b"import delta\n", "pages/home.py": b"x = 1\n", ".git/HEAD": b"ref\n",
        "__pycache__/app.cpython-311.pyc": b"\0", "node_modules/x.js": b"",
    }.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_bytes(data)
    venv.create(app / "localenv")  # a virtualenv inside the app is never bundled
    out = tmp_path / "out.tar.gz"
    done = run_timeshelf("bundle", str(app), "--python", str(client_venv), "-o", str(out))
    assert done.stdout.strip() == str(out)
    with tarfile.open(out) as tar:
        names = tar.getnames()
        read = {n: tar.extractfile(n).read() for n in names}  # type: ignore[union-attr]
    assert names[:2] == ["manifest.json", "requirements.txt"]
    assert sorted(names[2:]) == ["app.py", "pages/home.py"]
    manifest = json.loads(read["manifest.json"])
    assert manifest["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert manifest["python"]["package_manager"]["name"] == "pip"
    for name, entry in manifest["files"].items():
        assert entry["checksum"] == md5(read[name])
    requirements = read["requirements.txt"].decode().splitlines()
    assert requirements[0].startswith("# requirements.txt generated by timeshelf bundle")
    assert {"alpha==1.0", "beta==2.0", "delta==1.0", "gamma==1.0"} <= set(requirements)


def test_deploy_a_directory(sidecar: Sidecar, client_venv: Path, tmp_path: Path) -> None:
    app = tmp_path / "svc"
    app.mkdir()
    (app / "app.py").write_text("import delta\n")
    done = sidecar.deploy(app, "--python", client_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "using `pip freeze`" in done.stderr
    key = environment_of(done.stdout)
    assert run([python_in(sidecar, key), "-c", "import delta"]).returncode == 0


def test_a_failed_build_exits_1_after_printing_its_log(sidecar: Sidecar, tmp_path: Path) -> None:
    app = tmp_path / "broken"
    app.mkdir()
    (app / "requirements.txt").write_text("alpha==7.7\n")
    done = sidecar.deploy(app)
    assert done.returncode == 1
    assert "alpha==7.7" in done.stdout
    assert "build failed: " in done.stdout


def test_a_refused_bundle_is_one_line(sidecar: Sidecar, tmp_path: Path) -> None:
    app = tmp_path / "hostile"
    app.mkdir()
    (app / "requirements.txt").write_text("--extra-index-url http://127.0.0.1:9/simple\nalpha\n")
    done = sidecar.deploy(app)
    assert done.returncode == 1
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert "answered 422: requirements refused: requirements.txt:1: --extra-index-url is not" in line
    assert "Traceback" not in done.stderr


def test_a_refused_bundle_prints_each_problem_on_its_line(
    sidecar: Sidecar, tmp_path: Path
) -> None:
    app = tmp_path / "many"
    app.mkdir()
    (app / "requirements.txt").write_text(
        "--extra-index-url http://127.0.0.1:9/simple\n-e ./src\nalpha\n"
        "alpha @ http://127.0.0.1:9/alpha-1.0.whl\n"
    )
    done = sidecar.deploy(app)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    assert lines[first:] == [
        f"error: POST {sidecar.base_url}/__api__/bundles answered 422: requirements refused, "
        "3 problems:",
        "  requirements.txt:1: --extra-index-url is not allowed: environments install only "
        "from this server's repository; remove the option",
        "  requirements.txt:2: editable installs (-e) are not allowed: list a released version "
        "instead",
        "  requirements.txt:4: direct URL references are not allowed: "
        "'alpha @ http://127.0.0.1:9/alpha-1.0.whl'; upload the package and require it by name",
    ]


def test_a_bundle_with_bad_members_prints_each_on_its_line(
    sidecar: Sidecar, tmp_path: Path
) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(tar_bytes([
        ("requirements.txt", b"alpha\n"), special("h", tarfile.LNKTYPE, "requirements.txt"),
        ("../up.txt", b"x"), special("p", tarfile.FIFOTYPE),
    ]))
    done = sidecar.deploy(archive)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    assert lines[first:] == [
        f"error: POST {sidecar.base_url}/__api__/bundles answered 400: invalid bundle: the "
        "bundle cannot be extracted, 3 problems:",
        "  bundle member 'h' is a hard link: not allowed",
        "  bundle member '../up.txt' leaves the bundle ('..')",
        "  bundle member 'p' is a device, FIFO or other special file",
    ]


def test_deploy_without_a_token(sidecar: Sidecar, tmp_path: Path) -> None:
    done = run_timeshelf("deploy", str(tmp_path), "--server", sidecar.base_url,
                         env={"TIMESHELF_TOKEN": ""}, check=False)
    assert done.returncode == 2
    assert "deploy needs a token: pass --token or set TIMESHELF_TOKEN" in done.stderr


# -- the startup check ------------------------------------------------------------------------


@pytest.mark.parametrize("fatal", [True, False], ids=["fatal", "warning"])
def test_python_check_and_serve_with_a_missing_external(tmp_path: Path, fatal: bool) -> None:
    config = make_installation(tmp_path / "inst")
    deploy_config(config, external=["nosuchthing"], externals_check_is_fatal=fatal)
    check = run_timeshelf("--config", str(config), "python", "check", check=False)
    assert check.stdout.startswith(f"{sys.executable}\tPython ")
    problem = "external package 'nosuchthing' is not installed"
    assert problem in check.stderr
    if fatal:
        assert check.returncode == 1
        serve = subprocess.run(
            timeshelf_command("--config", str(config), "serve", "--listen",
                              f"127.0.0.1:{free_port()}"),
            capture_output=True, text=True, timeout=60, env=dict(os.environ), check=False,
        )
        assert serve.returncode == 1
        assert serve.stderr.strip().splitlines() == [
            f"error: [python] check failed: {sys.executable} "
            f"({'.'.join(map(str, sys.version_info[:3]))}): {problem}"
        ]
    else:
        assert check.returncode == 0
        assert "warning: " in check.stderr
        try:
            with run_timeshelf_serve(config) as server:
                assert problem in server.output()
        except ServerFailed as e:  # pragma: no cover - the failure's output says why
            pytest.fail(str(e))
