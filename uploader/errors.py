"""Errors of the sidecar, and the one place every ``TimeshelfError`` becomes an answer.

Views only raise: ``init_app`` registers ``answer`` for every ``TimeshelfError`` (the
core's and these) and for werkzeug's 413. The status is the error class's
(``class X(SidecarError, status=404)``, as warehouse's ``forklift/errors.py`` has it);
the message is ``str(error)``, built from the data the error keeps as attributes.

Two shapes of answer, both unchanged from before the errors had classes:

- an API answer (uploads, tokens, bundles): the message in the reason phrase (twine
  prints it), and in the body as JSON ``{"message", "code", "title"}`` when the client
  prefers JSON (uv), else as the text ``<status> <message>``; an error that lists its
  ``problems`` (a bundle's, its requirements') has them one a line in the text, and in
  JSON its first line as ``message`` with the list beside it as ``problems``;
- a site answer (``PageError``: pages and files, as nginx would give them): the
  standard reason phrase and the text body ``<status> <message>``, never JSON.

A ``StoreError`` is the server's fault: it is logged (its message names server paths)
and answered with a generic 500 that lets twine retry.

    TimeshelfError (generator.errors)
    └── SidecarError
        ├── AuthenticationRequired       401  no credentials (with a Basic challenge)
        ├── CredentialsRefused           403  an Authorization header we cannot use
        │   ├── UnsupportedAuthScheme
        │   ├── MalformedCredentials
        │   └── PasswordNotSupported
        ├── NotMultipart                 415  an upload body that is not multipart
        ├── TooLarge                     413
        │   ├── RequestTooLarge               ... over werkzeug's request limits
        │   └── BundleTooLarge                ... over the bundle limit
        ├── UploadMethodNotAllowed       405  GET or HEAD on the upload URL (Allow: POST)
        ├── RetiredAction                410  registration or documentation uploads
        ├── UnknownSource                404  an upload to a source that does not exist
        ├── NotAnUploadSource            400  an upload to a mirror source
        ├── InvalidUpload                400  an upload form we cannot accept
        │   ├── RepeatedField, MissingAction, UnsupportedAction, UnknownProtocolVersion
        │   ├── UnexpectedFilePart, MissingFile, InvalidFiletype, WrongExtension
        │   ├── MissingPyversion, InvalidSdistPyversion, MissingDigest, DigestMismatch
        │   ├── InvalidDistributionFile       ... the archive is not a distribution
        │   └── DistributionFileTooLarge      ... over a size, ratio or member limit
        ├── EnvironmentRepositoryMissing 503  [python] repository names no repository
        ├── MissingBundle                400  a bundle upload without a bundle
        ├── InvalidBundle                400
        ├── CannotBuild                  422  a setting a bundle asks for is refused
        ├── InvalidSnapshot              400  ?snapshot= names no day of the index
        ├── UnknownTask                  404
        ├── InvalidLineNumber            400  ?first= is not a line number
        ├── UnknownEnvironment           404
        └── PageError                         answered as the site answers
            ├── PageNotFound             404
            ├── NotAcceptable            406  no variant of a page the client accepts
            ├── FileWithheld             403  a withheld file (generator.output.withheld)
            └── BadGateway               502  a mirrored file the upstream did not give
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from generator.errors import InvalidDistribution, StoreError, TimeshelfError

log = logging.getLogger(__name__)
REALM = 'Basic realm="timeshelf"'
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
STORE_FAILURE = "The server could not store the file: try again later"


class SidecarError(TimeshelfError):
    """A request the sidecar refuses; ``headers`` go with the answer."""

    headers: Mapping[str, str] = {}


# -- credentials ----------------------------------------------------------------------------


class AuthenticationRequired(SidecarError, status=401):
    """No ``Authorization`` header: the answer challenges for Basic credentials."""

    headers: Mapping[str, str] = {"WWW-Authenticate": REALM}

    def __init__(self) -> None:
        super().__init__(
            "Authentication required: use username __token__ and an API token as the password"
        )


class CredentialsRefused(SidecarError, status=403):
    """An ``Authorization`` header that cannot carry a token (never echoed)."""


class UnsupportedAuthScheme(CredentialsRefused):
    """A scheme other than Basic or Bearer; ``scheme`` is the one sent."""

    def __init__(self, scheme: str) -> None:
        super().__init__("Unsupported Authorization scheme: use Basic or Bearer")
        self.scheme = scheme


class MalformedCredentials(CredentialsRefused):
    """Basic credentials that are not base64 of UTF-8 text."""

    def __init__(self) -> None:
        super().__init__("Malformed Basic credentials")


class PasswordNotSupported(CredentialsRefused):
    """A username and password instead of ``__token__`` and a token."""

    def __init__(self) -> None:
        super().__init__(
            "Username/password authentication is not supported: use username __token__ "
            "and an API token as the password"
        )


# -- requests -------------------------------------------------------------------------------


class NotMultipart(SidecarError, status=415):
    """An upload body that is not multipart/form-data; ``content_type`` as sent."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            "Uploads are multipart/form-data (as twine, uv, poetry ... send them): "
            f"got {content_type!r}"
        )
        self.content_type = content_type


