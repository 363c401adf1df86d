"""The nginx configuration that serves a timeshelf site (``timeshelf nginx-conf``).

Rendering is pure: the template ``site/nginx.conf.j2`` and the arguments in, text out.
The configuration serves the output directory as ``timeshelf serve`` does
(``uploader/serving/static_site.py``): PEP 691 negotiation between ``index.json`` and
``index.html`` (the rules of ``generator.serving.negotiate``, written as nginx ``map`` blocks),
the same content types and cache lifetimes, hidden files refused, and uploads and the
JSON API passed to the sidecar.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import jinja2

from generator.errors import ConfigError
from generator.resources import site_dir

TEMPLATE = "nginx.conf.j2"
DEFAULT_MAX_BODY_SIZE = 200 * 1024 * 1024
_ADDRESS = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})\Z")
# Characters nginx would misread in a double-quoted path ("$" starts a variable).
_UNSAFE_PATH = re.compile(r'["\\$\x00-\x1f]')
# A server listening on every address is reached on the loopback address.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104 (a lookup, no bind)


def check_address(value: str, what: str) -> tuple[str, int]:
    """``(host, port)`` of a ``HOST:PORT`` string; ``ConfigError`` naming ``what`` otherwise."""
    match = _ADDRESS.match(value)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ConfigError(
            f"{what} {value!r} is invalid: use HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080"
        )
    return match["host"], int(match["port"])


def reachable_host(host: str) -> str:
    """``host``, or the loopback address when it means "every address" (``0.0.0.0``)."""
    return _ANY_ADDRESS.get(host, host)


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(site_dir()),
        # Not HTML: nothing to escape, and escaping would corrupt the regexes.
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(TEMPLATE)


def render_nginx_conf(
    *,
    root: Path,
    listen: str,
    sidecar: str,
    standalone: bool,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    tls_certificate: Path | None = None,
    tls_key: Path | None = None,
) -> str:
    """The nginx configuration serving the site in ``root``, as text.

    ``listen`` is the ``HOST:PORT`` nginx listens on; ``sidecar`` the ``HOST:PORT`` of
    ``timeshelf serve`` (an any-address host such as ``0.0.0.0`` is reached on loopback);
    ``max_body_size`` the largest upload passed to it, in bytes. With ``standalone`` the
    text is a whole ``nginx.conf`` for ``nginx -p DIR -c FILE -e stderr`` (foreground,
    one process, pid/logs/temporary files in DIR); without it, maps and a ``server``
    block to include inside ``http {}``.

    With ``tls_certificate`` and ``tls_key`` (PEM files, both or neither) the server
    speaks HTTPS on ``listen`` (TLS 1.2 and 1.3).

    Raises ``ConfigError`` for an address that is not ``HOST:PORT``, a relative
    ``root`` or one with characters nginx would misread, or a non-positive size, and
    for a certificate or key that is missing, unreadable or given alone.
    """
    check_address(listen, "listen address")
    sidecar_host, sidecar_port = check_address(sidecar, "sidecar address")
    if not root.is_absolute() or _UNSAFE_PATH.search(str(root)):
        raise ConfigError(
            f"output path {str(root)!r} cannot be used by nginx: it must be absolute and "
            "free of double quotes, backslashes, '$' and control characters"
        )
    if max_body_size <= 0:
        raise ConfigError(f"max body size {max_body_size} is invalid: it must be positive")
    _check_tls(tls_certificate, tls_key)
    sidecar_host = reachable_host(sidecar_host)
    return _template().render(
        tls_certificate=str(tls_certificate) if tls_certificate else "",
        tls_key=str(tls_key) if tls_key else "",
        root=str(root),
        listen=listen,
        sidecar=f"{sidecar_host}:{sidecar_port}",
        max_body_size=max_body_size,
        standalone=standalone,
    )


def _check_tls(certificate: Path | None, key: Path | None) -> None:
    if (certificate is None) != (key is None):
        raise ConfigError(
            "[server] tls_certificate and tls_key go together: set both (PEM files) or neither"
        )
    for what, path in (("tls_certificate", certificate), ("tls_key", key)):
        if path is None:
            continue
        if not path.is_absolute() or _UNSAFE_PATH.search(str(path)):
            raise ConfigError(
                f"[server] {what} {str(path)!r} cannot be used by nginx: it must be absolute "
                "and free of double quotes, backslashes, '$' and control characters"
            )
        try:
            with path.open("rb"):
                pass
        except OSError as e:
            raise ConfigError(
                f"[server] {what} {str(path)!r} cannot be read: {e.strerror or e}"
            ) from e
