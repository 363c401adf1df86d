"""Errors of deployment: the bundle, its requirements, the Python, the build, the client.

Each is a ``TimeshelfError`` (so ``timeshelf`` prints it after ``error:``, exit code 1)
on the builtin that fits, with the HTTP status the bundle API answers it with::

    TimeshelfError
    ├── BundleError (ValueError)          400  a bundle that cannot be used
    ├── RequirementsError (ValueError)    422  requirements refused, every problem listed
    ├── PythonError (ValueError)          422  no configured Python can build the bundle
    ├── BuildError (RuntimeError)         503  the installer is missing, or a build failed
    └── PublishError                      (the client: a bundle not written or deployed)

A ``BuildError`` of a build running in the background fails its task instead; a
``PublishError`` happens in ``timeshelf bundle``/``deploy`` only, never on the server.

A ``BundleError``, ``RequirementsError`` or ``PublishError`` may list several
``problems``: its message is then a summary line (``…, N problems:``) and one indented
line per problem (``list_problems``), and the bundle API answers the summary as its
``message`` with the list beside it (``problems``), so ``deploy`` prints them as they came.
"""

from __future__ import annotations

from collections.abc import Sequence

from generator.errors import TimeshelfError

# A file of 10,000 bad lines is 10,000 problems: the first ones say what to fix.
MAX_LISTED = 100


def list_problems(summary: str, problems: Sequence[str], *, single: str | None = None) -> str:
    """The message of ``problems`` under ``summary``: ``single`` (default ``summary:
    problem``) for one; for several, ``summary, N problems:`` then each on its own line,
    indented (at most ``MAX_LISTED``, then how many more)."""
    if len(problems) == 1:
        return single if single is not None else f"{summary}: {problems[0]}"
    return f"{summary}, {len(problems)} problems:{problem_lines(problems)}"


def problem_lines(problems: Sequence[str]) -> str:
    """Each problem on a line of its own, indented: at most ``MAX_LISTED``, then how many
    more."""
    listed = "".join(f"\n  {p}" for p in problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return listed + (f"\n  … and {more} more" if more > 0 else "")


class BundleError(TimeshelfError, ValueError, status=400):
    """A bundle that cannot be used; the message says what is wrong and what would be valid.

    ``BundleError(problem)`` is one problem, its message the problem itself (or
    ``summary: problem``); ``BundleError(*problems, summary=…)`` lists several, one a line.
    """

    def __init__(self, *problems: str, summary: str | None = None) -> None:
        if not problems:
            raise TypeError("BundleError needs at least one problem")
        head = summary or "the bundle cannot be used"
        super().__init__(
            list_problems(head, problems, single=None if summary else problems[0])
        )
        self.problems = tuple(problems[:MAX_LISTED])


class RequirementsError(TimeshelfError, ValueError, status=422):
    """The requirements cannot be used; ``problems`` lists every one (``file:line: …``),
    one a line of the message."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(list_problems("requirements refused", problems))
        self.problems = tuple(problems[:MAX_LISTED])


class PythonError(TimeshelfError, ValueError, status=422):
    """No usable Python for a request; the message lists what is configured."""


class BuildError(TimeshelfError, RuntimeError, status=503):
    """An environment cannot be built: its installer is missing, or it ran and failed (the
    log says why)."""


class PublishError(TimeshelfError):
    """A bundle cannot be written or deployed by the client; the message says why, and
    each of the server's ``problems`` (when it listed several) follows on its own line."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message if len(problems) < 2 else f"{message}:{problem_lines(problems)}")
        self.problems = tuple(problems)