class TooLarge(SidecarError, status=413):
    """A request over a size limit."""


class RequestTooLarge(TooLarge):
    """Over one of werkzeug's three limits (it does not say which, so all are named)."""

    def __init__(self, max_size: int, max_parts: int, max_field: int) -> None:
        super().__init__(
            f"Request body too large: the limits are {max_size} bytes in all, "
            f"{max_parts} form parts and {max_field} bytes per form field"
        )
        self.max_size, self.max_parts, self.max_field = max_size, max_parts, max_field


class BundleTooLarge(TooLarge):
    """A bundle over ``limit`` bytes, compressed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the bundle is larger than the limit of {limit} bytes")
        self.limit = limit


# -- uploads --------------------------------------------------------------------------------


class UploadMethodNotAllowed(SidecarError, status=405):
    """GET or HEAD on the upload URL, which takes POST only."""

    headers: Mapping[str, str] = {"Allow": "POST"}

    def __init__(self) -> None:
        super().__init__(
            "The upload URL takes POST (twine upload, uv publish): install from the index "
            "URL instead"
        )


class RetiredAction(SidecarError, status=410):
    """An ``:action`` PyPI no longer supports (``submit``, ``submit_pkg_info``, ``doc_upload``)."""

    def __init__(self, action: str) -> None:
        super().__init__(
            "Uploading documentation is not supported."
            if action == "doc_upload"
            else "Project pre-registration is no longer required or supported, upload your "
            "files instead."
        )
        self.action = action


class UnknownSource(SidecarError, status=404):
    """An upload to a source the catalog does not have; ``usable`` are the local-python
    sources the request's token may upload to (told only to a valid token)."""

    def __init__(self, source: str, usable: Sequence[str] = ()) -> None:
        super().__init__(
            f"Unknown source {source!r}: no source has that name; "
            + (
                f"this token may upload to {', '.join(usable)} (/upload/pypi/<source>/)"
                if usable
                else "this token may upload to no local-python source"
            )
        )
        self.source, self.usable = source, tuple(usable)


class NotAnUploadSource(SidecarError):
    """An upload to a source that mirrors an upstream; ``kind`` is its type."""

    def __init__(self, source: str, kind: str) -> None:
        super().__init__(f"Source {source!r} is a {kind} mirror: upload to a local-python source")
        self.source, self.kind = source, kind


class InvalidUpload(SidecarError):
    """An upload form we cannot accept; the message says what would be valid."""


class RepeatedField(InvalidUpload):
    """A single-valued field or a file part sent ``count`` times."""

    def __init__(self, name: str, count: int) -> None:
        super().__init__(f"'{name}' has invalid data: it was sent {count} times")
        self.name, self.count = name, count


class MissingAction(InvalidUpload):
    def __init__(self) -> None:
        super().__init__("Missing ':action' field: use :action=file_upload")


class UnsupportedAction(InvalidUpload):
    def __init__(self, action: str) -> None:
        super().__init__(f"Unsupported ':action' {action!r}: use :action=file_upload")
        self.action = action


