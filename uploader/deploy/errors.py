"""Errors of deployment: the bundle, its requirements, the Python, the build, the client.

Each is a ``TimeshelfError`` (so ``timeshelf`` prints it as one ``error:`` line, exit
code 1) on the builtin that fits, with the HTTP status the bundle API answers it with::

    TimeshelfError
    ├── BundleError (ValueError)          400  a bundle that cannot be used
    ├── RequirementsError (ValueError)    422  requirements refused, every problem listed
    ├── PythonError (ValueError)          422  no configured Python can build the bundle
    ├── BuildError (RuntimeError)         503  the installer is missing, or a build failed
    └── PublishError                      (the client: a bundle not written or deployed)

A ``BuildError`` of a build running in the background fails its task instead; a
``PublishError`` happens in ``timeshelf bundle``/``deploy`` only, never on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from generator.errors import TimeshelfError


class BundleError(TimeshelfError, ValueError, status=400):
    """A bundle that cannot be used; the message says what is wrong and what would be valid."""


class RequirementsError(TimeshelfError, ValueError, status=422):
    """The requirements cannot be used; ``problems`` lists every one (``file:line: …``)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("requirements refused: " + "; ".join(problems))
        self.problems = tuple(problems)


class PythonError(TimeshelfError, ValueError, status=422):
    """No usable Python for a request; the message lists what is configured."""


class BuildError(TimeshelfError, RuntimeError, status=503):
    """An environment cannot be built: its installer is missing, or it ran and failed (the
    log says why)."""


class PublishError(TimeshelfError):
    """A bundle cannot be written or deployed by the client; the message says why."""
