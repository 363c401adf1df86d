"""Configuration: the ``timeshelf.toml`` file read into frozen records.

Owns the settings of an installation (``settings``: paths, server, scale-out, the
initial files ``init`` writes), of the mirror (``mirror``: ``[mirror]`` and
``[sources.NAME]``), of the Pythons bundles build with (``python``) and pip's own
configuration (``pip``: the index it uses). It may import ``generator.errors``,
``generator.catalog.dialect`` (what a database URL is) and ``generator.storage.s3``
(S3 settings and locations); nothing that does work with the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.config.mirror import MirrorSettings, SourceSettings
    from generator.config.pip import configured_index_url
    from generator.config.python import PythonSettings
    from generator.config.settings import (
        CONFIG_NAME,
        Config,
        find_config,
        load_config,
        read_secret,
        write_initial_files,
    )

__all__ = [
    "CONFIG_NAME",
    "Config",
    "MirrorSettings",
    "PythonSettings",
    "SourceSettings",
    "configured_index_url",
    "find_config",
    "load_config",
    "read_secret",
    "write_initial_files",
]

__getattr__ = lazy_face(__name__, __file__)
