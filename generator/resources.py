"""Where the templates and site assets are, in a checkout and in an installed wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_dir() -> Path:
    """The directory holding ``templates/`` and ``site/``.

    In a checkout it is the repository's top level; in an installed wheel the package
    ``timeshelf_data`` (pyproject.toml ships both folders there).
    """
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "templates" / "simple").is_dir():
        return checkout
    return Path(str(resources.files("timeshelf_data")))


def templates_dir() -> Path:
    return data_dir() / "templates"


def site_dir() -> Path:
    return data_dir() / "site"
