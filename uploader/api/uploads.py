"""The legacy upload API (what ``twine upload`` and every other publisher speaks).

``POST /upload/pypi/<source>/`` (also without the trailing slash; never a redirect, since
twine, poetry, pdm and hatch refuse to follow one); GET and HEAD there answer 405. The view authenticates, parses the
form, checks it against the archive's own metadata (clients disagree on form fields, so
the archive is the truth and the form is cross-checked), ingests through the same gate as
``timeshelf add``, and regenerates the affected pages before it answers, so a 200 means
durable *and* installable. A POST below ``/upload/`` that is not multipart/form-data is
refused before any form is read. Every refusal is raised as an ``uploader.errors`` error
(or a core ``TimeshelfError``) and answered by the app's one handler.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from flask import Blueprint, Response, request
from werkzeug.datastructures import FileStorage

from generator.errors import (
    DistributionTooLarge,
    InvalidDistribution,
    NotFound,
    StoreError,
    TimeshelfError,
)
from generator.installation import Installation
from generator.intake.distributions import Limits
from generator.intake.ingest import Accepted, ingest_file
from generator.records import Source, TokenRecord
from uploader.auth import authorize
from uploader.context import installation
from uploader.errors import (
    DigestMismatch,
    DistributionFileTooLarge,
    InvalidDistributionFile,
    InvalidFiletype,
    InvalidSdistPyversion,
    MissingAction,
    MissingDigest,
    MissingFile,
    MissingPyversion,
    NotAnUploadSource,
    NotMultipart,
    RepeatedField,
    RetiredAction,
    UnexpectedFilePart,
    UnknownProtocolVersion,
    UnknownSource,
    UnsupportedAction,
    UploadMethodNotAllowed,
    WrongExtension,
)

log = logging.getLogger(__name__)
bp = Blueprint("legacy_upload", __name__)

FILETYPES = {"sdist": (".tar.gz", ".zip"), "bdist_wheel": (".whl",)}
_SINGLE_FIELDS = (
    ":action",
    "protocol_version",
    "name",
    "version",
    "filetype",
    "pyversion",
    "md5_digest",
    "sha256_digest",
    "blake2_256_digest",
    "metadata_version",
)
_FILE_PARTS = ("content", "gpg_signature")


@bp.before_app_request
def refuse_unparsed_upload_bodies() -> None:
    """Raise ``NotMultipart`` for a POST below ``/upload/`` that is not multipart/form-data.

    Runs before any view touches ``request.form``: werkzeug reads an urlencoded body
    whole into memory and applies neither ``MAX_FORM_PARTS`` nor ``MAX_FORM_MEMORY_SIZE``
    to it (2 MiB of ``a&`` is a million fields), and every upload client sends multipart.
    """
    if request.method != "POST" or not request.path.startswith("/upload/"):
        return
    if request.mimetype != "multipart/form-data":
        raise NotMultipart(request.headers.get("Content-Type", ""))


def _field(name: str) -> str:
    """A single-valued form field ('' when absent); ``RepeatedField`` when sent twice."""
    values = [v for v in request.form.getlist(name) if v != ""]
    if len(values) > 1:
        raise RepeatedField(name, len(values))
    value = values[0] if values else ""
    # Warehouse treats the placeholder UNKNOWN as absent.
    return "" if value.strip() == "UNKNOWN" else value


@bp.post("/upload/pypi/<source>/")
@bp.post("/upload/pypi/<source>")
def upload(source: str) -> Response:
    inst = installation()
    try:
        target = inst.catalog.get_source(source)
    except NotFound as e:
        # Credentials first, as for a known source: only a valid upload token hears that
        # the source does not exist, and which ones it may use instead.
        record = authorize(inst, request, source=None, permission="upload")
        raise UnknownSource(source, _uploadable(inst, record)) from e
    authorize(inst, request, source=source, permission="upload")
    if target.type != "local-python":
        raise NotAnUploadSource(source, target.type)
    action = request.args.get(":action") or _field(":action")
    if not action:
        raise MissingAction
    if action in ("submit", "submit_pkg_info", "doc_upload"):
        raise RetiredAction(action)
    if action != "file_upload":
        raise UnsupportedAction(action)
    version = _field("protocol_version") or "1"
    if version != "1":
        raise UnknownProtocolVersion(version)
    for name in request.files:
        if name not in _FILE_PARTS:
            raise UnexpectedFilePart(name)
        sent = len(request.files.getlist(name))
        if sent > 1:
            # Which file would be meant is anyone's guess: refuse rather than take the first.
            raise RepeatedField(name, sent)
    for name in _SINGLE_FIELDS:
        _field(name)
    content = request.files.get("content")
    if content is None or not content.filename:
        raise MissingFile
    filename = content.filename
    filetype = _field("filetype")
    _check_filetype(filename, filetype, _field("pyversion"))
    signature = _read_signature(request.files.get("gpg_signature"))

    with _staged(inst, content) as (path, digests):
        _check_digests(digests)
        accepted = _ingest(inst, target, path, filename, signature)
    log.info(
        "%s %s to %s", "stored" if accepted.new else "re-uploaded (identical)", filename, source
    )
    warnings = ""
    try:
        # Outside the generation lock: a description that is slow to format delays only
        # its own upload, and the render under the lock is a cache lookup.
        inst.webui.prepare_description(accepted.sha256, accepted.filename)
        inst.generate(inst.repos_using([target.name]))
    except TimeshelfError as e:
        # The file is durable and recorded; the next generate makes it visible.
        log.error("regeneration after uploading %s failed: %s", filename, e)
        warnings = f"stored, but the index could not be regenerated yet: {e}\n"
    except Exception:
        # Acknowledged means stored: a fault after the commit is the server's to log, and
        # never a 5xx for a file that was kept.
        log.exception("regeneration after uploading %s failed", filename)
        warnings = "stored, but the index could not be regenerated yet (see the server log)\n"
    return Response(warnings, status=200, mimetype="text/plain")


def _uploadable(inst: Installation, token: TokenRecord) -> tuple[str, ...]:
    """The local-python sources ``token`` may upload to, by name."""
    return tuple(
        s.name for s in inst.catalog.list_sources()
        if s.type == "local-python" and ("*" in token.sources or s.name in token.sources)
    )


@bp.get("/upload/pypi/<source>/")
@bp.get("/upload/pypi/<source>")
def not_an_upload(source: str) -> Response:
    """GET (and HEAD) on the upload URL: 405, so a browser or an installer pointed at it
    hears what the URL is for instead of a 404 from the site behind it."""
    raise UploadMethodNotAllowed


def _check_filetype(filename: str, filetype: str, pyversion: str) -> None:
    if filetype not in FILETYPES:
        raise InvalidFiletype(filetype)
    if not filename.lower().endswith(FILETYPES[filetype]):
        raise WrongExtension(filename, filetype, FILETYPES[filetype])
    if filetype == "bdist_wheel" and not pyversion:
        raise MissingPyversion
    if filetype == "sdist" and pyversion not in ("", "source"):
        raise InvalidSdistPyversion(pyversion)


def _read_signature(part: FileStorage | None) -> bytes | None:
    if part is None:
        return None
    data = part.stream.read(64 * 1024 + 1)
    return data if data else None


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


@contextlib.contextmanager
def _staged(inst: Installation, content: FileStorage) -> Iterator[tuple[Path, dict[str, str]]]:
    """Stream the upload into a private temporary file, hashing as it goes."""
    staging = inst.config.file.parent / "tmp"
    try:
        staging.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=staging, prefix="upload-", delete=False)  # noqa: SIM115
    except OSError as e:
        # A full or read-only disk is the server's fault: a 5xx with a message, not a crash.
        raise StoreError(f"cannot stage the upload in {staging}: {e}") from e
    path = Path(handle.name)
    hashes: dict[str, _Hasher] = {
        "sha256_digest": hashlib.sha256(),
        "blake2_256_digest": hashlib.blake2b(digest_size=32),
        "md5_digest": hashlib.md5(),  # noqa: S324 - compared only because clients send it
    }
    try:
        try:
            with handle:
                while chunk := content.stream.read(1 << 20):
                    handle.write(chunk)
                    for h in hashes.values():
                        h.update(chunk)
        except OSError as e:
            raise StoreError(f"cannot stage the upload in {staging}: {e}") from e
        yield path, {k: h.hexdigest() for k, h in hashes.items()}
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _check_digests(computed: dict[str, str]) -> None:
    sent = {k: _field(k).strip().lower() for k in computed if _field(k).strip()}
    if not sent:
        raise MissingDigest
    for key, value in sent.items():
        if value != computed[key]:
            raise DigestMismatch(key)


def _ingest(
    inst: Installation, target: Source, path: Path, filename: str, signature: bytes | None
) -> Accepted:
    limits = Limits(max_file_size=inst.config.max_request_size)
    # FileAlreadyExists (409), FileRemoved and Conflict (400) are answered as they are; an
    # unusable file gets the prefix that tells it apart from a refused name (twine shows it).
    try:
        return ingest_file(
            inst.catalog,
            inst.store,
            target,
            path,
            inst.now(),
            filename=filename,
            signature=signature,
            limits=limits,
            expect_name=_field("name") or None,
            expect_version=_field("version") or None,
        )
    except DistributionTooLarge as e:
        raise DistributionFileTooLarge(e) from e
    except InvalidDistribution as e:
        raise InvalidDistributionFile(e) from e
