"""Configuration: one TOML file, every key with a documented default.

Found from ``--config FILE``, else ``TIMESHELF_CONFIG``, else ``./timeshelf.toml``.
Relative paths in it are relative to the file. ``init`` writes a file that lists every
key with its default, and the token signing key into a separate file with mode 0600.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator.catalog.dialect import is_database_url
from generator.config.mirror import MirrorSettings, parse_mirror_settings
from generator.config.python import PythonSettings, parse_python_settings
from generator.errors import ConfigError
from generator.storage.s3 import S3Location, S3Settings

ENV_CONFIG = "TIMESHELF_CONFIG"
# A server listening on every address is reached on the loopback address.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104 (a lookup, no bind)
CONFIG_NAME = "timeshelf.toml"

DEFAULT_CONFIG = """\
# timeshelf configuration. Every key is shown with its default value; relative paths
# are relative to this file. See the README for what each part does.

[catalog]
# The catalog database: one SQLite file (WAL mode).
path = "catalog.sqlite3"
# Or a PostgreSQL database that several sidecars (and one generator) share, e.g.
# "postgresql://timeshelf@db.internal/timeshelf" (the password from ~/.pgpass or
# PGPASSWORD, not from here). Empty: the SQLite file above.
url = ""

[store]
# Where distribution files are kept, content-addressed. The default is the site's own
# files/ folder, so the web server serves them without a copy.
path = "site/files"
# Or an S3 bucket, "s3://BUCKET/PREFIX" (then `path` is unused): uploads and mirrored
# files are written there directly. Use the published site's files/ folder, e.g.
# "s3://BUCKET/PREFIX/files" with [output] target = "s3://BUCKET/PREFIX", so publishing
# never copies a distribution. Empty: the directory above.
url = ""

[output]
# The static site that `timeshelf generate` writes and nginx (or `timeshelf serve`) serves.
path = "site"
# Publish the site to S3 after every generation, "s3://BUCKET/PREFIX" (what
# `timeshelf publish --to` does by hand). Empty: the site stays in `path` only.
target = ""
# Where publishing keeps its manifest (the content hash of every object it wrote),
# outside the public prefix. Empty: s3://BUCKET/.timeshelf/PREFIX/manifest.json.
state = ""
# Seconds a project description may take to format for its package page (in a helper
# process); one that takes longer is shown as plain text with a note.
description_timeout = 2.0

[server]
# Address `timeshelf serve` listens on (the sidecar; in the default setup it also serves
# the site).
listen = "127.0.0.1:8000"
# The address clients reach the site at, used in printed setup instructions; empty
# means http://<listen>/. Include a sub-path when the site is served under one.
public_url = ""
# The largest request body the sidecar accepts (an upload with its form), in bytes.
max_request_size = 209715200
# Worker threads of the sidecar's WSGI server.
threads = 8
# PEM certificate (chain) and private key: with both, `timeshelf nginx-conf` writes an
# HTTPS server (and setup instructions drop --trusted-host). Empty: plain HTTP.
tls_certificate = ""
tls_key = ""

[snapshots]
# Dated snapshots kept on disk: every day of the last `daily_days` days, and the first
# day of every month when `monthly` is true. Other past days are still served: the
# sidecar renders them on demand (same bytes).
daily_days = 90
monthly = true

[secrets]
# The token signing key, written by `timeshelf init` with mode 0600. Never share it.
path = "secret.key"

[s3]
# How to reach the object store of s3:// locations above. Credentials come from the
# profile below or the usual AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# the shared credentials file, an instance role), never from this file.
# An S3-compatible server (MinIO, Ceph), e.g. "http://127.0.0.1:9000"; empty: AWS.
endpoint_url = ""
# Region of the buckets; empty: from the environment or profile.
region = ""
# A profile of the shared AWS configuration; empty: the default chain.
profile = ""
# "path" for servers that do not resolve BUCKET.HOST names; "auto" or "virtual".
addressing_style = "auto"

