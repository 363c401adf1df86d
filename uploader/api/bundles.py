"""The deployment API: bundles in, build tasks to poll, cached environments to manage.

- ``POST /__api__/bundles`` (body: the gzip tar, or a multipart form with the field
  ``archive``; ``?snapshot=YYYY-MM-DD`` builds from that day's index) checks the bundle
  and plans its environment while the client waits, so every problem it can fix is a
  4xx with one line saying what; then it builds in the background and answers
  ``202 {"bundle_id", "task_id", "environment"}``.
- ``GET /__api__/tasks/<id>?first=N``: the task's status and log lines from ``N`` on.
- ``GET /__api__/environments``, ``GET``/``DELETE /__api__/environments/<id>``.

Every route needs a token with the ``deploy`` scope whose sources cover the sources of
the repository environments install from (``[python] repository``); a token for ``*``
covers all. Views raise ``uploader.errors`` errors (or core ``TimeshelfError``s),
answered by the app's one handler.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from generator.errors import ConfigError, NotFound
from uploader.auth import authorize
from uploader.context import installation, services
from uploader.deploy.builder import Builder
from uploader.deploy.bundles import extract_bundle
from uploader.deploy.environments import BuildPlan, Environment, is_environment_key
from uploader.deploy.errors import BundleError
from uploader.errors import (
    BundleTooLarge,
    CannotBuild,
    EnvironmentRepositoryMissing,
    InvalidBundle,
    InvalidLineNumber,
    InvalidSnapshot,
    MissingBundle,
    UnknownEnvironment,
    UnknownTask,
)

bp = Blueprint("bundles", __name__)
_CHUNK = 1 << 20


def _authorize() -> None:
    inst = installation()
    name = inst.config.python.repository
    try:
        sources = inst.catalog.get_repo(name).sources
    except NotFound as e:
        raise EnvironmentRepositoryMissing(name) from e
    for source in sources or ("*",):
        authorize(inst, request, source=source, permission="deploy")


def _json(document: Any, status: int = 200) -> Response:
    body = json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"
    return Response(body, status=status, mimetype="application/json")


def _save_body(destination: Path, limit: int) -> None:
    """The bundle from the request (raw body, or the multipart field ``archive``)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("archive")
        if upload is None:
            raise MissingBundle(multipart=True)
        stream = upload.stream
    else:
        stream = request.stream
    size = 0
    with open(destination, "wb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise BundleTooLarge(limit)
            out.write(chunk)
    if size == 0:
        raise MissingBundle(multipart=False)


@bp.post("/__api__/bundles")
def upload_bundle() -> Response:
    received = time.time()
    _authorize()
    builder, tasks = services().builder(), services().tasks()
    snapshot = request.args.get("snapshot") or None
    if snapshot is not None:
        _check_snapshot(snapshot)
    incoming = builder.settings.environments_dir / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bundle-", dir=incoming))
    bundle_id = uuid.uuid4().hex
    lines: list[str] = []
    archive = workdir / "bundle.tar.gz"
    try:
        plan = _receive(builder, workdir, archive, snapshot, lines)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    task = tasks.create(bundle_id, started=received, environment=plan.key)
    task.log(f"bundle {bundle_id} received ({archive.stat().st_size} bytes)")
    for line in lines:
        task.log(line)

    def work(_task: object) -> str:
        try:
            return builder.complete(plan, task.log).key
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    tasks.start(task, work)
    return _json({"bundle_id": bundle_id, "task_id": task.id, "environment": plan.key}, 202)


def _receive(
    builder: Builder, workdir: Path, archive: Path, snapshot: str | None, lines: list[str]
) -> BuildPlan:
    """Save, unpack and plan the bundle of the request in ``workdir``.

    The answers that differ from the errors' own (a prefix, another status) are chosen
    here, and only here.
    """
    # RequirementsError (422), PythonError (422) and BuildError (503) are answered as
    # they are.
    try:
        _save_body(archive, builder.limits.max_compressed)
        root = workdir / "app"
        root.mkdir()
        extract_bundle(archive, root, builder.limits)
        return builder.prepare(root, log=lines.append, snapshot=snapshot)
    except BundleError as e:
        raise InvalidBundle(e) from e
    except ConfigError as e:
        # A setting the bundle asks for is unprocessable here, not a bad request (400).
        raise CannotBuild(e) from e


def _check_snapshot(day: str) -> None:
    from generator.config.python import check_snapshot_date
    from generator.snapshots.calendar import check_snapshot_day

    inst = installation()
    check_snapshot_date(day, "snapshot")
    try:
        repo = inst.catalog.get_repo(inst.config.python.repository)
        check_snapshot_day(inst.catalog, repo, day, inst.now())
    except NotFound as e:
        # A day outside the index is a bad ?snapshot= (400), not a missing page (404).
        raise InvalidSnapshot(e) from e


@bp.get("/__api__/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    _authorize()
    task = services().tasks().get(task_id)
    if task is None:
        raise UnknownTask(task_id)
    first = request.args.get("first", "0")
    if not first.isdigit():
        raise InvalidLineNumber(first)
    return _json(dataclasses.asdict(task.view(int(first))))


def _describe(environment: Environment, *, packages: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": environment.key,
        "python": environment.python,
        "installer": environment.installer,
        "path": str(environment.path),
        "python_executable": str(environment.python_executable),
        "size": environment.size,
        "created": _iso(environment.created),
        "last_used": _iso(environment.last_used),
    }
    if packages:
        document["packages"] = list(environment.packages())
    return document


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.get("/__api__/environments")
def list_environments() -> Response:
    _authorize()
    cache = services().builder().cache
    return _json({"environments": [_describe(e) for e in cache.environments()]})


def _key(environment_id: str) -> str:
    if not is_environment_key(environment_id):
        raise UnknownEnvironment(environment_id)
    return environment_id


@bp.get("/__api__/environments/<environment_id>")
def get_environment(environment_id: str) -> Response:
    _authorize()
    cache = services().builder().cache
    environment = cache.get(_key(environment_id))
    if environment is None:
        raise UnknownEnvironment(environment_id)
    return _json(_describe(environment, packages=True))


@bp.delete("/__api__/environments/<environment_id>")
def delete_environment(environment_id: str) -> Response:
    _authorize()
    cache = services().builder().cache
    if not cache.delete(_key(environment_id)):
        raise UnknownEnvironment(environment_id)
    return _json({"deleted": environment_id})
