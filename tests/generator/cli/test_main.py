"""The ``timeshelf`` command (``generator.cli.main``): outputs, and errors as one line with exit
code 1 and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
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
    assert listing.out == "python\tlocal\tPackages uploaded here\n"


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
    assert run("list", "sources").out == "local\tlocal-python\t-\n"
    monkeypatch.delenv(ENV_CONFIG)
    monkeypatch.chdir(installation.config.file.parent)
    assert run("list", "sources").out == "local\tlocal-python\t-\n"


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
        "internal\tteam,local\tTeam only\npython\tlocal\tPackages uploaded here\n")
    assert cli("list", "sources").out == (
        "local\tlocal-python\t-\nmirror\tpypi\thttp://127.0.0.1:9/simple/\n"
        "team\tlocal-python\t-\n")
    assert cli("list", "packages").out == (
        "bar\tlocal\t0.1\t1 versions\t1 files\n"
        "Foo\tlocal\t2.0\t2 versions\t2 files\n"
        "foo\tteam\t9.0\t1 versions\t1 files\n")
    assert cli("list", "packages", "--source", "team").out == "foo\tteam\t9.0\t1 versions\t1 files\n"
    assert cli("list", "packages", "--repo", "internal").out == (
        "bar\tlocal\t1 versions\t1 files\n"
        "foo\tteam\t1 versions\t1 files\n")


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
    assert message in result.err
    assert "Traceback" not in result.err


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
