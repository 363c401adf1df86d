"""Where the templates and site assets are, in a checkout and in an installed wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def data_dir() -> Path:
    """The directory holding ``templates/`` and ``site/``.

    In a checkout it is the repository's top level; in an installed wheel the directory
    of ``timeshelf_data`` (pyproject.toml ships both folders there, as a namespace
    package, so it is located by its search path rather than ``importlib.resources``).
    """
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "templates" / "simple").is_dir():
        return checkout
    spec = importlib.util.find_spec("timeshelf_data")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / "templates").is_dir():
                return Path(location)
    raise FileNotFoundError(
        "timeshelf's templates are missing: reinstall the timeshelf package"
    )


def templates_dir() -> Path:
    return data_dir() / "templates"


def site_dir() -> Path:
    return data_dir() / "site"
