"""Every error the sidecar can raise reaches the client through the one registration.

``uploader.errors.init_app`` answers each ``TimeshelfError`` subclass found in
``generator`` and ``uploader`` with its class's status: the API shape (message in the
reason phrase; JSON when the client prefers it, else ``<status> <message>`` as text),
the site shape for a ``PageError`` (text, standard reason phrase, never JSON), and a
generic 500 for a ``StoreError``. A new error class needs an entry in ``EXAMPLES`` when
its constructor takes more than a message.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Blueprint, Flask, request

from generator.advisories.osv import MalformedAdvisory
from generator.catalog.tokens import AmbiguousTokenId
from generator.errors import (
    ConfigError,
    DistributionTooLarge,
    FileAlreadyExists,
    FileRemoved,
    InvalidDistribution,
    NotFound,
    ProjectClosed,
    SameDistributionExists,
    SameDistributionRemoved,
    StoreError,
    TimeshelfError,
)
from generator.installation import Installation
from generator.mirror.fetch import HashMismatch
from generator.records import TokenRecord
from tests.uploader.conftest import reason_of, start_installation
from uploader import errors
from uploader.app import create_app
from uploader.deploy.errors import BundleError, PublishError, RequirementsError

ROOT = Path(__file__).resolve().parents[2]
SHA = "ab" * 32


def _import_everything() -> None:
    for package in ("generator", "uploader"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            importlib.import_module(".".join(parts))


def _subclasses(cls: type[TimeshelfError]) -> Iterator[type[TimeshelfError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


_import_everything()
ERRORS = sorted(
    {cls for cls in _subclasses(TimeshelfError) if cls.__module__.startswith(("generator", "uploader"))},
    key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
)
_BAD = InvalidDistribution("demo-1.0.tar.gz", "no PKG-INFO")

# Instances of the classes whose constructor takes more than a message.
EXAMPLES: dict[type[Exception], Callable[[], Exception]] = {
    InvalidDistribution: lambda: _BAD,
    DistributionTooLarge: lambda: DistributionTooLarge("demo-1.0.tar.gz", "over 1 MiB"),
    FileAlreadyExists: lambda: FileAlreadyExists("demo-1.0.tar.gz", SHA),
    SameDistributionExists: lambda: SameDistributionExists(
        "Demo-1.0.tar.gz", "demo-1.0.tar.gz", SHA, "local", "sdist"
    ),
    FileRemoved: lambda: FileRemoved("demo-1.0.tar.gz"),
    SameDistributionRemoved: lambda: SameDistributionRemoved(
        "Demo-1.0.tar.gz", "demo-1.0.tar.gz", "local", "sdist"
    ),
    HashMismatch: lambda: HashMismatch("https://files.example/demo-1.0.tar.gz", SHA, "cd" * 32),
    RequirementsError: lambda: RequirementsError(["requirements.txt:1: -e is not allowed"]),
    BundleError: lambda: BundleError("bundle member 'h' is a hard link: not allowed"),
    PublishError: lambda: PublishError("POST /__api__/bundles answered 400: no bundle"),
    errors.AuthenticationRequired: errors.AuthenticationRequired,
    errors.UnsupportedAuthScheme: lambda: errors.UnsupportedAuthScheme("digest"),
    errors.MalformedCredentials: errors.MalformedCredentials,
    errors.PasswordNotSupported: errors.PasswordNotSupported,
    errors.NotMultipart: lambda: errors.NotMultipart("application/x-www-form-urlencoded"),
    errors.RequestTooLarge: lambda: errors.RequestTooLarge(4096, 5000, 1024),
    errors.BundleTooLarge: lambda: errors.BundleTooLarge(4096),
    errors.UploadMethodNotAllowed: errors.UploadMethodNotAllowed,
    errors.RetiredAction: lambda: errors.RetiredAction("doc_upload"),
    errors.UnknownSource: lambda: errors.UnknownSource("nowhere", ("local", "team")),
    AmbiguousTokenId: lambda: AmbiguousTokenId("855e", [
        TokenRecord(id=f"855e{n}" + "0" * 27, description=f"token {n}", sources=("*",),
                    scopes=("upload",), created_at="2026-03-01T00:00:00.000000Z",
                    expires_at=None, last_used_at=None, revoked_at=None)
        for n in (1, 2)
    ]),
    errors.NotAnUploadSource: lambda: errors.NotAnUploadSource("pypi", "pypi"),
    errors.RepeatedField: lambda: errors.RepeatedField("version", 2),
    errors.MissingAction: errors.MissingAction,
    errors.UnsupportedAction: lambda: errors.UnsupportedAction("remove_pkg"),
    errors.UnknownProtocolVersion: lambda: errors.UnknownProtocolVersion("2"),
    errors.UnexpectedFilePart: lambda: errors.UnexpectedFilePart("name"),
    errors.MissingFile: errors.MissingFile,
    errors.InvalidFiletype: lambda: errors.InvalidFiletype("bdist_egg"),
    errors.WrongExtension: lambda: errors.WrongExtension("demo.whl", "sdist", (".tar.gz", ".zip")),
    errors.MissingPyversion: errors.MissingPyversion,
    errors.InvalidSdistPyversion: lambda: errors.InvalidSdistPyversion("py3"),
    errors.MissingDigest: errors.MissingDigest,
    errors.DigestMismatch: lambda: errors.DigestMismatch("sha256_digest"),
    errors.InvalidDistributionFile: lambda: errors.InvalidDistributionFile(_BAD),
    errors.DistributionFileTooLarge: lambda: errors.DistributionFileTooLarge(_BAD),
    errors.EnvironmentRepositoryMissing: lambda: errors.EnvironmentRepositoryMissing("python"),
    errors.MissingBundle: lambda: errors.MissingBundle(multipart=True),
    errors.InvalidBundle: lambda: errors.InvalidBundle(ValueError("no manifest.json")),
    errors.CannotBuild: lambda: errors.CannotBuild(ConfigError("no such [python] key")),
    errors.InvalidSnapshot: lambda: errors.InvalidSnapshot(NotFound("no such day")),
    errors.UnknownTask: lambda: errors.UnknownTask("t1"),
    errors.InvalidLineNumber: lambda: errors.InvalidLineNumber("-1"),
    errors.UnknownEnvironment: lambda: errors.UnknownEnvironment("e1"),
    errors.PageNotFound: lambda: errors.PageNotFound("no day 2001-01-01", vary=True),
    errors.NotAcceptable: errors.NotAcceptable,
    errors.BadGateway: lambda: errors.BadGateway(ValueError("the upstream sent 3 bytes")),
    errors.FileWithheld: lambda: errors.FileWithheld("project 'demo' is quarantined"),
    ProjectClosed: lambda: ProjectClosed("demo-1.0.tar.gz", "demo", "local", "archived", "old"),
    MalformedAdvisory: lambda: MalformedAdvisory("PYSEC-2026-1.json", "'id' is missing"),
}


def example(cls: type[TimeshelfError]) -> TimeshelfError:
    """An instance of ``cls``: from ``EXAMPLES``, else made from a message."""
    if cls in EXAMPLES:
        made = EXAMPLES[cls]()
    else:
        takes_more = any(
            "__init__" in vars(base) for base in cls.__mro__[: cls.__mro__.index(TimeshelfError)]
        )
        assert not takes_more, f"add an example of {cls.__qualname__} to EXAMPLES"
        made = cls("something is wrong: say what would be valid")
    assert isinstance(made, cls)
    return made


def _app_raising(error: Exception) -> Flask:
    app = Flask(__name__)
    errors.init_app(app)

    @app.get("/raise")
    def raise_it() -> str:
        raise error

    @app.post("/form")
    def read_form() -> str:
        return str(len(request.form))

    return app


def test_every_sidecar_error_is_found() -> None:
    names = {cls.__qualname__ for cls in ERRORS}
    assert {"NotFound", "StoreError", "TokenError", "MissingAction", "PageNotFound"} <= names


@pytest.mark.parametrize("cls", ERRORS, ids=[cls.__qualname__ for cls in ERRORS])
@pytest.mark.parametrize("accept", ["application/json", None], ids=["json", "text"])
def test_error_is_answered_from_its_class(cls: type[TimeshelfError], accept: str | None) -> None:
    error = example(cls)
    assert 400 <= cls.status < 600
    client = _app_raising(error).test_client()
    reply = client.get("/raise", headers={"Accept": accept} if accept else {})
    message = str(error)
    if isinstance(error, StoreError):
        assert reply.status_code == 500
        message = errors.STORE_FAILURE
        assert str(error) not in reply.get_data(as_text=True)
    else:
        assert reply.status_code == cls.status
    headers = error.headers if isinstance(error, errors.SidecarError) else {}
    for name, value in headers.items():
        assert reply.headers[name] == value
    if isinstance(error, errors.PageError):
        # The site's shape, whatever the client accepts.
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert reply.get_data(as_text=True) == f"{cls.status} {message}\n"
        assert reply.status.split(" ", 1)[1] == reply.status.split(" ", 1)[1].upper()
        return
    assert reply.status == f"{reply.status_code} {reason_of(message)}"
    if accept == "application/json":
        assert reply.headers["Content-Type"] == "application/json"
        document = json.loads(reply.get_data(as_text=True))
        assert document["message"] == message
        assert document["code"] == f"{reply.status_code} {message}"
        listed = list(getattr(error, "problems", ()))
        assert document.get("problems", []) == listed
        assert set(document) - {"problems"} == {"message", "code", "title"}
    else:
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert reply.get_data(as_text=True) == f"{reply.status_code} {message}\n"


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (NotFound("no source 'x'"), 404, "no source 'x'"),
        (FileAlreadyExists("demo-1.0.tar.gz", SHA), 409, "File already exists ('demo-1.0.tar.gz'"),
        (errors.AuthenticationRequired(), 401, "Authentication required: use username __token__"),
        (errors.RetiredAction("submit"), 410, "Project pre-registration is no longer required"),
        (errors.RetiredAction("doc_upload"), 410, "Uploading documentation is not supported."),
        (errors.MissingBundle(multipart=False), 400, "no bundle: send a gzip tar as the request"),
        (errors.InvalidDistributionFile(_BAD), 400,
         "Invalid distribution file: demo-1.0.tar.gz: no PKG-INFO"),
        (errors.DistributionFileTooLarge(_BAD), 400, "File too large or too expanded: demo-1.0"),
        (errors.PageNotFound(), 404, "Not Found"),
    ],
    ids=["not-found", "exists", "401", "register", "docs", "no-bundle", "invalid-file",
         "too-large", "plain-404"],
)
def test_status_and_message(error: TimeshelfError, status: int, message: str) -> None:
    reply = _app_raising(error).test_client().get("/raise")
    assert reply.status_code == status
    assert reply.get_data(as_text=True).startswith(f"{status} {message}")


def test_page_not_found_varies_only_for_pages() -> None:
    plain = _app_raising(errors.PageNotFound()).test_client().get("/raise")
    assert "Vary" not in plain.headers
    page = _app_raising(errors.PageNotFound(vary=True)).test_client().get("/raise")
    assert page.headers["Vary"] == "Accept"


def test_werkzeug_413_names_every_limit() -> None:
    app = _app_raising(ValueError("unused"))
    app.config.update(MAX_CONTENT_LENGTH=1024, MAX_FORM_PARTS=7, MAX_FORM_MEMORY_SIZE=512)
    reply = app.test_client().post(
        "/form", data={"a": "x" * 4096}, headers={"Accept": "application/json"}
    )
    assert reply.status_code == 413
    assert json.loads(reply.get_data(as_text=True))["message"] == (
        "Request body too large: the limits are 1024 bytes in all, 7 form parts and "
        "512 bytes per form field"
    )


def test_create_app_registers_the_one_handler(tmp_path: Path) -> None:
    inst = Installation.from_config_file(start_installation(tmp_path / "inst"))
    try:
        app = create_app(inst, serve_site=False)
        probe = Blueprint("probe", __name__)

        @probe.get("/probe")
        def raise_it() -> str:
            raise errors.UnknownTask("t1")

        app.register_blueprint(probe)
        reply = app.test_client().get("/probe")
        assert reply.status == "404 no task 't1'"
        assert reply.get_data(as_text=True) == "404 no task 't1'\n"
    finally:
        inst.close()
