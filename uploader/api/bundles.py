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
covers all. Errors are ``UploadError``s, answered by the app's one handler.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from generator.errors import ConfigError, NotFound
from generator.installation import Installation
from uploader.auth import authorize
from uploader.deploy.builder import Builder
from uploader.deploy.bundles import extract_bundle
from uploader.deploy.environments import Environment
from uploader.deploy.errors import BuildError, BundleError, PythonError, RequirementsError
from uploader.deploy.tasks import TaskRegistry
from uploader.errors import UploadError

bp = Blueprint("bundles", __name__)
BUILDER = "timeshelf.builder"
TASKS = "timeshelf.tasks"
_CHUNK = 1 << 20
_lock = threading.Lock()


def _app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def _inst() -> Installation:
    from uploader.app import installation

    return installation(current_app)


def builder_for(app: Flask) -> Builder:
    """The app's builder (made on first use from the configuration when ``serve`` did not
    install one after its startup check)."""
    with _lock:
        builder = app.extensions.get(BUILDER)
        if builder is None:
            builder = Builder.for_config(app.extensions["timeshelf"].config)
            app.extensions[BUILDER] = builder
        assert isinstance(builder, Builder)
        return builder


def tasks_for(app: Flask) -> TaskRegistry:
    with _lock:
        tasks = app.extensions.get(TASKS)
        if tasks is None:
            inst = app.extensions["timeshelf"]
            tasks = TaskRegistry(inst.config.python.environments_dir / "tasks")
            app.extensions[TASKS] = tasks
        assert isinstance(tasks, TaskRegistry)
        return tasks


def _authorize() -> None:
    inst = _inst()
    name = inst.config.python.repository
    try:
        sources = inst.catalog.get_repo(name).sources
    except NotFound as e:
        raise UploadError(
            503, f"environments install from repository {name!r}, which does not exist: "
            "create it or change [python] repository"
        ) from e
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
            raise UploadError(400, "no bundle: send the gzip tar in the multipart field 'archive'")
        stream = upload.stream
    else:
        stream = request.stream
    size = 0
    with open(destination, "wb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadError(413, f"the bundle is larger than the limit of {limit} bytes")
            out.write(chunk)
    if size == 0:
        raise UploadError(
            400, "no bundle: send a gzip tar as the request body or as the multipart field "
            "'archive'"
        )


@bp.post("/__api__/bundles")
def upload_bundle() -> Response:
    received = time.time()
    _authorize()
    app = _app()
    builder, tasks = builder_for(app), tasks_for(app)
    snapshot = request.args.get("snapshot") or None
    if snapshot is not None:
        _check_snapshot(snapshot)
    incoming = builder.settings.environments_dir / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bundle-", dir=incoming))
    bundle_id = uuid.uuid4().hex
    lines: list[str] = []
    try:
        archive = workdir / "bundle.tar.gz"
        _save_body(archive, builder.limits.max_compressed)
        root = workdir / "app"
        root.mkdir()
        extract_bundle(archive, root, builder.limits)
        plan = builder.prepare(root, log=lines.append, snapshot=snapshot)
    except BundleError as e:
        shutil.rmtree(workdir, ignore_errors=True)
        raise UploadError(400, f"invalid bundle: {e}") from e
    except RequirementsError as e:
        shutil.rmtree(workdir, ignore_errors=True)
        raise UploadError(422, f"requirements refused: {'; '.join(e.problems)}") from e
    except (PythonError, ConfigError) as e:
        shutil.rmtree(workdir, ignore_errors=True)
        raise UploadError(422, str(e)) from e
    except BuildError as e:
        shutil.rmtree(workdir, ignore_errors=True)
        raise UploadError(503, str(e)) from e
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


def _check_snapshot(day: str) -> None:
    from generator.config.python import check_snapshot_date
    from generator.snapshots.calendar import check_snapshot_day

    inst = _inst()
    try:
        check_snapshot_date(day, "snapshot")
        repo = inst.catalog.get_repo(inst.config.python.repository)
        check_snapshot_day(inst.catalog, repo, day, inst.now())
    except (ConfigError, NotFound) as e:
        raise UploadError(400, str(e)) from e


@bp.get("/__api__/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    _authorize()
    task = tasks_for(current_app._get_current_object()).get(task_id)  # type: ignore[attr-defined]
    if task is None:
        raise UploadError(404, f"no task {task_id!r}")
    first = request.args.get("first", "0")
    if not first.isdigit():
        raise UploadError(400, f"first={first!r} is invalid: expected a line number >= 0")
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
    cache = builder_for(current_app._get_current_object()).cache  # type: ignore[attr-defined]
    return _json({"environments": [_describe(e) for e in cache.environments()]})


def _key(environment_id: str) -> str:
    if not environment_id.isalnum() or len(environment_id) > 64:
        raise UploadError(404, f"no environment {environment_id!r}")
    return environment_id


@bp.get("/__api__/environments/<environment_id>")
def get_environment(environment_id: str) -> Response:
    _authorize()
    cache = builder_for(current_app._get_current_object()).cache  # type: ignore[attr-defined]
    environment = cache.get(_key(environment_id))
    if environment is None:
        raise UploadError(404, f"no environment {environment_id!r}")
    return _json(_describe(environment, packages=True))


@bp.delete("/__api__/environments/<environment_id>")
def delete_environment(environment_id: str) -> Response:
    _authorize()
    cache = builder_for(current_app._get_current_object()).cache  # type: ignore[attr-defined]
    if not cache.delete(_key(environment_id)):
        raise UploadError(404, f"no environment {environment_id!r}")
    return _json({"deleted": environment_id})