class UnknownProtocolVersion(InvalidUpload):
    def __init__(self, version: str) -> None:
        super().__init__("Unknown protocol version.")
        self.version = version


class UnexpectedFilePart(InvalidUpload):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: Should not be a file part (only content and gpg_signature)")
        self.name = name


class MissingFile(InvalidUpload):
    def __init__(self) -> None:
        super().__init__("Upload payload does not have a file.")


class InvalidFiletype(InvalidUpload):
    def __init__(self, filetype: str) -> None:
        super().__init__(
            f"Invalid value for filetype {filetype!r}. Error: Use a known file type "
            "(sdist or bdist_wheel)."
        )
        self.filetype = filetype


class WrongExtension(InvalidUpload):
    """A filename whose extension is none of ``extensions``, those of ``filetype``."""

    def __init__(self, filename: str, filetype: str, extensions: Sequence[str]) -> None:
        super().__init__(
            f"Invalid file extension: {filename!r} is not valid for filetype {filetype} "
            f"(use {' or '.join(extensions)})."
        )
        self.filename, self.filetype, self.extensions = filename, filetype, tuple(extensions)


class MissingPyversion(InvalidUpload):
    def __init__(self) -> None:
        super().__init__("Python version is required for binary distribution uploads.")


class InvalidSdistPyversion(InvalidUpload):
    def __init__(self, pyversion: str) -> None:
        super().__init__("Use 'source' as Python version for an sdist.")
        self.pyversion = pyversion


class MissingDigest(InvalidUpload):
    def __init__(self) -> None:
        super().__init__(
            "Include at least one message digest (sha256_digest, blake2_256_digest or md5_digest)."
        )


class DigestMismatch(InvalidUpload):
    """The digest sent in ``field`` is not the uploaded file's."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"The digest supplied does not match a digest calculated from the uploaded "
            f"file ({field})."
        )
        self.field = field


class InvalidDistributionFile(InvalidUpload):
    """The uploaded file is not a distribution; ``cause`` says why."""

    def __init__(self, cause: InvalidDistribution) -> None:
        super().__init__(f"Invalid distribution file: {cause}")
        self.cause = cause


class DistributionFileTooLarge(InvalidUpload):
    """The uploaded archive is over a size, ratio or member limit; ``cause`` says which."""

    def __init__(self, cause: InvalidDistribution) -> None:
        super().__init__(f"File too large or too expanded: {cause}")
        self.cause = cause


# -- bundles and environments ---------------------------------------------------------------


class EnvironmentRepositoryMissing(SidecarError, status=503):
    """``[python] repository`` names a repository that does not exist."""

    def __init__(self, repository: str) -> None:
        super().__init__(
            f"environments install from repository {repository!r}, which does not exist: "
            "create it or change [python] repository"
        )
        self.repository = repository


class MissingBundle(SidecarError):
    """A bundle upload with an empty body, or a form without the ``archive`` field."""

    def __init__(self, *, multipart: bool) -> None:
        super().__init__(
            "no bundle: send the gzip tar in the multipart field 'archive'"
            if multipart
            else "no bundle: send a gzip tar as the request body or as the multipart field "
            "'archive'"
        )
        self.multipart = multipart


class InvalidBundle(SidecarError):
    """A bundle that cannot be unpacked or used; ``cause`` says why."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"invalid bundle: {cause}")
        self.cause = cause
        self.problems = tuple(getattr(cause, "problems", ()))


class CannotBuild(SidecarError, status=422):
    """A bundle asks for a setting this server refuses (``ConfigError``); ``cause``."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class InvalidSnapshot(SidecarError):
    """``?snapshot=`` names no day of the index; ``cause`` says why."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class UnknownTask(SidecarError, status=404):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"no task {task_id!r}")
        self.task_id = task_id


class InvalidLineNumber(SidecarError):
    def __init__(self, first: str) -> None:
        super().__init__(f"first={first!r} is invalid: expected a line number >= 0")
        self.first = first


class UnknownEnvironment(SidecarError, status=404):
    def __init__(self, environment_id: str) -> None:
        super().__init__(f"no environment {environment_id!r}")
        self.environment_id = environment_id


