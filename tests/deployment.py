"""Helpers for the deployment tests: fixture wheels, bundles, and a sidecar that builds.

``fixture_wheels`` writes a small set of real wheels with dependencies among them;
``bundle_bytes`` makes a gzip tar in the publishing client's layout (manifest first,
md5 checksums); ``make_tar`` writes arbitrary (hostile) archives; ``deploy_config``
writes a configuration whose ``[python]`` table the test chooses; ``other_python``
finds an interpreter whose full version differs from the one running the tests.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from tests.factory import WheelSpec, build_wheel
from tests.servers import Reply, request

# (name, version, requirements): alpha needs beta; delta needs alpha and gamma.
WHEELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("alpha", "1.0", ("beta>=1",)),
    ("beta", "1.0", ()),
    ("beta", "2.0", ()),
    ("gamma", "1.0", ()),
    ("delta", "1.0", ("alpha", "gamma<2")),
    # Same name as a real package of the test interpreter: the external tests' "other
    # version", installed from the repository when versions must match.
    ("jinja2", "2.0", ()),
)
TOKEN_HEADER = "Authorization"  # noqa: S105 - a header name


def fixture_wheels(directory: Path) -> list[Path]:
    """Write ``WHEELS`` into ``directory``; the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        build_wheel(directory, WheelSpec(name, version, requires_dist=requires))
        for name, version, requires in WHEELS
    ]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def manifest_for(
    files: Mapping[str, bytes], *, python: str | None = None, requires: str | None = None,
    allow_uv: bool | None = None, package_file: str = "requirements.txt",
) -> dict[str, Any]:
    """A manifest.json as rsconnect-python writes it for ``files``."""
    manager: dict[str, Any] = {"name": "pip", "version": "23.2.1", "package_file": package_file}
    if allow_uv is not None:
        manager["allow_uv"] = allow_uv
    document: dict[str, Any] = {
        "version": 1,
        "locale": "en_US.UTF-8",
        "metadata": {"appmode": "python-api", "entrypoint": "app"},
        "python": {"version": python or _version(sys.executable), "package_manager": manager},
        "files": {name: {"checksum": md5(data)} for name, data in files.items()},
    }
    if requires:
        document["environment"] = {"python": {"requires": requires}}
    return document


def bundle_bytes(
    requirements: str | None, *, manifest: dict[str, Any] | bytes | None = None,
    extra: Mapping[str, bytes] | None = None, with_manifest: bool = True, **options: Any,
) -> bytes:
    """A gzip tar bundle: manifest.json first, then requirements.txt and ``app.py``."""
    files: dict[str, bytes] = {"app.py": b"app = None\n"}
    if requirements is not None:
        files["requirements.txt"] = requirements.encode()
    files.update(extra or {})
    members: list[tuple[str, bytes]] = []
    if with_manifest:
        document = manifest if manifest is not None else manifest_for(files, **options)
        data = document if isinstance(document, bytes) else json.dumps(document).encode()
        members.append(("manifest.json", data))
    members += list(files.items())
    return tar_bytes(members)


Member = tuple[str, bytes] | tarfile.TarInfo


def tar_bytes(members: Sequence[Member]) -> bytes:
    """A gzip tar of ``members``: (name, data) files, or prepared ``TarInfo`` entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    """A tar entry of another type than a regular file (link, device, FIFO)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@cache
def _version(executable: str) -> str:
    from uploader.deploy.pythons import analyse

    return analyse(executable).version


def other_python() -> str:
    """An interpreter (with venv) whose full version differs from the test interpreter's:
    the system's python3, or one of pyenv's; it fails the test when there is none."""
    mine = _version(sys.executable)
    candidates = [Path("/usr/bin/python3"), *sorted(Path("/root/.pyenv/versions").glob("3.*/bin/python3"))]
    for candidate in candidates:
        if not candidate.exists():
            continue
        try:
            version = _version(str(candidate))
        except ValueError:
            continue
        major_minor = tuple(int(p) for p in version.split(".")[:2])
        if version != mine and major_minor >= (3, 9):
            return str(candidate)
    raise AssertionError(
        f"no Python other than {mine} found (looked at {', '.join(map(str, candidates))})"
    )


def toml_value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def deploy_config(config: Path, *, max_request_size: int | None = None, **python: Any) -> Path:
    """Replace the ``[python]`` table of an installation's configuration with ``python``."""
    text = config.read_text()
    start = text.index("[python]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end
    # The default keys go (their comments stay); the chosen ones follow the header.
    body = re.sub(r"(?m)^[a-z_]+ = .*\n", "", text[start + len("[python]\n"):end])
    table = "[python]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in python.items())
    text = text[:start] + table + body + text[end:]
    if max_request_size is not None:
        text = text.replace("max_request_size = 209715200", f"max_request_size = {max_request_size}")
    config.write_text(text)
    return config


def auth(token: str) -> dict[str, str]:
    return {TOKEN_HEADER: f"Bearer {token}", "Accept": "application/json"}


def post_bundle(base_url: str, token: str | None, body: bytes, *, query: str = "",
                content_type: str = "application/gzip") -> Reply:
    headers = auth(token) if token else {"Accept": "application/json"}
    headers["Content-Type"] = content_type
    return request(f"{base_url}/__api__/bundles{query}", method="POST", headers=headers, body=body,
                   timeout=60)


def message(reply: Reply) -> str:
    """The one-line message of an error reply (JSON ``message``, else the text body)."""
    try:
        return str(json.loads(reply.body)["message"])
    except (ValueError, KeyError):
        return reply.body.decode(errors="replace")


def wait_task(base_url: str, token: str, task_id: str, timeout: float = 240) -> dict[str, Any]:
    """Poll a task to its end (reading its log in pieces, as ``timeshelf deploy`` does);
    the final status with the whole ``output``."""
    lines: list[str] = []
    first, deadline = 0, time.monotonic() + timeout
    while True:
        reply = request(f"{base_url}/__api__/tasks/{task_id}?first={first}", headers=auth(token))
        assert reply.status == 200, reply.body
        task: dict[str, Any] = json.loads(reply.body)
        lines += task["output"]
        first = task["last"]
        if task["finished"]:
            task["output"] = lines
            return task
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} did not finish in {timeout} s:\n" + "\n".join(lines))
        time.sleep(0.05)


def deploy(base_url: str, token: str, body: bytes, **kwargs: Any) -> dict[str, Any]:
    """POST a bundle that must be accepted, and wait for its task."""
    reply = post_bundle(base_url, token, body, **kwargs)
    assert reply.status == 202, (reply.status, reply.body)
    return wait_task(base_url, token, json.loads(reply.body)["task_id"])
