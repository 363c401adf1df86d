"""Configuration (``generator.config.settings``) and the clock (``generator.clock``)."""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from generator.clock import ENV_NOW, format_timestamp, parse_timestamp, system_clock
from generator.config.settings import (
    CONFIG_NAME,
    DEFAULT_CONFIG,
    ENV_CONFIG,
    find_config,
    load_config,
    read_secret,
    write_initial_files,
)
from generator.errors import ConfigError


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    return write_initial_files(tmp_path / "inst")


def test_initial_configuration(config_file: Path) -> None:
    config = load_config(config_file)
    base = config_file.parent
    assert config.file == config_file.resolve()
    assert config.catalog_path == base / "catalog.sqlite3"
    assert config.store_path == base / "site" / "files"
    assert config.output_path == base / "site"
    assert config.secret_path == base / "secret.key"
    assert (config.listen, config.public_url, config.threads) == ("127.0.0.1:8000", "", 8)
    assert config.max_request_size == 209715200
    assert config.base_url == "http://127.0.0.1:8000/"
    assert (config_file.parent / "secret.key").stat().st_mode & 0o777 == 0o600
    assert len(read_secret(config)) == 64


def test_every_default_is_written_and_documented() -> None:
    table = tomllib.loads(DEFAULT_CONFIG)
    assert set(table) >= {"catalog", "store", "output", "server", "secrets"}
    lines = DEFAULT_CONFIG.splitlines()
    # Each key follows its comment (or a key documented by the same comment).
    for index, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert "=" in lines[index - 1] or lines[index - 1].startswith("#"), line


