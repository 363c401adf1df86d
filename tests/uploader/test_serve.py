"""``timeshelf serve``: the printed setup instructions, the address checks, a real start."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from waitress.adjustments import Adjustments

from generator.config.settings import Config
from generator.records import Repo, Source
from tests.servers import (
    LOOPBACK,
    free_port,
    http_get,
    make_installation,
    run_timeshelf,
    run_timeshelf_serve,
)
from uploader.serve import base_url, cli_command, server_options, setup_instructions


def config(public_url: str = "", listen: str = "127.0.0.1:8000") -> Config:
    root = Path("/srv/timeshelf")
    return Config(
        file=root / "timeshelf.toml", catalog_path=root / "catalog.sqlite3",
        store_path=root / "site/files", output_path=root / "site", listen=listen,
        public_url=public_url, max_request_size=1000, threads=2,
        secret_path=root / "secret.key",
    )


@pytest.mark.parametrize(
    ("public_url", "listen", "expected"),
    [
        ("", None, "http://127.0.0.1:8000/"),
        ("https://127.0.0.1:8443/py", None, "https://127.0.0.1:8443/py/"),
        ("https://127.0.0.1:8443/py/", "127.0.0.1:9000", "https://127.0.0.1:8443/py/"),
        ("", "0.0.0.0:9000", "http://127.0.0.1:9000/"),
        ("", "[::]:9000", "http://[::1]:9000/"),
    ],
    ids=["listen-default", "public-url", "public-url-wins", "any-ipv4", "any-ipv6"],
)
def test_base_url(public_url: str, listen: str | None, expected: str) -> None:
    assert base_url(config(public_url), listen) == expected


REPOS = (
    Repo(id=1, name="python", type="python", description="", sources=("local", "mirror")),
    Repo(id=2, name="frozen", type="python", description="", sources=("mirror",)),
)
SOURCES = (
    Source(id=1, name="local", type="local-python", upstream=None),
    Source(id=2, name="mirror", type="pypi", upstream="http://127.0.0.1:1/simple/"),
)


@pytest.mark.parametrize(
    ("line", "present"),
    [
        ("pip install --index-url http://127.0.0.1:8000/python/latest/simple/ "
         "--trusted-host 127.0.0.1:8000 PACKAGE", True),
        ("uv pip install --index-url http://127.0.0.1:8000/frozen/latest/simple/ PACKAGE", True),
        ("http://127.0.0.1:8000/python/YYYY-MM-DD/simple/", True),
        ("TWINE_USERNAME=__token__ TWINE_PASSWORD=<token> twine upload "
         "--repository-url http://127.0.0.1:8000/upload/pypi/local/ dist/*", True),
        ("timeshelf create token --description uploads --sources local", True),
        ("uv publish --publish-url http://127.0.0.1:8000/upload/pypi/local/", True),
        ("upload/pypi/mirror/", False),
    ],
    ids=["pip", "uv", "snapshot", "twine", "token", "uv-publish", "no-upload-to-mirror"],
)
def test_setup_instructions(line: str, present: bool) -> None:
    text = setup_instructions("http://127.0.0.1:8000/", REPOS, SOURCES)
    assert (line in text) is present, text


def test_https_needs_no_trusted_host() -> None:
    text = setup_instructions("https://127.0.0.1:8443/", REPOS, SOURCES)
    assert "--trusted-host" not in text
    assert "https://127.0.0.1:8443/python/latest/simple/" in text


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_installation(tmp_path_factory.mktemp("serve") / "inst")


def test_serve_prints_instructions_and_serves(installation: Path) -> None:
    with run_timeshelf_serve(installation) as server:
        page = http_get(server.url("/python/latest/simple/"))
        assert page.status == 200
        assert page.header("Server") == "timeshelf"
        output = server.output()
    assert f"--index-url {server.base_url}/python/latest/simple/" in output
    assert f"--repository-url {server.base_url}/upload/pypi/local/" in output


@pytest.mark.parametrize(
    ("listen", "message"),
    [("nonsense", "listen address 'nonsense' is invalid: use HOST:PORT"),
     ("127.0.0.1:0x50", "is invalid: use HOST:PORT")],
    ids=["no-port", "bad-port"],
)
def test_serve_refuses_bad_addresses(installation: Path, listen: str, message: str) -> None:
    done = run_timeshelf("--config", str(installation), "serve", "--listen", listen, check=False)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_reports_a_busy_port_in_one_line(installation: Path) -> None:
    with socket.socket() as busy:
        port = free_port()
        busy.bind((LOOPBACK, port))
        busy.listen()
        done = run_timeshelf("--config", str(installation), "serve", "--listen",
                             f"{LOOPBACK}:{port}", check=False)
    assert done.returncode == 1
    assert f"cannot listen on {LOOPBACK}:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("connection_limit", 500), ("channel_timeout", 120), ("cleanup_interval", 10),
     ("backlog", 1024), ("threads", 2), ("max_request_body_size", 1000)],
    ids=["connection-limit", "channel-timeout", "cleanup-interval", "backlog", "threads",
         "body-size"],
)
def test_waitress_gets_the_configured_limits(option: str, value: int) -> None:
    options = server_options(config())
    assert options[option] == value
    # waitress accepts every option and keeps its value.
    adjusted = Adjustments(**options)
    assert getattr(adjusted, option) == value


def test_every_url_follows_the_address_served(tmp_path: Path) -> None:
    """``serve --listen`` on another port than ``[server] listen`` (public_url empty): the
    pages ``add`` generated for 127.0.0.1:8000 are made again for the served address,
    with a warning, and the banner, the web UI and an environment build all use it."""
    from tests.deployment import bundle_bytes, deploy, deploy_config, fixture_wheels

    config = make_installation(tmp_path / "inst", *fixture_wheels(tmp_path / "dists"))
    deploy_config(config, installer="pip")
    old = "http://127.0.0.1:8000/"
    site = config.parent / "site"
    assert old in (site / "python" / "index.html").read_text()
    token = run_timeshelf("--config", str(config), "create", "token", "--description", "t",
                          "--sources", "local", "--scope", "deploy", "-q").stdout.strip()
    with run_timeshelf_serve(config) as server:
        base = server.base_url + "/"
        output = server.output()
        assert (f"warning: the pages of python were generated for {old}, not for {base}: "
                "generating them again") in output
        assert f'[server] listen = "{server.address}"' in output
        assert f"timeshelf is serving {base}" in output
        pages = [http_get(server.url(p)).body.decode() for p in ("/", "/python/",
                                                                "/python/project/gamma/")]
        for page in pages:
            assert "127.0.0.1:8000" not in page
        assert f"{base}python/latest/simple/" in pages[1]
        assert f"{base}upload/pypi/local/" in pages[1]
        task = deploy(server.base_url, token, bundle_bytes("gamma==1.0\n"))
        assert task["code"] == 0, task["output"]
        assert any(base in line for line in task["output"]), task["output"]
    confs = list((config.parent / "environments").glob("*.d/*/pip.conf"))
    confs += list((config.parent / "environments").glob("*.d/*/*/pip.conf"))
    assert confs
    for conf in confs:
        assert f"index-url = {base}python/latest/simple/" in conf.read_text()


def test_ui_worker_renders_for_the_address_served(tmp_path: Path) -> None:
    """A large repository's UI is rendered by a worker process: it is told the address
    ``serve --listen`` moved the site to, as it cannot read that from the file."""
    from generator.installation import ui_worker_main
    from generator.output.uistate import read_state

    config = make_installation(tmp_path / "inst")
    assert ui_worker_main([str(config), "python", "127.0.0.1:8100"]) == 0
    state = read_state(config.parent / "site" / "python")
    assert state is not None
    assert state.base_url == "http://127.0.0.1:8100/"


@pytest.mark.parametrize(
    ("program", "config_file", "expected"),
    [
        ("/repo/.venv/bin/timeshelf", "/repo/.run/timeshelf.toml",
         ".venv/bin/timeshelf --config .run/timeshelf.toml"),
        ("/opt/ts/bin/timeshelf", "/srv/my inst/timeshelf.toml",
         "/opt/ts/bin/timeshelf --config '/srv/my inst/timeshelf.toml'"),
        ("/repo/timeshelf", "/repo/timeshelf.toml", "./timeshelf --config ./timeshelf.toml"),
    ],
    ids=["under-cwd", "elsewhere-quoted", "bare-name"],
)
def test_cli_command_works_as_printed_from_cwd(
    program: str, config_file: str, expected: str
) -> None:
    assert cli_command(Path(config_file), program, Path("/repo")) == expected
