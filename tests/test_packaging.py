"""The wheel built from the repository works installed non-editable into a fresh venv."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.factory import WheelSpec, build_wheel

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_installed_wheel_initializes_generates_and_prints_nginx_conf(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    wheel = next((tmp_path / "dist").glob("timeshelf-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "timeshelf_data/templates/simple/project.html" in names
    assert "timeshelf_data/site/nginx.conf.j2" in names
    venv.create(tmp_path / "v", with_pip=True)
    python = tmp_path / "v" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TIMESHELF"))}
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True, capture_output=True, env=env,
    )
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