[mirror]
# `timeshelf sync` (sources of type pypi and curated-pypi): project pages fetched at once.
workers = 8
# Attempts after the first on a connection error, a timeout or a 429/5xx answer, waiting
# `retry_backoff` seconds, then twice as long each time.
retries = 3
retry_backoff = 1.0
# Seconds to wait for an upstream answer.
timeout = 30
# When cron or the systemd timer of the README runs `timeshelf sync` (crontab fields,
# UTC): daily at 01:00.
sync_schedule = "0 1 * * *"

[vulnerabilities]
# `timeshelf vulns sync`: the OSV export of the PyPI ecosystem, a zip of OSV JSON files
# (as the OSV project publishes one per ecosystem), e.g. "https://HOST/PyPI/all.zip".
# Empty: no vulnerability data, unless `vulns sync --from PATH` imports a local copy.
url = ""

[python]
# Environments of deployed bundles (`POST /__api__/bundles`, `timeshelf env build`).
# Python interpreters to build with, analysed at startup (version, pip, venv); empty
# means the interpreter running timeshelf. A bundle's python.version picks one.
executables = []
# Packages installed in every interpreter above and used from there, not fetched.
external = []
# A configured interpreter missing an external: true stops `timeshelf serve`, false warns.
externals_check_is_fatal = true
# true: a requirement pinning another version than the system's external installs that
# version from the repository; false: the system's copy satisfies it whatever the pin.
external_version_matching = false
# true: python.version must match major.minor.patch; false: same major.minor, highest patch.
exact_version_matching = false
# "pip" or "uv" (a bundle may ask for uv with python.package_manager.allow_uv).
installer = "pip"
# Requirements installed in every environment besides the bundle's (e.g. "gunicorn").
extra_packages = []
# Requirement lines naming these are removed (logged). The default list: packages that
# install only on Windows or macOS; add to it, or empty it.
prohibited = ["appnope", "pyobjc", "pyobjc-core", "pyobjc-framework-cocoa", "pypiwin32", "pywin32", "pywinpty", "windows-curses", "winpty", "wmi"]
# Whether requirements may use -i/--extra-index-url/-f/--trusted-host, -e, and URLs.
allow_index_options = false
allow_editable = false
allow_direct_references = false
# Where built environments are kept (and their build logs).
environments_dir = "environments"
# Build from the index as of this day, YYYY-MM-DD (/<repository>/<day>/simple/); empty
# means latest. A deploy may ask for another day.
snapshot = ""
# The repository of this server that environments install from.
repository = "python"
# Resolve unpinned requirements with pip-compile against the index first, so the
# environment is reproducible from its lockfile.
compile_unpinned = false

