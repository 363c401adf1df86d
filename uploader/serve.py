"""``timeshelf serve``: the sidecar (and, by default, the static site) under waitress.

waitress is a production WSGI server: pure Python, threaded in one process (SQLite
writes and page generation stay in one place), with its own request-body limit, so an
oversized upload is refused before Flask reads it.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from waitress.server import create_server

from generator.config.settings import Config
from generator.errors import ConfigError
from generator.installation import Installation
from generator.records import Repo, Source
from generator.render.client_setup import index_url, upload_url
from generator.serving.nginx import check_address
from uploader.app import create_app
from uploader.logs import configure_logging

# Seconds an idle or stalled connection is kept: long enough for a slow upload link
# between chunks, short enough that dead clients do not pin worker threads.
CHANNEL_TIMEOUT = 120
# Open connections waitress keeps before it stops accepting (its default is 100).
# channel_timeout counts only inactivity, so a client sending a byte every < 120 s keeps
# its connection: with 100 such, `serve` took no one else. 500 makes that lockout cost
# 5x the sockets and stays well under select()'s 1024 descriptors (waitress polls with
# select) and the usual `ulimit -n` of 1024. Behind nginx, nginx bounds slow clients.
CONNECTION_LIMIT = 500
# Seconds between waitress's sweeps for channels past CHANNEL_TIMEOUT (default 30):
# closed stalled connections are reclaimed sooner.
CLEANUP_INTERVAL = 10
# Connections the kernel queues while all CONNECTION_LIMIT are open (waitress's default).
BACKLOG = 1024


def server_options(config: Config) -> dict[str, Any]:
    """The keyword arguments ``run`` gives ``waitress.server.create_server`` for ``config``
    (besides the app and ``listen``)."""
    return {
        "threads": config.threads,
        "max_request_body_size": config.max_request_size,
        "channel_timeout": CHANNEL_TIMEOUT,
        "connection_limit": CONNECTION_LIMIT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "backlog": BACKLOG,
        # Nothing is trusted as a proxy, so forwarded headers from clients are dropped.
        "clear_untrusted_proxy_headers": True,
        "ident": "timeshelf",
    }


def base_url(config: Config, listen: str | None) -> str:
    """The site URL clients should use, ending in ``/``: ``Config.base_url`` of the
    configuration as served at ``listen`` (``[server] public_url`` when set, else the
    address served, an any-address host printed as the loopback address)."""
    if listen is not None:
        check_address(listen, "listen address")
    return config.serving_at(listen).base_url


def cli_command(config_file: Path, program: str | None = None, cwd: Path | None = None) -> str:
    """``timeshelf --config FILE`` as a command that works as printed from ``cwd`` (default:
    the current directory): this very program (a virtualenv's script need not be on
    ``PATH``; default ``sys.argv[0]``) and the configuration in use, relative to ``cwd``
    when under it."""
    here = (cwd or Path.cwd()).absolute()
    script = Path(program or sys.argv[0])
    if script.name == "timeshelf":
        command = _shown(script, here)
    else:  # python -m uploader.cli, or an embedding program
        command = f"{shlex.quote(_shown(Path(sys.executable), here))} -m uploader.cli"
    return f"{command} --config {_shown(config_file, here)}"


def _shown(path: Path, cwd: Path) -> str:
    """``path`` as typed in ``cwd``: relative when under it (``./`` before a bare name,
    which the shell would look up on ``PATH``), else absolute; quoted for the shell."""
    absolute = path if path.is_absolute() else cwd / path
    try:
        text = str(absolute.relative_to(cwd))
        text = text if "/" in text else f"./{text}"
    except ValueError:
        text = str(absolute)
    return shlex.quote(text)


def setup_instructions(
    base: str, repos: Iterable[Repo], sources: Iterable[Source], command: str = "timeshelf",
) -> str:
    """How to point pip, uv and twine at the site at ``base`` (text for a terminal);
    ``command`` runs this installation's CLI (``cli_command``) in what it prints."""
    lines = [f"timeshelf is serving {base}", ""]
    plain_http = base.startswith("http://")
    trusted = f" --trusted-host {urlsplit(base).netloc}" if plain_http else ""
    for repo in repos:
        index = index_url(base, repo.name)
        lines += [
            f"repository {repo.name!r}:",
            f"  pip install --index-url {index}{trusted} PACKAGE",
            f"  uv pip install --index-url {index} PACKAGE",
            f"  frozen as of a day: {index_url(base, repo.name, 'YYYY-MM-DD')}",
            "",
        ]
    for source in sources:
        if source.type != "local-python":
            continue
        upload = upload_url(base, source.name)
        lines += [
            f"upload to source {source.name!r} (token: {command} create token "
            f"--description uploads --sources {source.name}):",
            f"  TWINE_USERNAME=__token__ TWINE_PASSWORD=<token> twine upload "
            f"--repository-url {upload} dist/*",
            f"  uv publish --publish-url {upload} --token <token> dist/*",
            "",
        ]
    return "\n".join(lines)


def run(inst: Installation, listen: str | None) -> None:
    """Serve ``inst`` on ``listen`` (default ``[server] listen``) until interrupted.

    Binds first, then prints setup instructions to stderr, then serves. Raises
    ``ConfigError`` for an address that is not ``HOST:PORT`` or cannot be listened on
    (in use, not local), so the CLI reports it in one line.
    """
    from uploader.deploy.builder import startup_builder

    address = listen or inst.config.listen
    check_address(address, "listen address")
    configure_logging()
    # Every URL (web UI links, snippets, builds' index, this banner) comes from
    # inst.config.base_url: [server] public_url, else the address served here.
    inst.serve_at(listen)
    base = inst.config.base_url
    # The Pythons bundles build with are analysed now: a fatal problem stops the start.
    builder = startup_builder(inst.config, base, warn=lambda line: click.echo(line, err=True))
    app = create_app(inst, builder=builder)
    try:
        server = create_server(app, listen=address, **server_options(inst.config))
    except OSError as e:
        raise ConfigError(
            f"cannot listen on {address}: {e.strerror or e}; pick another --listen HOST:PORT"
        ) from e
    _regenerate_pages_made_elsewhere(inst, listen)
    click.echo(setup_instructions(base, inst.catalog.list_repos(), inst.catalog.list_sources(),
                                  cli_command(inst.config.file)), err=True)
    sys.stderr.flush()
    server.run()


def _regenerate_pages_made_elsewhere(inst: Installation, listen: str | None) -> None:
    """Pages generated for another address than the one served link there: say so, and
    generate them again for this one."""
    made = inst.pages_made_elsewhere()
    if not made:
        return
    base = inst.config.base_url
    for address in sorted(set(made.values())):
        names = ", ".join(sorted(r for r, a in made.items() if a == address))
        click.echo(f"warning: the pages of {names} were generated for {address}, not for "
                   f"{base}: generating them again", err=True)
    chosen = [r for r in inst.catalog.list_repos() if r.name in made]
    inst.generate(chosen, snapshots=False)
    if listen is not None and not inst.config.public_url:
        click.echo(f'(set [server] listen = "{listen}" in {inst.config.file} to have every '
                   f"generation make them for {base})", err=True)
