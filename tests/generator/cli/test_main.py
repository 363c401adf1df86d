"""The ``timeshelf`` command (``generator.cli.main``): outputs, and errors as one line with exit
code 1 and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import click
import pytest

from generator import __version__
from generator.cli.main import cli, main, make_cli
from generator.clock import ENV_NOW
from generator.config.settings import CONFIG_NAME, ENV_CONFIG
from generator.installation import Installation
from tests.conftest import CliRunner, Dists, FakeClock


def test_init_creates_a_working_installation(
    tmp_path: Path, run: CliRunner, clock: FakeClock
) -> None:
    directory = tmp_path / "new"
    result = run("init", directory)
    assert result.code == 0
    assert result.err_lines == [
        f"initialized {directory.resolve()}",
        f"  configuration: {(directory / CONFIG_NAME).resolve()}",
        "  source 'local' (local-python) -> repository 'python'",
        f"next: timeshelf --config {directory / CONFIG_NAME} add --source local DIST...",
    ]
    assert (directory / "site" / "python" / "latest" / "simple" / "index.html").is_file()
    listing = run("--config", directory / CONFIG_NAME, "list", "repos")
    assert listing.out == "NAME\tSOURCES\tDESCRIPTION\npython\tlocal\tPackages uploaded here\n"


def test_init_twice_is_refused(installation: Installation, run: CliRunner) -> None:
    before = installation.config.file.read_bytes()
    result = run("init", installation.config.file.parent)
    assert result.code == 1
    assert result.err_lines == [
        f"error: {installation.config.file.parent / CONFIG_NAME} already exists: "
        "this directory is already initialized"
    ]
    assert installation.config.file.read_bytes() == before


def test_init_with_an_invalid_clock_writes_nothing(
    tmp_path: Path, run: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NOW, "tomorrow")
    directory = tmp_path / "new"
    result = run("init", directory)
    assert result.code == 1
    assert result.err_lines == [
        "error: TIMESHELF_NOW: invalid timestamp 'tomorrow': use ISO 8601, "
        "e.g. 2026-03-01T12:00:00Z"
    ]
    assert not directory.exists()
    monkeypatch.setenv(ENV_NOW, "2026-03-01T12:00:00Z")
    assert run("init", directory).code == 0


def test_missing_configuration(
    tmp_path: Path, run: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    monkeypatch.chdir(tmp_path)
    result = run("list", "repos")
    assert result.code == 1
    assert result.err_lines == [
        f"error: no configuration at {tmp_path / CONFIG_NAME}: run `timeshelf init DIR` and "
        f"pass --config DIR/{CONFIG_NAME} (or set {ENV_CONFIG}, or run from DIR)"
    ]


def test_configuration_from_the_environment_and_the_directory(
    installation: Installation, run: CliRunner, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(ENV_CONFIG, str(installation.config.file))
    monkeypatch.chdir(tmp_path)
    assert run("list", "sources", "--no-header").out == "local\tlocal-python\t-\n"
    monkeypatch.delenv(ENV_CONFIG)
    monkeypatch.chdir(installation.config.file.parent)
    assert run("list", "sources", "--no-header").out == "local\tlocal-python\t-\n"


def test_invalid_listen(installation: Installation, cli: CliRunner) -> None:
    config = installation.config.file
    config.write_text(config.read_text().replace('listen = "127.0.0.1:8000"',
                                                  'listen = "localhost"'))
    result = cli("list", "repos")
    assert result.code == 1
    assert result.err_lines == [
        "error: [server] listen = 'localhost' is invalid: use HOST:PORT, e.g. 127.0.0.1:8000"
    ]


def test_invalid_timeshelf_now(
    installation: Installation, cli: CliRunner, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NOW, "2026-02-30T00:00:00Z")
    result = cli("add", "--source", "local", dists.sdist("foo", "1.0"))
    assert result.code == 1
    assert result.err_lines == [
        "error: TIMESHELF_NOW: invalid timestamp '2026-02-30T00:00:00Z': use ISO 8601, "
        "e.g. 2026-03-01T12:00:00Z"
    ]
    assert installation.catalog.list_packages() == []


def test_listings(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("create", "source", "--name", "mirror", "--type", "pypi",
               "--upstream", "http://127.0.0.1:9/simple/").code == 0
    assert cli("create", "source", "--name", "team", "--type", "local-python").code == 0
    assert cli("create", "repo", "--name", "internal", "--description", "Team only").code == 0
    assert cli("subscribe", "--repo", "internal", "--source", "team").code == 0
    assert cli("subscribe", "--repo", "internal", "--source", "local").code == 0
    assert cli("add", "--source", "local", dists.sdist("Foo", "1.0"), dists.wheel("Foo", "2.0"),
               dists.sdist("bar", "0.1")).code == 0
    assert cli("add", "--source", "team", dists.sdist("foo", "9.0", directory=dists.fresh_dir()),
               "--no-generate").code == 0

    assert cli("list", "repos").out == (
        "NAME\tSOURCES\tDESCRIPTION\n"
        "internal\tteam,local\tTeam only\npython\tlocal\tPackages uploaded here\n")
    assert cli("list", "sources").out == (
        "NAME\tTYPE\tUPSTREAM\n"
        "local\tlocal-python\t-\nmirror\tpypi\thttp://127.0.0.1:9/simple/\n"
        "team\tlocal-python\t-\n")
    assert cli("list", "packages").out == (
        "PROJECT\tSOURCE\tLATEST\tVERSIONS\tFILES\n"
        "bar\tlocal\t0.1\t1 version\t1 file\n"
        "Foo\tlocal\t2.0\t2 versions\t2 files\n"
        "foo\tteam\t9.0\t1 version\t1 file\n")
    assert cli("list", "packages", "--source", "team", "--no-header").out == (
        "foo\tteam\t9.0\t1 version\t1 file\n")
    assert cli("list", "packages", "--repo", "internal").out == (
        "PROJECT\tSOURCE\tVERSIONS\tFILES\n"
        "bar\tlocal\t1 version\t1 file\n"
        "foo\tteam\t1 version\t1 file\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tokens"], "no tokens yet: `timeshelf create token --description D --sources S` "
                     "makes one"),
        (["packages"], "no packages yet"),
        (["packages", "--source", "local"], "source 'local' holds no packages yet"),
        (["packages", "--repo", "python"], "repository 'python' shows no packages yet"),
    ],
    ids=["tokens", "packages", "packages-of-a-source", "packages-of-a-repo"],
)
def test_an_empty_listing_says_so(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli("list", *args)
    assert (result.code, result.out, result.err_lines) == (0, "", [message])


def test_no_snapshots_yet_says_when_the_first_comes(
    installation: Installation, cli: CliRunner, clock: FakeClock
) -> None:
    today = clock.now.date()
    result = cli("list", "snapshots", "--repo", "python")
    assert (result.code, result.out) == (0, "")
    assert result.err_lines == [
        f"no snapshots yet: repository 'python' began on {today}; its first snapshot, of "
        f"{today}, comes when that day ends ({today + timedelta(days=1)}T00:00:00Z) and is "
        "written by the next `timeshelf generate` or upload; until then use "
        f"{installation.config.base_url}python/latest/simple/"
    ]
    assert cli("create", "repo", "--name", "apps").code == 0
    result = cli("list", "snapshots", "--repo", "apps")
    assert (result.code, result.out) == (0, "")
    assert result.err_lines == [
        "no snapshots yet: repository 'apps' has no history before it subscribes to a source "
        "(`timeshelf subscribe --repo apps --source S`); the day it does is its first "
        "snapshot once that day is over (UTC)"
    ]
    clock.advance(days=1)
    result = cli("list", "snapshots", "--repo", "python")
    assert result.out == (
        f"DAY\tSTATE\tURL\n{today}\ton demand\t{installation.config.base_url}python/{today}/simple/\n")


def test_subscribe_and_reorder_regenerate(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("create", "source", "--name", "team", "--type", "local-python").code == 0
    assert cli("add", "--source", "team", dists.sdist("foo", "9.0")).code == 0
    result = cli("subscribe", "--repo", "python", "--source", "team")
    assert result.code == 0
    assert result.err_lines[0] == (
        "repository 'python' sources, highest priority first: local, team")
    page = installation.config.output_path / "python/latest/simple/foo/index.json"
    assert '"versions":["9.0"]' in page.read_text()
    result = cli("reorder", "--repo", "python", "--sources", "team, local")
    assert result.err_lines[0] == (
        "repository 'python' sources, highest priority first: team, local")
    assert result.err_lines[1].startswith("python: full generation, 1 project(s) rendered")


def test_add_reports_and_remove(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    path = dists.sdist("foo", "1.0")
    result = cli("add", "--source", "local", path)
    assert result.err_lines == [
        "added: foo-1.0.tar.gz",
        "python: incremental generation, 1 project(s) rendered, 4 page(s) written, "
        f"0 removed (serial {installation.catalog.last_event_id()})",
    ]
    result = cli("remove", "foo", "1.0")
    assert result.code == 0
    assert result.err_lines[0] == "removed: foo-1.0.tar.gz"
    assert "1 removed" in result.err_lines[1]
    assert not (installation.config.output_path / "python/latest/simple/foo").exists()
    result = cli("generate")
    assert result.err_lines == [
        f"python: up to date (serial {installation.catalog.last_event_id()})"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "source", "--name", "local", "--type", "pypi"],
         "error: source 'local' already exists: choose another name"),
        (["create", "source", "--name", "Bad_Name", "--type", "pypi"],
         "error: invalid source name 'Bad_Name': use 1-64 lowercase letters, digits and '-', "
         "starting and ending with a letter or digit"),
        (["create", "repo", "--name", "files"],
         "error: invalid repository name 'files': it is reserved for the site"),
        (["subscribe", "--repo", "python", "--source", "local"],
         "error: repository 'python' already subscribes to 'local' (sources in order: local); "
         "use reorder to change priority"),
        (["subscribe", "--repo", "nope", "--source", "local"],
         "error: unknown repository 'nope' (known repositories: python)"),
        (["reorder", "--repo", "python", "--sources", "local,other"],
         "error: reorder must list each source of 'python' once: local; got local, other"),
        (["yank", "nope", "1.0"], "error: no source holds project 'nope'"),
        (["yank", "foo", "3.0"],
         "error: project 'foo' in source 'local' has no version '3.0' (versions: 1.0)"),
        (["yank", "foo", "1.0", "--source", "nope"],
         "error: unknown source 'nope' (known sources: local)"),
        (["unyank", "nope", "1.0"], "error: no source holds project 'nope'"),
        (["remove", "foo", "2.0"],
         "error: project 'foo' in source 'local' has no version '2.0' to remove "
         "(files: foo-1.0.tar.gz)"),
        (["remove", "foo", "--file", "foo-1.0.zip"],
         "error: project 'foo' in source 'local' has no file 'foo-1.0.zip' to remove"),
        (["generate", "--repo", "nope"], "error: unknown repository 'nope'"),
        (["list", "packages", "--source", "nope"], "error: unknown source 'nope'"),
        (["list", "packages", "--repo", "nope"], "error: unknown repository 'nope'"),
    ],
    ids=["source-exists", "source-name", "repo-reserved", "subscribe-twice",
         "subscribe-unknown-repo", "reorder-unknown", "yank-unknown-project",
         "yank-unknown-version", "yank-unknown-source", "unyank-unknown-project",
         "remove-unknown-version", "remove-unknown-file", "generate-unknown-repo",
         "list-unknown-source", "list-unknown-repo"],
)
def test_errors_are_one_line(
    args: list[str], message: str, installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("add", "--source", "local", dists.sdist("foo", "1.0")).code == 0
    events = installation.catalog.last_event_id()
    result = cli(*args)
    assert result.code == 1
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(message)
    assert "Traceback" not in result.err
    assert installation.catalog.last_event_id() == events


def test_a_project_in_several_sources_needs_source(
    installation: Installation, cli: CliRunner, dists: Dists
) -> None:
    assert cli("create", "source", "--name", "team", "--type", "local-python").code == 0
    assert cli("add", "--source", "local", dists.sdist("foo", "1.0")).code == 0
    assert cli("add", "--source", "team", dists.sdist("foo", "1.0", directory=dists.fresh_dir()),
               ).code == 0
    result = cli("yank", "foo", "1.0")
    assert result.code == 1
    assert result.err_lines == [
        "error: project 'foo' is in several sources (local, team): pass --source"]
    assert cli("yank", "foo", "1.0", "--source", "team").code == 0
    assert cli("yank", "foo", "1.0", "--source", "team").err_lines[0] == (
        "foo 1.0 was already yanked")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x.whl"], "Missing option '--source'"),
        (["create", "source", "--name", "x", "--type", "svn"], "Invalid value for '--type'"),
        (["list", "everything"], "Invalid value for '{repos|sources|packages|"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
    ids=["missing-option", "bad-choice", "bad-listing", "unknown-command"],
)
def test_usage_errors_exit_2(args: list[str], message: str, cli: CliRunner) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.err_lines[-1].startswith(f"error: {message}")
    assert "Error:" not in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (["create", "token", "--description", "d", "--sources", "local", "--expires", "soon"],
         ["Usage: timeshelf create token [OPTIONS]",
          "Try 'timeshelf create token --help' for help.",
          "",
          "error: Invalid value for --expires: invalid expiry 'soon': use a number and a unit "
          "(s, m, h, d, w), e.g. 30d or 12h, or 'never'"]),
        (["bundle", "nosuchdir"],
         ["Usage: timeshelf bundle [OPTIONS] DIRECTORY",
          "Try 'timeshelf bundle --help' for help.",
          "",
          "error: Invalid value for 'DIRECTORY': Directory 'nosuchdir' does not exist."]),
        (["list", "snapshots"],
         ["Usage: timeshelf list [OPTIONS] {repos|sources|packages|tokens|snapshots|vulns",
          "                      |blocklist-rules}",
          "Try 'timeshelf list --help' for help.",
          "",
          "error: list snapshots needs --repo R"]),
        (["env", "delete", "0" * 32],
         [f"error: no environment '{'0' * 32}': see `timeshelf env list`"]),
        (["revoke", "token", "abcd"],
         ["error: unknown token id 'abcd': `timeshelf list tokens` shows the ids"]),
    ],
    ids=["bad-parameter", "sidecar-command", "usage-error", "sidecar-error", "timeshelf-error"],
)
def test_the_installed_command_starts_every_error_with_error(
    installation: Installation, tmp_path: Path, args: list[str], lines: list[str]
) -> None:
    """click's own errors (usage, bad parameters, ``ClickException``) are shown by the one
    handler in ``main`` with the ``error:`` every ``TimeshelfError`` line has."""
    command = Path(sys.executable).parent / "timeshelf"
    result = subprocess.run(
        [str(command), "--config", str(installation.config.file), *args],
        capture_output=True, text=True, check=False, env=dict(os.environ), timeout=60,
        cwd=tmp_path,
    )
    assert result.stderr.splitlines() == lines
    assert result.returncode == (1 if len(lines) == 1 else 2)


def test_a_group_without_a_command_still_shows_its_help(cli: CliRunner) -> None:
    result = cli("create")
    assert result.code == 2
    assert result.err.startswith("Usage: timeshelf create [OPTIONS] COMMAND [ARGS]...")
    assert "error:" not in result.err


def _groups(group: click.Group, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], click.Group]]:
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _groups(command, (*path, name))


def test_every_group_help_lists_every_subcommand_with_a_short_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from uploader.cli import cli as full_cli
    from uploader.cli import main as full_main

    for path, group in _groups(full_cli, ()):
        assert full_main([*path, "--help"]) == 0, path
        listed = capsys.readouterr().out.split("Commands:\n", 1)[1]
        rows = {line.split()[0]: line.split()[1:] for line in listed.splitlines()}
        for name in group.commands:
            where = f"timeshelf {' '.join(path)} --help"
            assert name in rows, f"{where} omits {name}"
            assert rows[name], f"{where} shows no short help for {name}"


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (["--help"], ["create      Create a source, a repository or an API token.",
                      "list        List repositories, sources, packages, tokens or snapshots.",
                      "revoke      Revoke an API token."]),
        (["create", "--help"], ["Create a source, a repository or an API token.",
                                "token           Create an API token (printed once; expires in "
                                "30 days).",
                                "blocklist-rule  Create a blocklist rule (files neither listed "
                                "nor served)."]),
        (["revoke", "--help"], ["token  Revoke an API token; it stops working at once."]),
        (["list", "--help"], ["repos      name, sources (highest priority first), description",
                              "tokens     id, state, sources, scope, expiry, last use, "
                              "description (never the token)",
                              "snapshots  day, how it is served, index URL (needs --repo R)",
                              "--no-header"]),
    ],
    ids=["top", "create", "revoke", "list"],
)
def test_help_names_every_kind(
    capsys: pytest.CaptureFixture[str], args: list[str], lines: list[str]
) -> None:
    from uploader.cli import main as full_main

    assert full_main(args) == 0
    shown = [line.strip() for line in capsys.readouterr().out.splitlines()]
    for line in lines:
        assert any(s.startswith(line) for s in shown), (line, shown)


def test_version_and_help(run: CliRunner) -> None:
    result = run("--version")
    assert (result.code, result.out) == (0, f"timeshelf, version {__version__}\n")
    result = run("--help")
    assert result.code == 0
    assert "Commands:" in result.out


def test_make_cli_adds_the_extra_commands_to_a_group_of_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @click.command("hello")
    def hello() -> None:
        """Say hello."""
        click.echo("hello")

    group = make_cli([hello])
    assert set(group.commands) == {*cli.commands, "hello"}
    assert "hello" not in cli.commands
    assert main(["hello"], command=group) == 0
    assert capsys.readouterr().out == "hello\n"


def test_the_installed_command_exits_1_on_a_refused_file(
    installation: Installation, tmp_path: Path
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    command = Path(sys.executable).parent / "timeshelf"
    result = subprocess.run(
        [str(command), "--config", str(installation.config.file), "add", "--source", "local",
         str(bad)],
        capture_output=True, text=True, check=False, env=dict(os.environ), timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "refused: notes.txt: not a distribution: use a wheel (.whl) or an sdist "
        "(.tar.gz or .zip)\n"
    )
