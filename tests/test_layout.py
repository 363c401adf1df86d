"""The shape of the code (issue #19), checked so that it stays: rooms, arrows, sizes.

- no import circle among the modules of ``generator`` and ``uploader`` (every import
  statement counts, at module level or inside a function: a lazy import back into a
  factory is still a circle);
- ``generator`` never imports ``uploader``;
- the arrows between packages are the ones README.md ("How the code is laid out") draws;
- no module over 600 lines;
- each face names only what it can give, and importing it imports none of its modules;
- the choice of a backend is made where things are wired: no ``isinstance`` on a store
  class outside ``generator/storage/``, no ``installer == "uv"`` outside the installers.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("generator", "uploader")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, tree: ast.AST) -> Iterator[str]:
    """The modules of ours that ``module`` imports (``from a import b`` names ``a.b`` when
    ``a.b`` is a module, else ``a``)."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}"
                elif base in MODULES:
                    yield base


def _graph() -> dict[str, set[str]]:
    return {
        module: set(_imported(module, ast.parse(path.read_text(), str(path)))) - {module}
        for module, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_generator_never_imports_uploader() -> None:
    wrong = {
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.startswith("generator")
        for target in targets
        if target.startswith("uploader")
    }
    assert wrong == set()


VOCABULARY = {"errors", "naming", "records", "clock", "workers", "resources", "faces"}
GENERATOR = {
    "generator.catalog", "generator.config", "generator.installation", "generator.intake",
    "generator.mirror", "generator.output", "generator.render", "generator.serving",
    "generator.snapshots", "generator.storage", "generator.advisories", "generator.policy",
}
# What each room may import (README.md, "How the code is laid out"); ``vocabulary`` is
# the top of ``generator`` (and its ``__version__``).
ALLOWED: dict[str, set[str]] = {
    "generator.vocabulary": set(),
    "generator.config": {"generator.catalog", "generator.storage"},
    "generator.catalog": set(),
    "generator.storage": set(),
    "generator.intake": {"generator.catalog", "generator.storage"},
    "generator.mirror": {
        "generator.catalog", "generator.config", "generator.intake", "generator.storage",
    },
    "generator.render": {"generator.storage"},
    "generator.serving": set(),
    "generator.snapshots": {
        "generator.catalog", "generator.render", "generator.storage", "generator.policy",
    },
    "generator.output": {
        "generator.catalog", "generator.render", "generator.snapshots", "generator.storage",
        "generator.advisories", "generator.policy",
    },
    # Vulnerability advisories: the catalog, and the mirror's HTTP client.
    "generator.advisories": {"generator.catalog", "generator.mirror"},
    # Blocklist rules: the catalog, the advisories, the store (stored metadata).
    "generator.policy": {"generator.catalog", "generator.advisories", "generator.storage"},
    "generator.installation": {
        "generator.catalog", "generator.config", "generator.mirror", "generator.output",
        "generator.render", "generator.snapshots", "generator.storage", "generator.advisories",
        "generator.policy",
    },
    "generator.cli": {
        "generator.catalog", "generator.config", "generator.installation", "generator.intake",
        "generator.mirror", "generator.output", "generator.render", "generator.serving",
        "generator.snapshots", "generator.storage", "generator.advisories", "generator.policy",
    },
    "uploader.errors": set(),
    "uploader.deploy": {"generator.cli", "generator.config"},
    # Blueprints take their services from uploader.context, never from uploader.app.
    "uploader.api": {*GENERATOR, "uploader.auth", "uploader.context", "uploader.deploy",
                     "uploader.errors"},
    "uploader.serving": {*GENERATOR, "uploader.context", "uploader.errors"},
    "uploader.context": {*GENERATOR, "uploader.deploy"},
}


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or MODULES[module].name == "__init__.py":
        return ".".join(parts[:2])
    if parts[0] == "generator" and parts[1] in VOCABULARY:
        return "generator.vocabulary"
    return module


def test_arrows_between_rooms() -> None:
    wrong = set()
    for module, targets in _graph().items():
        room = _room(module)
        if room not in ALLOWED:
            continue
        allowed = ALLOWED[room] | {room, "generator", "generator.vocabulary"}
        wrong |= {f"{module} -> {t}" for t in targets if _room(t) not in allowed}
    assert wrong == set()


def test_no_module_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in MODULES.values()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize(
    ("pattern", "allowed"),
    [
        (r"isinstance\([^)]*\b(LocalStore|S3Store)\b", "generator/storage/"),
        (r"\binstaller\s*[!=]=\s*[\"'](uv|pip)[\"']", "uploader/deploy/installers.py"),
    ],
    ids=["store-isinstance", "installer-compare"],
)
def test_backend_chosen_in_one_place(pattern: str, allowed: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in MODULES.values()
        if not str(path.relative_to(ROOT)).startswith(allowed)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert wrong == []


FACES = sorted(
    module for module, path in MODULES.items()
    if path.name == "__init__.py" and module not in PACKAGES
)


@pytest.mark.parametrize("face", FACES)
def test_a_face_gives_every_name_it_lists(face: str) -> None:
    package = importlib.import_module(face)
    missing = [name for name in package.__all__ if getattr(package, name, None) is None]
    assert package.__all__, f"{face} names no public API"
    assert missing == []


def test_importing_the_faces_imports_none_of_their_modules() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for face in {FACES!r}:\n"
        "    importlib.import_module(face)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({PACKAGES!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
    )
    loaded = set(json.loads(result.stdout))
    assert loaded - {*FACES, *PACKAGES, "generator.faces"} == set()


def test_the_checks_see_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