# Each mirror source may have a table of its own; every key is optional:
# [sources.pypi]
# file_mode = "lazy"                  # lazy: fetched on first request; prefetch: at sync
# allow = ["django", "numpy>=1.26"]   # only these projects (and versions)
# block = ["leftpad", "numpy<1.20"]   # never these (a bare name: the whole project)
# pythons = ["3.11", "3.12"]          # only wheels these CPython versions can install
# platforms = ["manylinux*_x86_64", "any"]  # only wheels for these platform tags
# keep_releases = 5                   # the newest N releases of each project (0: all)
# max_file_size = 104857600           # bytes; larger files are left out (0: no limit)
# python_versions = ["3.11"]          # curated-pypi: Pythons its closure is resolved for
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The resolved configuration of one installation."""

    file: Path
    catalog_path: Path
    store_path: Path
    output_path: Path
    listen: str
    public_url: str
    max_request_size: int
    threads: int
    secret_path: Path
    snapshot_daily_days: int = 90
    snapshot_monthly: bool = True
    mirror: MirrorSettings = field(default_factory=MirrorSettings)
    catalog_url: str = ""
    store_url: str = ""
    output_target: str = ""
    output_state: str = ""
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    s3: S3Settings = field(default_factory=S3Settings)
    python: PythonSettings = field(default_factory=PythonSettings)
    description_timeout: float = 2.0
    vulnerabilities_url: str = ""

    @property
    def base_url(self) -> str:
        """The site's absolute URL, ending in ``/``: the one place every URL the site
        shows is derived from (web UI links, client-setup snippets, the environment
        builder's index, the ``serve`` banner, ``snapshot url``).

        ``[server] public_url``, else ``http://<listen>/`` (an any-address host such as
        ``0.0.0.0`` is reached on loopback); ``timeshelf serve --listen`` replaces
        ``listen`` (``serving_at``), so it moves every one of those URLs along.
        """
        # With TLS configured, nginx serves the site over HTTPS (`timeshelf nginx-conf`).
        scheme = "https" if self.tls_certificate is not None else "http"
        host, _, port = self.listen.rpartition(":")
        url = self.public_url or f"{scheme}://{_ANY_ADDRESS.get(host, host)}:{port}/"
        return url if url.endswith("/") else url + "/"

    def serving_at(self, listen: str | None) -> Config:
        """This configuration as ``timeshelf serve --listen LISTEN`` runs it (unchanged
        when ``listen`` is None); the caller has checked ``listen`` is ``HOST:PORT``."""
        return self if listen is None or listen == self.listen else replace(self, listen=listen)


def find_config(explicit: Path | None) -> Path:
    """The configuration file to use; ``ConfigError`` saying how to create one."""
    if explicit is not None:
        candidate = explicit
    elif os.environ.get(ENV_CONFIG):
        candidate = Path(os.environ[ENV_CONFIG])
    else:
        candidate = Path.cwd() / CONFIG_NAME
    if not candidate.is_file():
        raise ConfigError(
            f"no configuration at {candidate}: run `timeshelf init DIR` and pass "
            f"--config DIR/{CONFIG_NAME} (or set {ENV_CONFIG}, or run from DIR)"
        )
    return candidate.resolve()


# The sections and keys a configuration may hold: exactly those the default file documents.
_KNOWN: dict[str, Any] = tomllib.loads(DEFAULT_CONFIG)
_KINDS: dict[type | tuple[type, ...], str] = {
    str: "a string", int: "an integer", bool: "true or false", (int, float): "a number",
}


def _check_known(table: dict[str, Any]) -> None:
    """Refuse what the default file does not list: a misspelt key must not be ignored."""
    for section, body in table.items():
        if section == "sources":  # [sources.NAME] tables: checked by generator.config.mirror
            continue
        if section not in _KNOWN:
            valid = ", ".join(f"[{s}]" for s in sorted(_KNOWN))
            raise ConfigError(f"unknown section [{section}]: valid sections are {valid}")
        if not isinstance(body, dict):
            raise ConfigError(f"{section} = {body!r} is invalid: expected a table [{section}]")
        for key in body:
            if key not in _KNOWN[section]:
                raise ConfigError(
                    f"unknown key [{section}] {key}: valid keys are "
                    f"{', '.join(sorted(_KNOWN[section]))}"
                )


def _get(
    table: dict[str, Any], section: str, key: str, kind: type | tuple[type, ...], default: Any
) -> Any:
    value = table.get(section, {}).get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(
            f"[{section}] {key} = {value!r} is invalid: expected {_KINDS.get(kind) or kind}"
        )
    return value


def load_config(explicit: Path | None = None) -> Config:
    """Read and check the configuration; every problem is a ``ConfigError``."""
    path = find_config(explicit)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    _check_known(table)
    base = path.parent

    def resolve(section: str, key: str, default: str) -> Path:
        value = Path(_get(table, section, key, str, default))
        return value if value.is_absolute() else base / value

    listen = _get(table, "server", "listen", str, "127.0.0.1:8000")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"[server] listen = {listen!r} is invalid: use HOST:PORT, e.g. 127.0.0.1:8000"
        )
    max_size = _get(table, "server", "max_request_size", int, 209715200)
    threads = _get(table, "server", "threads", int, 8)
    if max_size <= 0 or threads <= 0:
        raise ConfigError("[server] max_request_size and threads must be positive")
    timeout = _get(table, "output", "description_timeout", (int, float), 2.0)
    if isinstance(timeout, bool) or not 0 < timeout <= 60:
        raise ConfigError(
            f"[output] description_timeout = {timeout!r} is invalid: use seconds above 0, "
            "at most 60 (e.g. 2.0)"
        )
    vulnerabilities_url = _get(table, "vulnerabilities", "url", str, "")
    if vulnerabilities_url and not vulnerabilities_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"[vulnerabilities] url = {vulnerabilities_url!r} is invalid: use an http:// or "
            "https:// URL of an OSV export zip (or leave it empty)"
        )
    return Config(
        file=path,
        vulnerabilities_url=vulnerabilities_url,
        catalog_path=resolve("catalog", "path", "catalog.sqlite3"),
        store_path=resolve("store", "path", "site/files"),
        output_path=resolve("output", "path", "site"),
        listen=listen,
        public_url=_get(table, "server", "public_url", str, ""),
        max_request_size=max_size,
        threads=threads,
        secret_path=resolve("secrets", "path", "secret.key"),
        snapshot_daily_days=_get(table, "snapshots", "daily_days", int, 90),
        snapshot_monthly=_get(table, "snapshots", "monthly", bool, True),
        mirror=parse_mirror_settings(table),
        **_scale_out_settings(table, resolve),
        python=parse_python_settings(table, base),
        description_timeout=float(timeout),
    )


def _scale_out_settings(
    table: dict[str, Any], resolve: Callable[[str, str, str], Path]
) -> dict[str, Any]:
    """PostgreSQL catalog, S3 store and publish target, TLS, ``[s3]`` (checked)."""
    catalog_url = _get(table, "catalog", "url", str, "")
    if catalog_url and not is_database_url(catalog_url):
        raise ConfigError(
            f"[catalog] url = {catalog_url!r} is invalid: use postgresql://USER@HOST/DATABASE "
            "(or leave it empty for the SQLite file in [catalog] path)"
        )
    store_url = _get(table, "store", "url", str, "")
    target = _get(table, "output", "target", str, "")
    state = _get(table, "output", "state", str, "")
    for section, key, value in (("store", "url", store_url), ("output", "target", target),
                                ("output", "state", state)):
        if value:
            S3Location.from_url(value, f"[{section}] {key}")
    tls = {}
    for key in ("tls_certificate", "tls_key"):
        given = _get(table, "server", key, str, "")
        tls[key] = resolve("server", key, "") if given else None
    if (tls["tls_certificate"] is None) != (tls["tls_key"] is None):
        raise ConfigError(
            "[server] tls_certificate and tls_key go together: set both (PEM files) or neither"
        )
    s3 = S3Settings(**{
        key: _get(table, "s3", key, str, default)
        for key, default in (("endpoint_url", ""), ("region", ""), ("profile", ""),
                             ("addressing_style", "auto"))
    })
    return {"catalog_url": catalog_url, "store_url": store_url, "output_target": target,
            "output_state": state, "s3": s3, **tls}


def write_initial_files(directory: Path) -> Path:
    """Write ``timeshelf.toml`` and the 0600 secret key into ``directory``; return the config path.

    Refuses to overwrite an existing configuration.
    """
    config = directory / CONFIG_NAME
    if config.exists():
        raise ConfigError(f"{config} already exists: this directory is already initialized")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        config.write_text(DEFAULT_CONFIG, encoding="utf-8")
        secret = directory / "secret.key"
        if not secret.exists():
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    except OSError as e:
        raise ConfigError(f"cannot initialize {directory}: {e.strerror or e}") from e
    return config


def read_secret(config: Config) -> bytes:
    """The token signing key; refuses a key file others can read."""
    try:
        mode = config.secret_path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(
                f"{config.secret_path} is readable by others (mode {mode:o}): chmod 600 it"
            )
        key = config.secret_path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read the secret key {config.secret_path}: {e.strerror or e}") from e
    if len(key) < 32:
        raise ConfigError(f"the secret key in {config.secret_path} is too short (32+ characters)")
    return key.encode()
