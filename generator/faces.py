"""Package faces that import on first use (PEP 562).

A subpackage's ``__init__.py`` names its public API with ordinary ``from … import``
statements under ``if TYPE_CHECKING:`` (what mypy and readers see) and ends with
``__getattr__ = lazy_face(__name__, __file__)``. Importing one module of the package
then costs only that module: a face that imported everything would make every
``timeshelf`` command pay for the S3 client, the watch folder and JWT whatever it does
(about 100 ms and 9 MB per process). The first ``from package import Name`` reads the
face's own import statements, once, and imports the one module that defines ``Name``.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path


def lazy_face(package: str, face_file: str) -> Callable[[str], object]:
    """The module ``__getattr__`` of the face ``face_file`` of ``package``."""

    def __getattr__(name: str) -> object:
        where = _exports(face_file).get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = where
        value = getattr(importlib.import_module(module), attribute)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


@cache
def _exports(face_file: str) -> dict[str, tuple[str, str]]:
    """Each name the face imports under ``if TYPE_CHECKING:``: its module and name there."""
    tree = ast.parse(Path(face_file).read_text(encoding="utf-8"), face_file)
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
                    for alias in statement.names:
                        found[alias.asname or alias.name] = (statement.module, alias.name)
    return found
