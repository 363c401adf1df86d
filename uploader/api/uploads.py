"""The legacy upload API (what ``twine upload`` and every other publisher speaks).

``POST /upload/pypi/<source>/`` (also without the trailing slash; never a redirect, since
twine, poetry, pdm and hatch refuse to follow one); GET and HEAD there answer 405. The view authenticates, parses the
form, checks it against the archive's own metadata (clients disagree on form fields, so
the archive is the truth and the form is cross-checked), ingests through the same gate as
``timeshelf add``, and regenerates the affected pages before it answers, so a 200 means
durable *and* installable.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import FileStorage

from generator.errors import (
    Conflict,
    DistributionTooLarge,
    FileAlreadyExists,
    FileRemoved,
    InvalidDistribution,
    NotFound,
    StoreError,
    TimeshelfError,
)
from generator.installation import Installation
from generator.intake.distributions import Limits
from generator.intake.ingest import Accepted, ingest_file
from generator.records import Source
from uploader.auth import authorize
from uploader.errors import UploadError

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


def _inst() -> Installation:
    from uploader.app import installation

    return installation(current_app)


def _field(name: str) -> str:
    """A single-valued form field ('' when absent); 400 when sent twice."""
    values = [v for v in request.form.getlist(name) if v != ""]
    if len(values) > 1:
        raise UploadError(400, f"'{name}' has invalid data: it was sent {len(values)} times")
    value = values[0] if values else ""
    # Warehouse treats the placeholder UNKNOWN as absent.
    return "" if value.strip() == "UNKNOWN" else value


@bp.post("/upload/pypi/<source>/")
@bp.post("/upload/pypi/<source>")
def upload(source: str) -> Response:
    inst = _inst()
    authorize(inst, request, source=source, permission="upload")
    try:
        target = inst.catalog.get_source(source)
    except NotFound as e:
        raise UploadError(
            404,
            f"Unknown source {source!r}: upload to /upload/pypi/<source>/ "
            "with the name of a local-python source",
        ) from e
    if target.type != "local-python":
        raise UploadError(
            400, f"Source {source!r} is a {target.type} mirror: upload to a local-python source"
        )
    action = request.args.get(":action") or _field(":action")
    if not action:
        raise UploadError(400, "Missing ':action' field: use :action=file_upload")
    if action in ("submit", "submit_pkg_info"):
        raise UploadError(
            410,
            "Project pre-registration is no longer required or supported, upload your files instead.",
        )
    if action == "doc_upload":
        raise UploadError(410, "Uploading documentation is not supported.")
    if action != "file_upload":
        raise UploadError(400, f"Unsupported ':action' {action!r}: use :action=file_upload")
    if (_field("protocol_version") or "1") != "1":
        raise UploadError(400, "Unknown protocol version.")
    for name in request.files:
        if name not in _FILE_PARTS:
            raise UploadError(
                400, f"{name}: Should not be a file part (only content and gpg_signature)"
            )
        sent = len(request.files.getlist(name))
        if sent > 1:
            # Which file would be meant is anyone's guess: refuse rather than take the first.
            raise UploadError(400, f"'{name}' has invalid data: it was sent {sent} times")
    for name in _SINGLE_FIELDS:
        _field(name)
    content = request.files.get("content")
    if content is None or not content.filename:
        raise UploadError(400, "Upload payload does not have a file.")
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


@bp.get("/upload/pypi/<source>/")
@bp.get("/upload/pypi/<source>")
def not_an_upload(source: str) -> Response:
    """GET (and HEAD) on the upload URL: 405, so a browser or an installer pointed at it
    hears what the URL is for instead of a 404 from the site behind it."""
    raise UploadError(
        405,
        "The upload URL takes POST (twine upload, uv publish): install from the index URL "
        "instead",
        headers={"Allow": "POST"},
    )


def _check_filetype(filename: str, filetype: str, pyversion: str) -> None:
    if filetype not in FILETYPES:
        raise UploadError(
            400,
            f"Invalid value for filetype {filetype!r}. Error: Use a known file type "
            "(sdist or bdist_wheel).",
        )
    if not filename.lower().endswith(FILETYPES[filetype]):
        raise UploadError(
            400,
            f"Invalid file extension: {filename!r} is not valid for filetype {filetype} "
            f"(use {' or '.join(FILETYPES[filetype])}).",
        )
    if filetype == "bdist_wheel" and not pyversion:
        raise UploadError(400, "Python version is required for binary distribution uploads.")
    if filetype == "sdist" and pyversion not in ("", "source"):
        raise UploadError(400, "Use 'source' as Python version for an sdist.")


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
        raise UploadError(
            400,
            "Include at least one message digest (sha256_digest, blake2_256_digest or md5_digest).",
        )
    for key, value in sent.items():
        if value != computed[key]:
            raise UploadError(
                400,
                f"The digest supplied does not match a digest calculated from the uploaded "
                f"file ({key}).",
            )


def _ingest(
    inst: Installation, target: Source, path: Path, filename: str, signature: bytes | None
) -> Accepted:
    limits = Limits(max_file_size=inst.config.max_request_size)
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
    except FileAlreadyExists as e:
        raise UploadError(409, str(e)) from e
    except FileRemoved as e:
        raise UploadError(400, str(e)) from e
    except DistributionTooLarge as e:
        raise UploadError(400, f"File too large or too expanded: {e}") from e
    except InvalidDistribution as e:
        raise UploadError(400, f"Invalid distribution file: {e}") from e
    except Conflict as e:
        raise UploadError(400, str(e)) from e
