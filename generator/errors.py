"""Errors of the timeshelf core.

Every error a user can cause is a ``TimeshelfError`` whose message says what was wrong
and what would be valid; the CLI and the sidecar each turn them into output in one place.
Each class declares the HTTP status the sidecar answers it with (``class X(TimeshelfError,
status=404)``, as warehouse's ``forklift/errors.py`` does); the CLI ignores it.

    TimeshelfError
    ├── ConfigError (ValueError)              bad or missing configuration
    ├── InvalidName (ValueError)              a source, repository or project name
    ├── InvalidDistribution (ValueError)      a file that is not an acceptable distribution
    │   └── DistributionTooLarge              ... over a size, ratio or member limit
    ├── FileAlreadyExists (ValueError)        a filename already stored with other bytes
    │   └── SameDistributionExists            ... or another spelling of a stored file
    ├── FileRemoved (ValueError)              a filename used by a file since removed
    │   └── SameDistributionRemoved           ... or another spelling of a removed file
    ├── NotFound (LookupError)                an unknown source, repository, project, file
    ├── Conflict (ValueError)                 an operation that contradicts the catalog
    │   └── ProjectClosed                     ... an upload to an archived/quarantined project
    └── StoreError (OSError)                  the blob store or output could not be written

The statuses: 400 unless declared; FileAlreadyExists 409, NotFound 404, StoreError 500
(answered with a generic message, the real one logged). Elsewhere in the core:
``catalog.tokens.TokenError`` 403, ``mirror.http.UpstreamUnavailable`` and
``mirror.fetch.HashMismatch`` 502. The sidecar's own errors are in ``uploader.errors``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TimeshelfError(Exception):
    """Base class of every expected failure; ``str(e)`` is the one-line message.

    ``status`` is the HTTP status of the answer when the sidecar meets this error; a
    subclass sets it once, in its class statement, and inherits it otherwise.
    """

    status: ClassVar[int] = 400

    def __init_subclass__(cls, *, status: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status


class ConfigError(TimeshelfError, ValueError):
    """The configuration is missing, unreadable or holds an invalid value."""


class InvalidName(TimeshelfError, ValueError):
    """A name (source, repository, project) is not valid."""


class InvalidDistribution(TimeshelfError, ValueError):
    """A file is not an acceptable wheel or sdist.

    ``filename`` is the offending file's name as given.
    """

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"{filename}: {reason}")
        self.filename = filename
        self.reason = reason


class DistributionTooLarge(InvalidDistribution):
    """An archive exceeds a size, member-count or compression-ratio limit."""


class FileAlreadyExists(TimeshelfError, ValueError, status=409):
    """The filename is already stored in the source with different content."""

    def __init__(self, filename: str, sha256: str) -> None:
        super().__init__(
            f"File already exists ('{filename}', with sha256 hash '{sha256}'); "
            "a file name is never reused for different content: upload a new version instead"
        )
        self.filename = filename
        self.sha256 = sha256


class FileRemoved(TimeshelfError, ValueError):
    """The filename belonged to a file that has since been removed."""

    def __init__(self, filename: str) -> None:
        super().__init__(
            f"{filename}: this filename was used by a file that has since been removed; "
            "file names are never reused: upload a new version instead"
        )
        self.filename = filename


def _same_distribution(packagetype: str) -> str:
    if packagetype == "sdist":
        return "same project and version; a release has one sdist, .tar.gz or .zip"
    return "same project, version and tags"


class SameDistributionExists(FileAlreadyExists):
    """Another spelling of a file in the source (same project, version, kind, build tag
    and tags): installers could take either, so it would change what the first one means.

    ``existing`` is the stored file's name, ``sha256`` its hash.
    """

    def __init__(
        self, filename: str, existing: str, sha256: str, source: str, packagetype: str
    ) -> None:
        TimeshelfError.__init__(
            self,
            f"{filename!r} is the same distribution as {existing!r} already in source "
            f"{source!r} ({_same_distribution(packagetype)}): a file name is forever; "
            "upload a new version",
        )
        self.filename, self.sha256 = filename, sha256
        self.existing, self.source = existing, source


class SameDistributionRemoved(FileRemoved):
    """Another spelling of a file since removed from the source; ``existing`` is its name."""

    def __init__(self, filename: str, existing: str, source: str, packagetype: str) -> None:
        TimeshelfError.__init__(
            self,
            f"{filename!r} is the same distribution as {existing!r}, since removed from "
            f"source {source!r} ({_same_distribution(packagetype)}): file names are never "
            "reused: upload a new version",
        )
        self.filename, self.existing, self.source = filename, existing, source


class NotFound(TimeshelfError, LookupError, status=404):
    """An unknown source, repository, project, version or file."""


class Conflict(TimeshelfError, ValueError):
    """The operation contradicts the catalog's current state."""


class StoreError(TimeshelfError, OSError, status=500):
    """The blob store or the output directory could not be written or read."""


class ProjectClosed(Conflict):
    """A file for a project whose PEP 792 status takes no uploads (archived, quarantined)."""

    def __init__(self, filename: str, project: str, source: str, status: str, reason: str) -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"{filename}: project {project!r} of source {source!r} is {status}{why} and "
            "takes no new files (PEP 792); existing files stay as they are"
        )
        self.filename, self.project, self.source = filename, project, source
        self.project_status, self.reason = status, reason