# -- the site -------------------------------------------------------------------------------


class PageError(SidecarError):
    """A page or file not given, answered as nginx answers: ``<status> <message>`` as
    text with the standard reason phrase."""


class PageNotFound(PageError, status=404):
    """Nothing at the path; ``detail`` (if any) says why, ``vary`` when the path is a
    negotiated page (the answer then carries ``Vary: Accept``)."""

    def __init__(self, detail: str | None = None, *, vary: bool = False) -> None:
        super().__init__("Not Found" if detail is None else f"Not Found: {detail}")
        self.detail, self.vary = detail, vary
        self.headers = {"Vary": "Accept"} if vary else {}


class NotAcceptable(PageError, status=406):
    """A simple page asked for in no variant we have (``Accept`` or ``?format=``)."""

    headers: Mapping[str, str] = {"Vary": "Accept"}

    def __init__(self) -> None:
        super().__init__(
            "Not Acceptable: ask for application/vnd.pypi.simple.v1+json or text/html"
        )


class FileWithheld(PageError, status=403):
    """A file the site withholds (its project quarantined, ...); ``reason`` says why. The
    body is the marker nginx sends: ``403 Forbidden: <reason>``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Forbidden: {reason}")
        self.reason = reason


class BadGateway(PageError, status=502):
    """A mirrored file the upstream did not give us intact; ``cause`` says how."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"Bad Gateway: {cause}")
        self.cause = cause


# -- the one registration -------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Answer every ``TimeshelfError`` raised in ``app``, and werkzeug's 413, with ``answer``."""
    app.register_error_handler(TimeshelfError, answer)
    app.register_error_handler(RequestEntityTooLarge, answer_too_large)


def answer(error: TimeshelfError) -> Response:
    """The response for ``error``: its class's status, its message, its headers."""
    if isinstance(error, StoreError):
        # The server's fault (disk full, permissions): its message names server paths, so
        # it goes to the log; a 5xx lets twine retry.
        log.error("storage failure: %s", error)
        return _api_answer(StoreError.status, STORE_FAILURE, {})
    headers = error.headers if isinstance(error, SidecarError) else {}
    if isinstance(error, PageError):
        return _site_answer(error.status, str(error), headers)
    return _api_answer(error.status, str(error), headers, getattr(error, "problems", ()))


def answer_too_large(_error: RequestEntityTooLarge) -> Response:
    """Werkzeug raises the same 413 for each of the app's three limits: name them all."""
    config = current_app.config
    return answer(RequestTooLarge(
        config["MAX_CONTENT_LENGTH"] or 0, config["MAX_FORM_PARTS"], config["MAX_FORM_MEMORY_SIZE"]
    ))


def _reason(message: str) -> str:
    """A reason phrase that cannot break the status line (no CR/LF, latin-1 only)."""
    flat = " ".join(message.split())
    safe = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in flat)
    return safe[:400]


def _api_answer(
    status: int, message: str, headers: Mapping[str, str], problems: Sequence[str] = ()
) -> Response:
    """Status + message in the reason phrase, and in the body (JSON when the client wants it)."""
    wants_json = (
        request.accept_mimetypes.best_match(["text/plain", "application/json"])
        == "application/json"
    )
    if wants_json:
        title = _TITLES.get(status, "Error")
        summary = message.splitlines()[0].removesuffix(":") if problems else message
        document: dict[str, object] = {
            "message": summary, "code": f"{status} {summary}", "title": title,
        }
        if problems:
            document["problems"] = [str(p) for p in problems]
        body = json.dumps(document)
        response = Response(body + "\n", mimetype="application/json")
        response.headers["Content-Type"] = "application/json"
    else:
        response = Response(f"{status} {message}\n", mimetype="text/plain")
    response.status = f"{status} {_reason(message)}"
    response.headers.update(headers)
    return response


def _site_answer(status: int, message: str, headers: Mapping[str, str]) -> Response:
    response = Response(f"{status} {message}\n", status, mimetype="text/plain")
    response.headers.update(headers)
    return response
