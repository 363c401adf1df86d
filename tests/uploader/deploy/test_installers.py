"""The installers: which one a bundle gets, what each runs, and that the choice leaves the
cache key as it was (environments built before keep their keys)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from uploader.deploy.environments import plan_build
from uploader.deploy.errors import BuildError, BundleError, PythonError, RequirementsError
from uploader.deploy.installers import (
    Installer,
    Pip,
    Uv,
    choose_installer,
    installer_env,
    installer_problem,
)
from uploader.deploy.pythons import PythonInstall
from uploader.deploy.requirements import Processed

PYTHON = PythonInstall(executable="/opt/python/bin/python", version="3.11.7", pip="24.0",
                       venv=True, bundled_pip="23.2.1", externals=())
NO_VENV = PythonInstall(executable="/opt/bare/bin/python", version="3.11.7", pip=None,
                        venv=False, bundled_pip=None, externals=())


@pytest.fixture(autouse=True)
def _no_uv_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("uploader.deploy.installers.uv_version", lambda binary: "0.5.1")


@pytest.mark.parametrize(
    ("configured", "allow_uv", "uv", "chosen", "logged"),
    [
        ("pip", None, "/bin/uv", Pip(version="23.2.1"), []),
        ("uv", None, "/bin/uv", Uv(binary="/bin/uv", version="0.5.1"), []),
        ("pip", True, "/bin/uv", Uv(binary="/bin/uv", version="0.5.1"),
         ["python.package_manager.allow_uv is true: installing with uv"]),
        ("pip", True, None, Pip(version="23.2.1"), []),
        ("uv", False, "/bin/uv", Pip(version="23.2.1"),
         ["python.package_manager.allow_uv is false: installing with pip"]),
        ("uv", True, "/bin/uv", Uv(binary="/bin/uv", version="0.5.1"), []),
    ],
    ids=["pip", "uv", "allow-uv", "allow-uv-without-uv", "deny-uv", "uv-allowed"],
)
def test_the_installer_a_bundle_gets(
    configured: str, allow_uv: bool | None, uv: str | None, chosen: Installer,
    logged: list[str],
) -> None:
    lines: list[str] = []
    installer = choose_installer(configured, allow_uv=allow_uv, python=PYTHON, uv=uv,
                                 log=lines.append)
    assert installer == chosen
    assert lines == logged


@pytest.mark.parametrize(
    ("configured", "python", "error", "message"),
    [
        ("uv", PYTHON, BuildError, "uv is not installed on the server: install it or use pip"),
        ("pip", NO_VENV, PythonError,
         r"the Python /opt/bare/bin/python \(3.11.7\) cannot create environments with pip"),
    ],
    ids=["uv-missing", "no-venv"],
)
def test_an_installer_that_cannot_run(
    configured: str, python: PythonInstall, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        choose_installer(configured, allow_uv=None, python=python, uv=None, log=print)


def test_the_startup_problem() -> None:
    assert installer_problem("uv", None) == (
        "[python] installer = 'uv' but uv is not installed: install it or use pip"
    )
    assert installer_problem("uv", "/bin/uv") is None
    assert installer_problem("pip", None) is None


def test_statuses_are_what_the_bundle_api_answers() -> None:
    statuses = [e.status for e in (BundleError, RequirementsError, PythonError, BuildError)]
    assert statuses == [400, 422, 422, 503]
    assert str(RequirementsError(["a.txt:1: x", "a.txt:2: y"])).splitlines() == [
        "requirements refused, 2 problems:", "  a.txt:1: x", "  a.txt:2: y"]
    assert str(RequirementsError(["a.txt:1: x"])) == "requirements refused: a.txt:1: x"


def _key(installer: Installer) -> str:
    processed = Processed(requirements=("alpha==1.0",), constraints=(), options=(),
                          names=(canonicalize_name("alpha"),), log=())
    return plan_build(processed, PYTHON, installer=installer,
                      index_url="http://127.0.0.1:1/s/").key


def test_the_cache_key_is_unchanged_and_ignores_the_uv_binary() -> None:
    # The keys of this plan when the installer was a name and a version: environments
    # built then are still hits.
    assert _key(Uv(binary="/bin/uv", version="0.5")) == "ac4848ab198011bdc84286a5ca780a47"
    assert _key(Pip(version="23.2.1")) == "125819fc7497002330be51a93cb5671f"
    assert _key(Uv(binary="/other/uv", version="0.5")) == _key(Uv(binary="uv", version="0.5"))


def test_the_commands_of_each_installer(tmp_path: Path) -> None:
    env = installer_env(tmp_path)
    python, venv = tmp_path / "venv" / "bin" / "python", tmp_path / "venv"
    requirements, constraints = tmp_path / "r.txt", tmp_path / "c.txt"
    pip, uv = Pip(version="24.0"), Uv(binary="/bin/uv", version="0.5")
    assert pip.venv_command("/usr/bin/python3", venv) == [
        "/usr/bin/python3", "-I", "-m", "venv", str(venv)]
    assert uv.venv_command("/usr/bin/python3", venv) == [
        "/bin/uv", "venv", "--quiet", "--python", "/usr/bin/python3", str(venv)]
    pip_install = pip.install_command(python, index_url="http://i/", requirements=requirements,
                                      constraints=constraints, env=env)
    assert pip_install[:4] == [str(python), "-m", "pip", "install"]
    assert ["--cache-dir", str(tmp_path / "pip")] == pip_install[-6:-4]
    uv_install = uv.install_command(python, index_url="http://i/", requirements=requirements,
                                    constraints=constraints, env=env)
    assert uv_install[:5] == ["/bin/uv", "pip", "install", "--python", str(python)]
    assert uv.freeze_command(python) == ["/bin/uv", "pip", "freeze", "--python", str(python)]
    assert pip.freeze_command(python)[1:4] == ["-m", "pip", "freeze"]
    assert (pip.name, uv.name) == ("pip", "uv")