def test_an_empty_file_means_every_default(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_text("")
    config = load_config(path)
    assert config.output_path == tmp_path / "site"
    assert config.listen == "127.0.0.1:8000"


@pytest.mark.parametrize(
    ("text", "base_url"),
    [
        ('[server]\npublic_url = "https://packages.internal/pypi"\n',
         "https://packages.internal/pypi/"),
        ('[server]\npublic_url = "https://packages.internal/"\n', "https://packages.internal/"),
        ('[server]\nlisten = "0.0.0.0:9000"\n', "http://127.0.0.1:9000/"),
        ('[server]\nlisten = "[::1]:8080"\n', "http://[::1]:8080/"),
    ],
    ids=["sub-path", "trailing-slash", "listen", "ipv6"],
)
def test_base_url(text: str, base_url: str, tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_text(text)
    assert load_config(path).base_url == base_url


def test_absolute_paths_stay_absolute(tmp_path: Path) -> None:
    path = tmp_path / "conf" / CONFIG_NAME
    path.parent.mkdir()
    path.write_text(f'[output]\npath = "{tmp_path / "www"}"\n[store]\npath = "../blobs"\n')
    config = load_config(path)
    assert config.output_path == tmp_path / "www"
    assert config.store_path == path.parent / "../blobs"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[server]\nlisten = "nope"\n',
         "[server] listen = 'nope' is invalid: use HOST:PORT, e.g. 127.0.0.1:8000"),
        ('[server]\nlisten = ":8000"\n', "[server] listen = ':8000' is invalid: use HOST:PORT"),
        ('[server]\nlisten = "127.0.0.1:0"\n', "[server] listen = '127.0.0.1:0' is invalid"),
        ('[server]\nlisten = "127.0.0.1:65536"\n', "listen = '127.0.0.1:65536' is invalid"),
        ('[server]\nlisten = "127.0.0.1:http"\n', "listen = '127.0.0.1:http' is invalid"),
        ("[server]\nlisten = 8000\n",
         "[server] listen = 8000 is invalid: expected a string"),
        ('[server]\nthreads = "8"\n',
         "[server] threads = '8' is invalid: expected an integer"),
        ("[server]\nmax_request_size = true\n",
         "[server] max_request_size = True is invalid: expected an integer"),
        ("[server]\nthreads = 0\n", "[server] max_request_size and threads must be positive"),
        ("[output]\npath = 3\n", "[output] path = 3 is invalid: expected a string"),
        ('[snapshots]\nmonthly = "yes"\n',
         "[snapshots] monthly = 'yes' is invalid: expected true or false"),
        ('server = "127.0.0.1:8000"\n',
         "server = '127.0.0.1:8000' is invalid: expected a table [server]"),
        ('[server]\nlistn = "127.0.0.1:9000"\n',
         "unknown key [server] listn: valid keys are listen, max_request_size, public_url, "
         "threads"),
        ('[sever]\nlisten = "127.0.0.1:9000"\n', "unknown section [sever]: valid sections are "),
        ("[server\n", "cannot read "),
        ("[output]\ndescription_timeout = 0\n",
         "[output] description_timeout = 0 is invalid: use seconds above 0, at most 60"),
        ("[output]\ndescription_timeout = 61.5\n",
         "[output] description_timeout = 61.5 is invalid: use seconds above 0, at most 60"),
        ("[output]\ndescription_timeout = true\n",
         "[output] description_timeout = True is invalid: use seconds above 0"),
        ('[output]\ndescription_timeout = "2s"\n',
         "[output] description_timeout = '2s' is invalid: expected a number"),
    ],
    ids=["listen-no-port", "listen-no-host", "port-zero", "port-too-large", "port-name",
         "listen-int", "threads-str", "size-bool", "threads-zero", "path-int", "bool-str",
         "section-not-table", "unknown-key", "unknown-section", "bad-toml",
         "description-timeout-zero", "description-timeout-too-long",
         "description-timeout-bool", "description-timeout-str"],
)
def test_invalid_configuration(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_find_config_order(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = write_initial_files(tmp_path / "other")
    monkeypatch.chdir(config_file.parent)
    assert find_config(None) == config_file.resolve()
    monkeypatch.setenv(ENV_CONFIG, str(other))
    assert find_config(None) == other.resolve()
    assert find_config(config_file) == config_file.resolve()


def test_missing_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as excinfo:
        find_config(None)
    assert str(excinfo.value) == (
        f"no configuration at {tmp_path / CONFIG_NAME}: run `timeshelf init DIR` and pass "
        f"--config DIR/{CONFIG_NAME} (or set {ENV_CONFIG}, or run from DIR)"
    )


def test_init_twice_is_refused(config_file: Path) -> None:
    before = config_file.read_bytes(), (config_file.parent / "secret.key").read_bytes()
    with pytest.raises(ConfigError) as excinfo:
        write_initial_files(config_file.parent)
    assert str(excinfo.value) == (
        f"{config_file} already exists: this directory is already initialized"
    )
    assert (config_file.read_bytes(), (config_file.parent / "secret.key").read_bytes()) == before


@pytest.mark.parametrize(
    ("mode", "content", "message"),
    [
        (0o644, "x" * 64, "is readable by others (mode 644): chmod 600 it"),
        (0o640, "x" * 64, "is readable by others (mode 640)"),
        (0o600, "short\n", "is too short (32+ characters)"),
    ],
    ids=["world-readable", "group-readable", "too-short"],
)
def test_read_secret_refuses(mode: int, content: str, message: str, config_file: Path) -> None:
    config = load_config(config_file)
    config.secret_path.write_text(content)
    os.chmod(config.secret_path, mode)
    with pytest.raises(ConfigError) as excinfo:
        read_secret(config)
    assert message in str(excinfo.value)


def test_read_secret_missing(config_file: Path) -> None:
    config = load_config(config_file)
    config.secret_path.unlink()
    with pytest.raises(ConfigError, match=r"cannot read the secret key .*secret\.key"):
        read_secret(config)


# -- the clock --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T12:00:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T14:00:00+02:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        (" 2026-03-01T12:00:00.5Z ", datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)),
    ],
    ids=["zulu", "naive-is-utc", "offset", "date", "fraction-and-spaces"],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "2026-03-01T25:00:00Z"],
                         ids=["empty", "word", "month-13", "hour-25"])
def test_parse_timestamp_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"use ISO 8601") as excinfo:
        parse_timestamp(text)
    assert str(excinfo.value) == (
        f"invalid timestamp {text!r}: use ISO 8601, e.g. 2026-03-01T12:00:00Z"
    )


def test_system_clock_follows_timeshelf_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NOW, "2030-01-02T03:04:05Z")
    assert system_clock() == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    monkeypatch.setenv(ENV_NOW, "not a time")
    with pytest.raises(ConfigError) as excinfo:
        system_clock()
    assert str(excinfo.value) == (
        "TIMESHELF_NOW: invalid timestamp 'not a time': use ISO 8601, e.g. 2026-03-01T12:00:00Z"
    )
    monkeypatch.delenv(ENV_NOW)
    assert system_clock().tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 3, 1, 12, tzinfo=UTC), "2026-03-01T12:00:00.000000Z"),
        (parse_timestamp("2026-03-01T14:00:00.25+02:00"), "2026-03-01T12:00:00.250000Z"),
    ],
    ids=["utc", "offset"],
)
def test_format_timestamp(value: datetime, text: str) -> None:
    assert format_timestamp(value) == text
    assert parse_timestamp(text) == value
