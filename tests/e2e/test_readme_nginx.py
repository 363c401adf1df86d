"""The README's standalone nginx steps, run exactly as printed (issue #24, item 10).

The two lines of "Serve it" that write ``nginx.conf`` and start nginx are taken from
README.md, typed into a shell in an installation's directory (as the tour's ``cd demo``
leaves you), and must serve the site in the foreground, keep the pid file, access log
and temporary directories in ``ngx/``, log no error, and stop on Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factory import WheelSpec, build_wheel
from tests.servers import NGINX, http_get, make_installation

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def readme_lines(*needles: str) -> list[str]:
    """The console lines (without ``$ `` and trailing comments) holding each needle."""
    lines = [line[2:] for line in (ROOT / "README.md").read_text().splitlines()
             if line.startswith("$ ")]
    found = []
    for needle in needles:
        matches = [line for line in lines if needle in line]
        assert len(matches) == 1, (needle, matches)
        found.append(re.sub(r"\s+#.*$", "", matches[0]))
    return found


def test_standalone_nginx_steps_work_as_printed(tmp_path: Path) -> None:
    write_conf, start = readme_lines("nginx-conf --standalone", "nginx -p")
    assert write_conf == ("timeshelf nginx-conf --standalone --listen 127.0.0.1:8080 "
                          "> nginx.conf")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 8080)) != 0, "port 8080 is taken: free it"
    config = make_installation(tmp_path / "demo",
                               build_wheel(tmp_path / "dists", WheelSpec("mylib", "1.0")))
    demo = config.parent
    path = os.pathsep.join([str(Path(sys.executable).parent), str(Path(NGINX).parent),
                            os.environ.get("PATH", "")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMESHELF")}
    env["PATH"] = path
    subprocess.run(["sh", "-c", write_conf], cwd=demo, env=env, check=True, timeout=60)
    nginx = subprocess.Popen(["sh", "-c", start], cwd=demo, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", 8080)) == 0:
                    break
            assert nginx.poll() is None, nginx.communicate()[0].decode()
            assert time.monotonic() < deadline, "nginx did not answer on 127.0.0.1:8080"
            time.sleep(0.1)
        page = http_get("http://127.0.0.1:8080/python/latest/simple/mylib/")
        assert page.status == 200
        assert b"mylib-1.0-py3-none-any.whl" in page.body
        assert http_get("http://127.0.0.1:8080/favicon.ico").status == 200
        assert nginx.poll() is None, "the standalone config runs nginx in the foreground"
        ngx = demo / "ngx"
        os.kill(int((ngx / "nginx.pid").read_text()), 0)  # the running nginx's pid
        assert (ngx / "access.log").is_file()
        assert {p.name for p in ngx.iterdir() if p.name.endswith("_temp")} >= {
            "client_body_temp", "proxy_temp"}
        os.killpg(nginx.pid, signal.SIGINT)  # Ctrl-C
        output = nginx.communicate(timeout=20)[0].decode()
    finally:
        if nginx.poll() is None:
            os.killpg(nginx.pid, signal.SIGKILL)
            nginx.wait()
    assert not [line for line in output.splitlines()
                if re.search(r"\[(error|crit|alert|emerg)\]", line)], output
    assert not (demo / "ngx" / "logs").exists()
    shutil.rmtree(demo / "ngx")
