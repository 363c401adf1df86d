"""The state every ``timeshelf`` command shares: the configuration, opened on first use."""

from __future__ import annotations

from pathlib import Path

import click

from generator.installation import Installation


class Context:
    """Shared state of one invocation: where the configuration is, opened on first use."""

    def __init__(self, config: Path | None) -> None:
        self.config_path = config
        self._installation: Installation | None = None

    @property
    def inst(self) -> Installation:
        if self._installation is None:
            self._installation = Installation.from_config_file(self.config_path)
        return self._installation

    def close(self) -> None:
        if self._installation is not None:
            self._installation.close()


pass_ctx = click.make_pass_decorator(Context)


def info(message: str) -> None:
    click.echo(message, err=True)
