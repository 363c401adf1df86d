"""Errors of the sidecar, answered in one place (``app.handle_error``).

An ``UploadError`` carries the HTTP status and the one-line message; the handler puts the
message in the reason phrase (twine prints it), and in the body as JSON
``{"message", "code", "title"}`` when the client accepts JSON (uv), else as text.
Upload errors are not HTTP exceptions: views raise them, the handler answers.
"""

from __future__ import annotations

from collections.abc import Mapping


class UploadError(Exception):
    """A refused request: ``status`` (an HTTP code) and a message saying what would be valid."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
