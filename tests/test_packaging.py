"""The wheel built from the repository works installed non-editable into a fresh venv."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from tests.factory import WheelSpec, build_wheel

ROOT = Path(__file__).resolve().parents[1]


# What setuptools says when data files sit in folders it was not told are packages
# (issue #24, item 9: `timeshelf_data = "."` printed four such blocks per install).
# setuptools words it "Package 'timeshelf_data.site' is absent from the `packages`
# configuration" (a BuildBackendWarning, printed by `build` as "WARNING ...").
PACKAGING_WARNINGS = ("BuildBackendWarning", "is absent from", "SetuptoolsDeprecationWarning",
                      "SetuptoolsWarning")


def data_files() -> list[str]:
    """Every file of templates/ and site/ in the checkout, as shipped in the wheel."""
    return sorted(
        f"timeshelf_data/{path.relative_to(ROOT)}"
        for folder in ("templates", "site")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def test_every_package_of_the_checkout_is_listed_for_the_wheel() -> None:
    """``[tool.setuptools] packages`` is a list (the data folders need it): a new
    subpackage missing from it installs nowhere, and only the slow wheel test would say
    so, as an ImportError of the installed command."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    code = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for package in ("generator", "uploader")
        for path in (ROOT / package).rglob("__init__.py")
    }
    data = {
        "timeshelf_data." + ".".join(path.relative_to(ROOT).parts)
        for folder in ("templates", "site")
        for path in [ROOT / folder, *(ROOT / folder).rglob("*")]
        if path.is_dir() and "__pycache__" not in path.parts
    }
    assert sorted(code - listed) == []
    assert sorted(data - listed) == []
    assert sorted(listed - code - data) == []


@pytest.mark.e2e
def test_installed_wheel_initializes_generates_and_prints_nginx_conf(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    )
    said = built.stdout + built.stderr
    assert [w for w in PACKAGING_WARNINGS if w in said] == [], said
    wheel = next((tmp_path / "dist").glob("timeshelf-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "timeshelf_data/templates/simple/project.html" in names
    assert "timeshelf_data/site/nginx.conf.j2" in names
    assert "timeshelf_data/site/static/favicon.ico" in names
    assert [n for n in data_files() if n not in names] == []
    venv.create(tmp_path / "v", with_pip=True)
    python = tmp_path / "v" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TIMESHELF"))}
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True, capture_output=True, env=env,
    )
    # Installed, the data are found in the package, not in a checkout.
    located = subprocess.run(
        [str(python), "-c", "from generator.resources import data_dir; print(data_dir())"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path,
    ).stdout.strip()
    installed = Path(located)
    assert installed.name == "timeshelf_data"
    assert "site-packages" in installed.parts
    shipped = sorted(f"timeshelf_data/{p.relative_to(installed)}"
                     for p in installed.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert shipped == data_files()
    cli = tmp_path / "v" / "bin" / "timeshelf"
    work = tmp_path / "elsewhere"  # not the checkout: templates must come from the wheel
    work.mkdir()
    dist = build_wheel(tmp_path / "dists", WheelSpec("packaged", "1.0"))

    def timeshelf(*args: str) -> str:
        done = subprocess.run(
            [str(cli), *args], capture_output=True, text=True, cwd=work, env=env, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    timeshelf("init", "inst")
    config = str(work / "inst" / "timeshelf.toml")
    timeshelf("--config", config, "add", "--source", "local", str(dist))
    page = work / "inst" / "site" / "python" / "latest" / "simple" / "packaged" / "index.html"
    assert "packaged-1.0-py3-none-any.whl" in page.read_text()
    assert "server {" in timeshelf("--config", config, "nginx-conf", "--standalone")


@pytest.mark.e2e
def test_editable_install_says_nothing_about_packaging(tmp_path: Path) -> None:
    """``make venv`` installs the checkout editable: setuptools must warn about nothing
    (pip shows the backend's output with -v)."""
    venv.create(tmp_path / "v", with_pip=True)
    python = tmp_path / "v" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TIMESHELF"))}
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-v", "--no-deps", "-e", str(ROOT)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    assert [w for w in PACKAGING_WARNINGS if w in said] == [], said
