"""Build tasks: the poll view (a record whose fields are the API's JSON keys), the log
read in pieces, and tasks of an earlier run read back from disk."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from uploader.deploy.tasks import TaskRegistry, TaskView

# The keys GET /__api__/tasks/<id> has always answered.
KEYS = {"id", "bundle_id", "finished", "code", "error", "environment", "started", "ended",
        "output", "last", "elapsed"}


def test_a_task_is_polled_in_pieces_and_ends_with_its_environment(tmp_path: Path) -> None:
    tasks = TaskRegistry(tmp_path)
    task = tasks.create("b" * 32, started=1000.0, environment="e" * 32)
    task.log("one")
    task.log("two")
    first = task.view()
    assert isinstance(first, TaskView)
    assert (first.output, first.last, first.finished) == (("one", "two"), 2, False)
    assert set(json.loads(json.dumps(dataclasses.asdict(first)))) == KEYS
    task.log("three")
    task.finish(code=0)
    later = task.view(first.last)
    assert (later.output, later.last, later.code, later.finished) == (("three",), 3, 0, True)
    assert later.environment == "e" * 32
    assert later.ended is not None
    assert later.elapsed == round(later.ended - 1000.0, 4)


def test_a_finished_task_is_read_back_after_a_restart(tmp_path: Path) -> None:
    task = TaskRegistry(tmp_path).create("bundle")
    task.log("building")
    task.finish(code=1, error="it broke")
    again = TaskRegistry(tmp_path).get(task.id)
    assert again is not None
    view = again.view()
    assert (view.output, view.code, view.error, view.bundle_id) == (
        ("building",), 1, "it broke", "bundle")


def test_a_task_cut_short_by_a_restart_reads_as_failed(tmp_path: Path) -> None:
    task = TaskRegistry(tmp_path).create()
    task.log("halfway")
    view = TaskRegistry(tmp_path).get(task.id)
    assert view is not None
    assert (view.view().code, view.view().error) == (
        1, "the server stopped before the task finished")
    assert TaskRegistry(tmp_path).get("not-an-id") is None


def test_a_failing_work_fails_its_task_with_the_message(tmp_path: Path) -> None:
    tasks = TaskRegistry(tmp_path)
    task = tasks.create()

    def work(_task: object) -> str:
        raise RuntimeError("no luck")

    tasks.start(task, work).join(10)
    view = task.view()
    assert (view.code, view.error, view.output) == (1, "no luck", ("error: no luck",))
