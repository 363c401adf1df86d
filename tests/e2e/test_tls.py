"""HTTPS: with ``[server] tls_certificate`` and ``tls_key``, ``timeshelf nginx-conf`` writes
an HTTPS server; real nginx serves it with a self-signed certificate made by
``openssl req -x509``, and pip installs through it with ``--cert`` (no
``--trusted-host``), which the printed setup instructions no longer mention."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generator.config.settings import load_config
from tests.e2e.conftest import PYTHON, client_env, installed, run
from tests.factory import WheelSpec, build_wheel
from tests.servers import free_port, make_installation, nginx_conf_for, run_nginx

pytestmark = pytest.mark.e2e


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM), valid for a day."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (Debian's openssl package)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def test_pip_installs_over_https_with_the_certificate(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dists", WheelSpec("secure-lib", "1.0"))
    config = make_installation(tmp_path / "inst", wheel)
    cert, key = self_signed(tmp_path)
    port = free_port()
    text = config.read_text()
    text = text.replace('tls_certificate = ""', f'tls_certificate = "{cert}"')
    text = text.replace('tls_key = ""', f'tls_key = "{key}"')
    text = text.replace('public_url = ""', f'public_url = "https://127.0.0.1:{port}/"')
    config.write_text(text)

    conf = nginx_conf_for(config, listen=f"127.0.0.1:{port}")
    assert f"listen 127.0.0.1:{port} ssl;" in conf
    assert f'ssl_certificate "{cert}";' in conf
    with run_nginx(conf, tmp_path / "nginx"):
        # Only --cert decides what pip trusts (requests prefers these variables to it).
        env = {k: v for k, v in client_env(tmp_path / "home").items()
               if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}
        target = tmp_path / "target"
        run([PYTHON, "-m", "pip", "install", "--target", target, "--cert", cert,
             "--index-url", f"https://127.0.0.1:{port}/python/latest/simple/", "secure-lib"],
            env=env)
        assert installed(target) == {"secure-lib": "1.0"}
        # Without the certificate pip refuses the server: TLS is really on.
        refused = run([PYTHON, "-m", "pip", "download", "--no-deps", "-d", tmp_path / "dl",
                       "--index-url", f"https://127.0.0.1:{port}/python/latest/simple/",
                       "--retries", "0", "secure-lib"], env=env, check=False)
        assert refused.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stdout + refused.stderr


def test_setup_instructions_drop_trusted_host_with_tls(tmp_path: Path) -> None:
    from generator.records import Repo
    from uploader.serve import base_url, setup_instructions

    config = make_installation(tmp_path / "inst")
    cert, key = self_signed(tmp_path)
    text = config.read_text()
    text = text.replace('tls_certificate = ""', f'tls_certificate = "{cert}"')
    text = text.replace('tls_key = ""', f'tls_key = "{key}"')
    config.write_text(text)
    loaded = load_config(config)
    assert loaded.base_url == "https://127.0.0.1:8000/"
    repo = Repo(id=1, name="python", type="python", description="", sources=("local",))
    printed = setup_instructions(base_url(loaded, None), [repo], [])
    assert "--trusted-host" not in printed
    assert "pip install --index-url https://127.0.0.1:8000/python/latest/simple/ " in printed
