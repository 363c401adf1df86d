"""The index pip itself is configured to use: the default upstream of a mirror source.

pip's own code answers, so the precedence is pip's: its configuration files (global,
user, site; a ``[global]`` ``index-url`` overridden by an ``[install]`` one), then the
``PIP_INDEX_URL`` environment variable, else pip's built-in default. timeshelf never
names a public host itself.
"""

from __future__ import annotations

from generator.errors import ConfigError

# pip reads an option from these sections in this order, a later one overriding
# (pip/_internal/cli/parser.py, ConfigOptionParser._get_ordered_configuration_items).
_SECTIONS = ("global", "install", ":env:")


def configured_index_url() -> str:
    """pip's index URL for ``pip install``; ``ConfigError`` if pip cannot be asked."""
    try:
        from pip._internal.configuration import Configuration
        from pip._internal.exceptions import ConfigurationError
        from pip._internal.models.index import PyPI
    except ImportError as e:  # pragma: no cover - pip is a dependency of every venv
        raise ConfigError(
            f"cannot read pip's configuration ({e}): pass --upstream URL"
        ) from e
    configuration = Configuration(isolated=False)
    try:
        configuration.load()
    except ConfigurationError as e:
        raise ConfigError(f"cannot read pip's configuration: {e}; pass --upstream URL") from e
    chosen: str | None = None
    items: list[tuple[str, object]] = []
    for entry in configuration.items():
        # (key, value) pairs in older pips; (file, {key: value}) in newer ones.
        if isinstance(entry[1], dict):
            items += list(entry[1].items())
        else:
            items.append((str(entry[0]), entry[1]))
    for section in _SECTIONS:
        for key, value in items:
            if key == f"{section}.index-url" and isinstance(value, str) and value.strip():
                chosen = value.strip()
    return chosen or str(PyPI.simple_url)
