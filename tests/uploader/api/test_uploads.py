"""The legacy upload API against the real sidecar (``timeshelf serve``) over HTTP.

Every hostile or broken upload of ``REFUSED`` is crafted byte by byte and must be
answered with its status code and a message saying what was wrong, in the reason
phrase (twine prints it) and in the JSON body uv asks for, and must leave nothing
behind: no blob, no catalog row or event, no staging file. ``ACCEPTED`` lists the odd
but valid forms real clients send (protocol list T-01..T-19). Concurrency and the
regenerated index come last.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import stat
import tarfile
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.factory import (
    SIGNATURE,
    TarEntry,
    WheelSpec,
    build_sdist,
    build_wheel,
    metadata_text,
    wheel_filename,
    wheel_members,
    write_tar_gz,
    write_zip,
)
from tests.uploader.conftest import (
    BOUNDARY,
    MAX_REQUEST_SIZE,
    UV_ACCEPT,
    Part,
    RawReply,
    Sidecar,
    assert_no_token,
    assert_nothing_stored,
    assert_refused,
    assert_stored,
    basic,
    build_request,
    multipart,
    parse_reply,
    project_page,
    send_raw,
    timeshelf,
    upload_parts,
)

Attempt = Callable[[], RawReply]


# -- the corpus of refused uploads ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """A hostile upload: ``prepare`` sets up (may upload), returns the refused attempt."""

    id: str
    prepare: Callable[[Sidecar, str], Attempt]
    status: int
    message: str


REFUSED: list[Refusal] = []


def refused(status: int, message: str) -> Callable[[Callable[[Sidecar, str], Attempt]],
                                                   Callable[[Sidecar, str], Attempt]]:
    """Register a case; the function gets the sidecar and a project name of its own."""

    def register(prepare: Callable[[Sidecar, str], Attempt]) -> Callable[[Sidecar, str], Attempt]:
        REFUSED.append(Refusal(prepare.__name__, prepare, status, message))
        return prepare

    return register


def wheel(sidecar: Sidecar, name: str, version: str = "1.0", **spec: object) -> Path:
    return build_wheel(sidecar.fresh_dir(), WheelSpec(name, version, **spec))  # type: ignore[arg-type]


def sdist(sidecar: Sidecar, name: str, version: str = "1.0", **options: object) -> Path:
    return build_sdist(sidecar.fresh_dir(), name, version, **options)  # type: ignore[arg-type]


def post_wheel(sidecar: Sidecar, name: str, **form: object) -> Attempt:
    """An attempt posting a good wheel of ``name`` with ``upload_parts(**form)``."""
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist, **form))  # type: ignore[arg-type]


# T-02 :action


@refused(400, "Missing ':action' field")
def action_missing(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={":action": None})


@refused(410, "pre-registration is no longer required")
def action_submit(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={":action": "submit"})


@refused(410, "pre-registration is no longer required")
def action_submit_pkg_info(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={":action": "submit_pkg_info"})


@refused(410, "documentation is not supported")
def action_doc_upload(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={":action": "doc_upload"})


@refused(400, "Unsupported ':action' 'remove_pkg'")
def action_unknown(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={":action": "remove_pkg"})


@refused(400, "Unsupported ':action' 'nonsense'")
def action_query_string_wins_over_body(sidecar: Sidecar, name: str) -> Attempt:
    # Warehouse routes on the query string first; the body cannot override it.
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist), path="/upload/pypi/local/?:action=nonsense")


# T-03 protocol_version


@refused(400, "Unknown protocol version.")
def protocol_version_2(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"protocol_version": "2"})


# T-05 content


@refused(400, "Upload payload does not have a file.")
def content_missing(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    parts = [p for p in upload_parts(dist) if p.name != "content"]
    return lambda: sidecar.post(parts)


@refused(400, "Upload payload does not have a file.")
def content_as_text_field(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    parts = [Part("content", p.data) if p.name == "content" else p for p in upload_parts(dist)]
    return lambda: sidecar.post(parts)


@refused(400, "Upload payload does not have a file.")
def content_empty_filename(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename="")


@refused(415, "Uploads are multipart/form-data (as twine, uv, poetry ... send them)")
def urlencoded_not_multipart(sidecar: Sidecar, name: str) -> Attempt:
    body = b":action=file_upload&protocol_version=1&name=x&version=1.0&sha256_digest=00"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return lambda: sidecar.post(body=body, headers=headers)


@refused(400, "Should not be a file part")
def field_sent_as_file_part(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    parts = [p for p in upload_parts(dist) if p.name != "sha256_digest"]
    parts.append(Part("sha256_digest", digest.encode(), filename="sha256_digest.txt"))
    return lambda: sidecar.post(parts)


@refused(400, "'name' has invalid data")
def name_sent_twice(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, extra=[Part("name", b"something-else")])


# T-06 digests


@refused(400, "Include at least one message digest")
def digest_none(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, digests=())


@refused(400, "Include at least one message digest")
def digest_all_empty(sidecar: Sidecar, name: str) -> Attempt:
    empty = {"sha256_digest": "", "blake2_256_digest": "", "md5_digest": " "}
    return post_wheel(sidecar, name, overrides=empty)


@refused(400, "does not match a digest calculated from the uploaded file (sha256_digest)")
def digest_sha256_mismatch(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"sha256_digest": "0" * 64})


@refused(400, "does not match a digest calculated from the uploaded file (blake2_256_digest)")
def digest_blake2_mismatch(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"blake2_256_digest": "ab" * 32})


@refused(400, "does not match a digest calculated from the uploaded file (md5_digest)")
def digest_md5_mismatch(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, digests=("sha256", "md5"),
                      overrides={"md5_digest": "d41d8cd98f00b204e9800998ecf8427e"})


@refused(400, "does not match a digest calculated from the uploaded file")
def digest_not_hex(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, digests=(), overrides={"sha256_digest": "not-a-digest"})


@refused(400, "does not match a digest calculated from the uploaded file (sha256_digest)")
def digest_of_other_bytes(sidecar: Sidecar, name: str) -> Attempt:
    # The digests describe the real wheel; the bytes sent are one byte short.
    dist = wheel(sidecar, name)
    data = dist.read_bytes()
    parts = upload_parts(dist)
    parts = [Part(p.name, data[:-1], p.filename, p.content_type) if p.name == "content" else p
             for p in parts]
    return lambda: sidecar.post(parts)


# T-07 filetype and extension


@refused(400, "Use a known file type")
def filetype_egg(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"filetype": "bdist_egg"})


@refused(400, "Use a known file type")
def filetype_missing(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"filetype": None})


@refused(400, "Invalid file extension")
def filetype_sdist_for_wheel(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"filetype": "sdist", "pyversion": "source"})


@refused(400, "Invalid file extension")
def filetype_wheel_for_sdist(sidecar: Sidecar, name: str) -> Attempt:
    dist = sdist(sidecar, name)
    overrides = {"filetype": "bdist_wheel", "pyversion": "py3"}
    return lambda: sidecar.post(upload_parts(dist, overrides=overrides))


@refused(400, "Invalid file extension")
def sdist_tar_bz2(sidecar: Sidecar, name: str) -> Attempt:
    dist = sdist(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist, filename=f"{name}-1.0.tar.bz2"))


@refused(400, "unknown extension: use .whl")
def extension_uppercase_whl(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"{name}-1.0-py3-none-any.WHL")


# T-08 pyversion


@refused(400, "Python version is required for binary distribution uploads.")
def wheel_without_pyversion(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"pyversion": None})


@refused(400, "Use 'source' as Python version for an sdist.")
def sdist_with_pyversion_py3(sidecar: Sidecar, name: str) -> Attempt:
    dist = sdist(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist, overrides={"pyversion": "py3"}))


# T-10 filenames


@refused(400, "may not contain '/' or '\\'")
def filename_parent_traversal(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"../{name}-1.0-py3-none-any.whl")


@refused(400, "may not contain '/' or '\\'")
def filename_in_subdirectory(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"a/{name}-1.0-py3-none-any.whl")


@refused(400, "may not contain '/' or '\\'")
def filename_absolute(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"/srv/{name}-1.0-py3-none-any.whl")


@refused(400, "may not contain '/' or '\\'")
def filename_backslash(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"..\\{name}-1.0-py3-none-any.whl")


@refused(400, "may not contain '/' or '\\'")
def filename_windows_path(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"C:\\dist\\{name}-1.0-py3-none-any.whl")


@refused(400, "control characters")
def filename_control_character(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"{name}\x07-1.0-py3-none-any.whl")


@refused(400, "may not start with '.'")
def filename_hidden(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f".{name}-1.0-py3-none-any.whl")


@refused(400, "must be ASCII")
def filename_not_ascii(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, filename=f"{name}\u00e9-1.0-py3-none-any.whl")


@refused(400, "control characters")
def filename_crlf_header_injection(sidecar: Sidecar, name: str) -> Attempt:
    # RFC 2231 lets the name carry any byte, percent-encoded: here CR LF and a header.
    dist = wheel(sidecar, name)
    parts = upload_parts(dist)
    disposition = (
        b'form-data; name="content"; filename*=UTF-8\'\'' + name.encode()
        + b"%0D%0AX-Injected%3A%20yes%0D%0A-1.0-py3-none-any.whl"
    )
    parts = [Part(p.name, p.data, content_type=p.content_type, disposition=disposition)
             if p.name == "content" else p for p in parts]
    return lambda: sidecar.post(parts)


@refused(400, "Invalid file extension")
def filename_nul_byte(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    disposition = (b'form-data; name="content"; filename*=UTF-8\'\'' + name.encode()
                   + b"-1.0-py3-none-any.whl%00.txt")
    parts = [Part(p.name, p.data, content_type=p.content_type, disposition=disposition)
             if p.name == "content" else p for p in upload_parts(dist)]
    return lambda: sidecar.post(parts)


@refused(400, "the file name is too long")
def filename_too_long(sidecar: Sidecar, name: str) -> Attempt:
    # Longer than a store path segment may be (with ".metadata" beside it).
    return post_wheel(sidecar, name, filename=f"{name}-1.0-{'py3.' * 60}py3-none-any.whl")


@refused(400, "'content' has invalid data: it was sent 2 times")
def content_sent_twice(sidecar: Sidecar, name: str) -> Attempt:
    first, second = wheel(sidecar, name), wheel(sidecar, name, "2.0")
    extra = [Part("content", second.read_bytes(), filename=second.name)]
    return lambda: sidecar.post(upload_parts(first, extra=extra))


@refused(400, "'gpg_signature' has invalid data: it was sent 2 times")
def gpg_signature_sent_twice(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    extra = [Part("gpg_signature", SIGNATURE, filename=f"{dist.name}.asc")] * 2
    return lambda: sidecar.post(upload_parts(dist, extra=extra))


@refused(400, "Missing ':action' field")
def multipart_without_boundary(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    body = multipart(upload_parts(dist))
    return lambda: sidecar.post(body=body, headers={"Content-Type": "multipart/form-data"})


@refused(400, "Missing ':action' field")
def multipart_with_another_boundary(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    body = multipart(upload_parts(dist))
    headers = {"Content-Type": "multipart/form-data; boundary=not-the-one-used"}
    return lambda: sidecar.post(body=body, headers=headers)


# T-12/T-13 archives


@refused(400, "not a zip file")
def wheel_not_a_zip(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist, data=b"this is not a zip archive\n" * 40))


@refused(400, "the file is empty")
def wheel_empty(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist, data=b""))


@refused(400, "corrupt zip archive")
def wheel_truncated_archive(sidecar: Sidecar, name: str) -> Attempt:
    members = wheel_members(WheelSpec(name, "1.0", module_body="x = 1\n" * 5000))
    dist = write_zip(sidecar.fresh_dir() / wheel_filename(name, "1.0"), members)
    data = bytearray(dist.read_bytes())
    # Damage the deflated module (the central directory stays intact).
    data[200:260] = b"\xff" * 60
    return lambda: sidecar.post(upload_parts(dist, data=bytes(data)))


@refused(400, "METADATA")
def wheel_without_metadata(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, omit=("METADATA",))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "RECORD")
def wheel_without_record(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, omit=("RECORD",))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "WHEEL")
def wheel_without_wheel_file(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, omit=("WHEEL",))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "escapes the archive")
def wheel_member_path_traversal(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, extra={"../../evil.py": b"print('owned')\n"})
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "unsupported compression type")
def wheel_bzip2_member(sidecar: Sidecar, name: str) -> Attempt:
    dist = write_zip(sidecar.fresh_dir() / wheel_filename(name, "1.0"),
                     wheel_members(WheelSpec(name, "1.0")), zipfile.ZIP_BZIP2)
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "decompression bomb")
def wheel_zip_bomb(sidecar: Sidecar, name: str) -> Attempt:
    # 80 MiB of zeros deflate to ~80 kB: over PyPI's 64 MiB floor and ratio 50.
    dist = wheel(sidecar, name, extra={f"{name}/zeros.bin": bytes(80 * 1024 * 1024)})
    assert dist.stat().st_size < MAX_REQUEST_SIZE // 10
    return lambda: sidecar.post(upload_parts(dist))


def zip_with_duplicates(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A zip whose central directory names one member twice (zipfile only warns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore", UserWarning)
        for member, data in members:
            archive.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data)
    return path


@refused(400, "more than once")
def wheel_duplicate_metadata_member(sidecar: Sidecar, name: str) -> Attempt:
    # Which METADATA counts would depend on the reader: the index's .metadata could say
    # one thing and the installed wheel another (a dependency smuggled in).
    members = list(wheel_members(WheelSpec(name, "1.0")).items())
    metadata = next(m for m, _ in members if m.endswith("/METADATA"))
    smuggled = metadata_text(name, "1.0", requires_dist=("evil-package",)).encode()
    dist = zip_with_duplicates(sidecar.fresh_dir() / wheel_filename(name, "1.0"),
                               [*members, (metadata, smuggled)])
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "the file name says project")
def wheel_metadata_names_other_project(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, metadata=metadata_text("somebody-else", "1.0"))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "the file name says version")
def wheel_metadata_other_version(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, metadata=metadata_text(name, "6.6.6"))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "unknown Metadata-Version")
def wheel_unknown_metadata_version(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, metadata=metadata_text(name, "1.0", metadata_version="9.9"))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "invalid Requires-Python")
def wheel_invalid_requires_python(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name, requires_python=">=three")
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "the form names project 'not-this-one'")
def form_name_disagrees(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"name": "not-this-one"})


@refused(400, "the form gives version '2.0'")
def form_version_disagrees(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"version": "2.0"})


@refused(400, "PKG-INFO not found")
def sdist_without_pkg_info(sidecar: Sidecar, name: str) -> Attempt:
    top = f"{name.replace('-', '_')}-1.0"
    dist = write_tar_gz(sidecar.fresh_dir() / f"{top}.tar.gz",
                        {f"{top}/setup.py": b"from setuptools import setup\nsetup()\n"})
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "exactly one top-level directory")
def sdist_two_top_level_directories(sidecar: Sidecar, name: str) -> Attempt:
    top = f"{name.replace('-', '_')}-1.0"
    dist = write_tar_gz(sidecar.fresh_dir() / f"{top}.tar.gz", {
        f"{top}/PKG-INFO": metadata_text(name, "1.0").encode(),
        "elsewhere/PKG-INFO": metadata_text(name, "1.0").encode(),
    })
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "not a gzip-compressed tar file")
def sdist_not_gzip(sidecar: Sidecar, name: str) -> Attempt:
    dist = sdist(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist, data=b"PK\x03\x04 plainly a zip header"))


@refused(400, "escapes the archive")
def sdist_member_path_traversal(sidecar: Sidecar, name: str) -> Attempt:
    top = f"{name.replace('-', '_')}-1.0"
    dist = write_tar_gz(sidecar.fresh_dir() / f"{top}.tar.gz", {
        f"{top}/PKG-INFO": metadata_text(name, "1.0").encode(),
        f"{top}/../../etc/cron.d/evil": b"* * * * * root true\n",
    })
    return lambda: sidecar.post(upload_parts(dist))


ONLY_FILES = "an sdist holds only regular files and directories"


def hostile_sdist(sidecar: Sidecar, name: str, **members: bytes | TarEntry) -> Path:
    """A .tar.gz sdist of ``name`` 1.0 with ``members`` beside its PKG-INFO."""
    top = f"{name.replace('-', '_')}-1.0"
    return write_tar_gz(sidecar.fresh_dir() / f"{top}.tar.gz", {
        f"{top}/PKG-INFO": metadata_text(name, "1.0").encode(),
        **{f"{top}/{k}": v for k, v in members.items()},
    })


@refused(400, "sdist member 'r_sdist_symlink_to_etc_passwd-1.0/evil' is a symbolic link "
              f"(to '/etc/passwd'): {ONLY_FILES}")
def sdist_symlink_to_etc_passwd(sidecar: Sidecar, name: str) -> Attempt:
    dist = hostile_sdist(sidecar, name, evil=TarEntry(tarfile.SYMTYPE, "/etc/passwd"))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "is a symbolic link (to '../../../etc/shadow')")
def sdist_symlink_escaping(sidecar: Sidecar, name: str) -> Attempt:
    dist = hostile_sdist(sidecar, name, evil=TarEntry(tarfile.SYMTYPE, "../../../etc/shadow"))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, f"is a symbolic link (to 'PKG-INFO'): {ONLY_FILES}")
def sdist_symlink_inside(sidecar: Sidecar, name: str) -> Attempt:
    dist = hostile_sdist(sidecar, name, inside=TarEntry(tarfile.SYMTYPE, "PKG-INFO"))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "sdist member 'r_sdist_hard_link-1.0/hard' is a hard link (to '/etc/passwd')")
def sdist_hard_link(sidecar: Sidecar, name: str) -> Attempt:
    dist = hostile_sdist(sidecar, name, hard=TarEntry(tarfile.LNKTYPE, "/etc/passwd"))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "sdist member 'r_sdist_devices_and_fifo-1.0/tty' is a character device; "
              "sdist member 'r_sdist_devices_and_fifo-1.0/sda' is a block device; "
              f"sdist member 'r_sdist_devices_and_fifo-1.0/fifo' is a FIFO: {ONLY_FILES}")
def sdist_devices_and_fifo(sidecar: Sidecar, name: str) -> Attempt:
    dist = hostile_sdist(sidecar, name, tty=TarEntry(tarfile.CHRTYPE),
                         sda=TarEntry(tarfile.BLKTYPE), fifo=TarEntry(tarfile.FIFOTYPE))
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "sdist member 'r_zip_sdist_symlink-1.0/evil' is a symbolic link "
              f"(to '/etc/passwd'): {ONLY_FILES}")
def zip_sdist_symlink(sidecar: Sidecar, name: str) -> Attempt:
    top = f"{name.replace('-', '_')}-1.0"
    dist = write_zip(sidecar.fresh_dir() / f"{top}.zip",
                     {f"{top}/PKG-INFO": metadata_text(name, "1.0").encode(),
                      f"{top}/evil": b"/etc/passwd"},
                     modes={f"{top}/evil": stat.S_IFLNK | 0o777})
    return lambda: sidecar.post(upload_parts(dist))


@refused(400, "wheel member 'r_wheel_symlink_member/evil.py' is a symbolic link "
              "(to '/etc/passwd'): a wheel holds only regular files and directories")
def wheel_symlink_member(sidecar: Sidecar, name: str) -> Attempt:
    module = name.replace("-", "_")
    members = {**wheel_members(WheelSpec(name, "1.0")), f"{module}/evil.py": b"/etc/passwd"}
    dist = write_zip(sidecar.fresh_dir() / wheel_filename(name, "1.0"), members,
                     modes={f"{module}/evil.py": stat.S_IFLNK | 0o777})
    return lambda: sidecar.post(upload_parts(dist))


# U-04 version, U-06 wheel tags

PEP440 = "use a PEP 440 version, e.g. 1.0, 2.0.1, 1.0rc1"
MARKUP = '3.0"><svg onload=alert(1)>'


def sdist_of_version(sidecar: Sidecar, name: str, version: str) -> Attempt:
    """An sdist whose PKG-INFO, file name and form all give ``version``."""
    module = name.replace("-", "_")
    dist = sdist(sidecar, name, filename=f"{module}-1.0.tar.gz",
                 pkg_info=metadata_text(name, version))
    return lambda: sidecar.post(upload_parts(
        dist, filename=f"{module}-{version}.tar.gz", overrides={"version": version}))


@refused(400, f"invalid version {MARKUP!r}: {PEP440}")
def version_with_markup(sidecar: Sidecar, name: str) -> Attempt:
    return sdist_of_version(sidecar, name, MARKUP)


@refused(400, f"invalid version '1.0-custom-2': {PEP440}")
def version_legacy_with_dashes(sidecar: Sidecar, name: str) -> Attempt:
    return sdist_of_version(sidecar, name, "1.0-custom-2")


@refused(400, f"invalid version 'r1234': {PEP440}")
def version_legacy_letters(sidecar: Sidecar, name: str) -> Attempt:
    return sdist_of_version(sidecar, name, "r1234")


@refused(400, f"the form gives an invalid version {MARKUP!r}: {PEP440}")
def form_version_with_markup(sidecar: Sidecar, name: str) -> Attempt:
    return post_wheel(sidecar, name, overrides={"version": MARKUP})


TAGS = "a tag is lowercase letters, digits and '_', with '.' between compressed tags"


def wheel_with_tags(sidecar: Sidecar, name: str, tag: str) -> Attempt:
    """A good wheel of ``name`` sent under a file name ending in ``tag``."""
    dist = wheel(sidecar, name)
    sent = wheel_filename(name, "1.0", tag)
    return lambda: sidecar.post(upload_parts(dist, filename=sent))


@refused(400, f"""invalid platform tag 'any"onmouseover="alert(1)': {TAGS}""")
def wheel_tag_with_quotes(sidecar: Sidecar, name: str) -> Attempt:
    # Sent as %22 in the part's filename (HTML5 style, as urllib3 does), read back as '"'.
    return wheel_with_tags(sidecar, name, 'py3-none-any"onmouseover="alert(1)')


@refused(400, f"invalid platform tag 'any?x=1#frag': {TAGS}")
def wheel_tag_with_query_and_fragment(sidecar: Sidecar, name: str) -> Attempt:
    return wheel_with_tags(sidecar, name, "py3-none-any?x=1#frag")


@refused(400, f"invalid python tag 'Py3', abi tag 'NONE': {TAGS}")
def wheel_tag_uppercase(sidecar: Sidecar, name: str) -> Attempt:
    return wheel_with_tags(sidecar, name, "Py3-NONE-any")


# T-19 signatures


@refused(400, "not an ASCII-armored PGP signature")
def gpg_signature_not_armored(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    signature = Part("gpg_signature", b"\x89\x01\x33 binary signature packet",
                     filename=f"{dist.name}.asc", content_type="application/octet-stream")
    return lambda: sidecar.post(upload_parts(dist, extra=[signature]))


@refused(400, "signature is larger than")
def gpg_signature_too_large(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    huge = b"-----BEGIN PGP SIGNATURE-----\n" + b"A" * 70_000 + b"\n-----END PGP SIGNATURE-----\n"
    signature = Part("gpg_signature", huge, filename=f"{dist.name}.asc")
    return lambda: sidecar.post(upload_parts(dist, extra=[signature]))


# T-14 duplicates


@refused(409, "File already exists")
def duplicate_filename_other_bytes(sidecar: Sidecar, name: str) -> Attempt:
    first = wheel(sidecar, name)
    assert sidecar.post(upload_parts(first)).status == 200
    second = wheel(sidecar, name, module_body="changed = True\n")
    assert second.name == first.name
    assert second.read_bytes() != first.read_bytes()
    return lambda: sidecar.post(upload_parts(second))


@refused(409, "File already exists")
def duplicate_sdist_other_bytes_wider_token(sidecar: Sidecar, name: str) -> Attempt:
    first = sdist(sidecar, name)
    assert sidecar.post(upload_parts(first)).status == 200
    second = sdist(sidecar, name, requires_python=">=3.8")
    return lambda: sidecar.post(upload_parts(second), holder="all")


FOREVER = "a file name is forever; upload a new version"


@refused(409, "'r_second_spelling_zero_padded-1.0.0-py3-none-any.whl' is the same "
              "distribution as 'r_second_spelling_zero_padded-1.0-py3-none-any.whl' already "
              f"in source 'local' (same project, version and tags): {FOREVER}")
def second_spelling_zero_padded(sidecar: Sidecar, name: str) -> Attempt:
    assert sidecar.post(upload_parts(wheel(sidecar, name, "1.0"))).status == 200
    second = wheel(sidecar, name, "1.0.0", module_body="changed = True\n")
    return lambda: sidecar.post(upload_parts(second))


@refused(409, "'R_Second_Spelling_Name_Case-1.0-py3-none-any.whl' is the same distribution "
              "as 'r_second_spelling_name_case-1.0-py3-none-any.whl' already in source "
              f"'local' (same project, version and tags): {FOREVER}")
def second_spelling_name_case(sidecar: Sidecar, name: str) -> Attempt:
    first = wheel(sidecar, name)
    assert sidecar.post(upload_parts(first)).status == 200
    second = wheel(sidecar, name, module_body="changed = True\n")
    sent = first.name.replace("r_second_spelling_name_case", "R_Second_Spelling_Name_Case")
    return lambda: sidecar.post(upload_parts(second, filename=sent))


@refused(409, "'r_second_sdist_of_a_release-1.0.zip' is the same distribution as "
              "'r_second_sdist_of_a_release-1.0.tar.gz' already in source 'local' (same "
              f"project and version; a release has one sdist, .tar.gz or .zip): {FOREVER}")
def second_sdist_of_a_release(sidecar: Sidecar, name: str) -> Attempt:
    assert sidecar.post(upload_parts(sdist(sidecar, name))).status == 200
    second = sdist(sidecar, name, fmt="zip")
    return lambda: sidecar.post(upload_parts(second))


@refused(400, "'r_second_spelling_of_a_removed_file-1.0.0-py3-none-any.whl' is the same "
              "distribution as 'r_second_spelling_of_a_removed_file-1.0-py3-none-any.whl', "
              "since removed from source 'local'")
def second_spelling_of_a_removed_file(sidecar: Sidecar, name: str) -> Attempt:
    assert sidecar.post(upload_parts(wheel(sidecar, name, "1.0"))).status == 200
    timeshelf(sidecar.config, "remove", name)
    second = wheel(sidecar, name, "1.0.0")
    return lambda: sidecar.post(upload_parts(second))


@refused(400, "this filename was used by a file that has since been removed")
def filename_of_a_removed_file(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    assert sidecar.post(upload_parts(dist)).status == 200
    timeshelf(sidecar.config, "remove", name)
    return lambda: sidecar.post(upload_parts(dist))


# sources


@refused(404, "Unknown source 'nowhere': no source has that name; this token may upload to "
              "local, other (/upload/pypi/<source>/)")
def source_unknown(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist), source="nowhere", holder="all")


@refused(404, "Unknown source 'loacl': no source has that name; this token may upload to "
              "local (/upload/pypi/<source>/)")
def source_unknown_scoped_token(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist), source="loacl")


@refused(403, "does not have the 'upload' scope")
def source_unknown_deploy_token(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist), source="loacl", holder="deploy")


@refused(401, "Authentication required")
def source_unknown_without_a_token(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist), source="loacl", holder=None)


@refused(400, "is a pypi mirror")
def source_is_a_mirror(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist), source="mirror", holder="all")


@refused(404, "Unknown source 'x\\r\\nX-Injected: yes'")
def source_name_header_injection(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    path = "/upload/pypi/x%0D%0AX-Injected:%20yes/"
    return lambda: sidecar.post(upload_parts(dist), path=path, holder="all")


@refused(404, "Unknown source 'x\\r\\nX-Injected: yes': no source has that name; this token "
              "may upload to local")
def source_name_header_injection_scoped_token(sidecar: Sidecar, name: str) -> Attempt:
    dist = wheel(sidecar, name)
    return lambda: sidecar.post(upload_parts(dist), path="/upload/pypi/x%0D%0AX-Injected:%20yes")


# T-16 size


@refused(413, "too large: the limits are 4194304 bytes in all, 5000 form parts")
def too_many_form_parts(sidecar: Sidecar, name: str) -> Attempt:
    extra = [Part("classifiers", b"Private :: Do Not Upload")] * 6000
    return post_wheel(sidecar, name, extra=extra)


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_refused_upload_leaves_no_trace(sidecar: Sidecar, case: Refusal) -> None:
    attempt = case.prepare(sidecar, "r-" + case.id.replace("_", "-"))
    before = sidecar.footprint()

    reply = attempt()

    assert_refused(sidecar, reply, case.status, case.message)
    assert not any(name.lower() == "x-injected" for name, _ in reply.headers)
    assert b"\r\nX-Injected" not in reply.raw.partition(b"\r\n\r\n")[0]
    assert_nothing_stored(sidecar, before)


def test_corpus_is_large_enough() -> None:
    assert len(REFUSED) >= 40


def test_refusal_without_json_accept_is_text(sidecar: Sidecar) -> None:
    """twine sends ``Accept: */*``: the message comes as text, and in the reason phrase."""
    dist = wheel(sidecar, "text-reply")
    before = sidecar.footprint()

    for accept in ("*/*", None, "text/html"):
        reply = sidecar.post(upload_parts(dist, overrides={"protocol_version": "2"}),
                             accept=accept)

        assert (reply.status, reply.reason) == (400, "Unknown protocol version.")
        assert reply.header("Content-Type") == "text/plain; charset=utf-8"
        assert reply.body == b"400 Unknown protocol version.\n"
    assert_nothing_stored(sidecar, before)


def test_oversize_body_is_refused_as_too_large(sidecar: Sidecar) -> None:
    """A body over ``[server] max_request_size`` is refused before it is stored (413)."""
    dist = wheel(sidecar, "oversize")
    padding = Part("description", b"x" * (MAX_REQUEST_SIZE + 1024))
    before = sidecar.footprint()

    reply = sidecar.post(upload_parts(dist, extra=[padding]))

    assert reply.status == 413, reply.raw[:500]
    assert "too large" in reply.reason.lower()
    assert b"too large" in reply.body.lower()
    assert_nothing_stored(sidecar, before)


def test_oversize_file_in_a_chunked_body_is_refused(sidecar: Sidecar) -> None:
    """Without a Content-Length (a proxy that streams) the limit holds all the same."""
    dist = wheel(sidecar, "oversize-chunked")
    body = multipart(upload_parts(dist, extra=[Part("description", b"y" * (MAX_REQUEST_SIZE + 1))]))
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
        for i in range(0, len(body), 65536)
    ) + b"0\r\n\r\n"
    head = build_request("POST", "/upload/pypi/local/", headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding": "chunked",
        "Authorization": _auth(sidecar),
        "Accept": UV_ACCEPT,
    }, content_length=None)
    head = head.replace(b"Content-Length: 0\r\n", b"")
    before = sidecar.footprint()

    reply = parse_reply(send_raw(sidecar.port, head + chunks))

    assert reply.status == 413, reply.raw[:500]
    assert "too large" in reply.reason.lower()
    assert_nothing_stored(sidecar, before)


def _auth(sidecar: Sidecar) -> str:
    return basic("__token__", sidecar.tokens["local"])


def test_truncated_body_leaves_no_trace(sidecar: Sidecar) -> None:
    """Content-Length promises more than is sent, then the client goes away."""
    dist = wheel(sidecar, "truncated")
    body = multipart(upload_parts(dist))
    request = build_request("POST", "/upload/pypi/local/", body=body[: len(body) // 2], headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Authorization": _auth(sidecar), "Accept": UV_ACCEPT,
    }, content_length=len(body))
    before = sidecar.footprint()

    answer = send_raw(sidecar.port, request, close_write=True, timeout=30)

    if answer:
        assert parse_reply(answer).status >= 400
    # The server lives on and nothing of the half upload is anywhere.
    assert sidecar.post(upload_parts(dist, overrides={"protocol_version": "2"})).status == 400
    assert_nothing_stored(sidecar, before)


def test_truncated_multipart_is_refused(sidecar: Sidecar) -> None:
    """A complete request whose multipart body stops in the middle of the file part."""
    dist = wheel(sidecar, "cut-multipart")
    body = multipart(upload_parts(dist))
    cut = body[: body.index(b'name="content"') + 300]
    before = sidecar.footprint()

    reply = sidecar.post(body=cut)

    assert 400 <= reply.status < 500, reply.raw[:500]
    assert_nothing_stored(sidecar, before)


# -- accepted forms -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acceptance:
    id: str
    send: Callable[[Sidecar, str], tuple[Path, RawReply]]


ACCEPTED: list[Acceptance] = []


def accepted(send: Callable[[Sidecar, str], tuple[Path, RawReply]]
             ) -> Callable[[Sidecar, str], tuple[Path, RawReply]]:
    ACCEPTED.append(Acceptance(send.__name__, send))
    return send


@accepted
def upload_url_with_slash(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    return dist, sidecar.post(upload_parts(dist), path="/upload/pypi/local/")


@accepted
def upload_url_without_slash(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    return dist, sidecar.post(upload_parts(dist), path="/upload/pypi/local")


@accepted
def action_in_query_string_only(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    parts = upload_parts(dist, overrides={":action": None, "protocol_version": None})
    return dist, sidecar.post(parts, path="/upload/pypi/local/?:action=file_upload")


@accepted
def protocol_version_absent(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    return dist, sidecar.post(upload_parts(dist, overrides={"protocol_version": None}))


@accepted
def digests_uppercase(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    data = dist.read_bytes()
    upper = {"sha256_digest": hashlib.sha256(data).hexdigest().upper(),
             "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest().upper()}
    return dist, sidecar.post(upload_parts(dist, overrides=upper))


@accepted
def digest_md5_and_sha256_only(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    # flit: md5 + sha256, no blake2, no Content-Type on the content part.
    dist = wheel(sidecar, name)
    return dist, sidecar.post(upload_parts(dist, digests=("md5", "sha256"), content_type=None))


@accepted
def digest_blake2_only(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    return dist, sidecar.post(upload_parts(dist, digests=("blake2_256",)))


@accepted
def sdist_without_pyversion(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = sdist(sidecar, name)
    return dist, sidecar.post(upload_parts(dist, overrides={"pyversion": None}))


@accepted
def sdist_zip(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = sdist(sidecar, name, fmt="zip")
    return dist, sidecar.post(upload_parts(dist))


@accepted
def content_without_content_type(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    return dist, sidecar.post(upload_parts(dist, content_type=None))


@accepted
def empty_unknown_and_extra_fields(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    # pdm sends "" for missing fields; UNKNOWN is the old placeholder; uv/pdm plurals.
    dist = wheel(sidecar, name)
    extra = [Part(k, v.encode()) for k, v in (
        ("description", "UNKNOWN"), ("home_page", ""), ("requires_python", ""),
        ("author", ""), ("license", "UNKNOWN"), ("import_names", name.replace("-", "_")),
        ("provides_extras", ""), ("foo", "bar"), ("comment", "hello"),
        ("keywords", "a,b"), ("project_urls", "Home, http://127.0.0.1/"),
    )]
    return dist, sidecar.post(upload_parts(dist, extra=extra))


@accepted
def attestations_and_gpg_signature(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    extra = [
        Part("attestations", b"[]"),
        Part("gpg_signature", SIGNATURE, filename=f"{dist.name}.asc",
             content_type="application/octet-stream"),
    ]
    return dist, sidecar.post(upload_parts(dist, extra=extra))


@accepted
def description_of_two_megabytes(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    readme = Part("description", ("# README\n" + "lorem ipsum " * 180_000).encode())
    assert 2_000_000 < len(readme.data) < MAX_REQUEST_SIZE
    return dist, sidecar.post(upload_parts(dist, extra=[readme]))


@accepted
def twelve_hundred_classifiers(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    extra = [Part("classifiers", f"Private :: Test :: {i}".encode()) for i in range(1200)]
    return dist, sidecar.post(upload_parts(dist, extra=extra))


@accepted
def form_name_unnormalized(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    # twine sends safe_name, others the raw Name: any spelling that normalizes alike.
    dist = wheel(sidecar, name)
    spelled = name.upper().replace("-", "_")
    return dist, sidecar.post(upload_parts(dist, overrides={"name": spelled, "version": "1.0.0"}))


@accepted
def bearer_token(sidecar: Sidecar, name: str) -> tuple[Path, RawReply]:
    dist = wheel(sidecar, name)
    return dist, sidecar.post(upload_parts(dist),
                              authorization=f"Bearer {sidecar.tokens['local']}")


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.id for c in ACCEPTED])
def test_accepted_upload_is_stored_and_listed(sidecar: Sidecar, case: Acceptance) -> None:
    name = "a-" + case.id.replace("_", "-")
    before = sidecar.footprint()

    dist, reply = case.send(sidecar, name)

    assert reply.status == 200, reply.raw[:800]
    assert reply.body == b""
    assert_no_token(sidecar, reply)
    assert_stored(sidecar, dist, name)
    after = sidecar.footprint()
    assert after.files == before.files + 1
    assert after.staging == frozenset()


def test_signature_is_stored_beside_the_file(sidecar: Sidecar) -> None:
    dist = wheel(sidecar, "signed-upload")
    signature = Part("gpg_signature", SIGNATURE, filename=f"{dist.name}.asc")

    reply = sidecar.post(upload_parts(dist, extra=[signature]))

    assert reply.status == 200, reply.raw[:500]
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    stored = sidecar.store / digest[:2] / digest[2:4] / digest / f"{dist.name}.asc"
    assert stored.read_bytes() == SIGNATURE
    page = project_page(sidecar, "signed-upload")
    assert re.search(r'data-gpg-sig="true"[^>]*>' + re.escape(dist.name), page) or \
        re.search(re.escape(dist.name) + r'[^>]*data-gpg-sig="true"', page), page


def test_identical_reupload_is_ok_and_changes_nothing(sidecar: Sidecar) -> None:
    dist = wheel(sidecar, "idempotent")
    assert sidecar.post(upload_parts(dist)).status == 200
    before = sidecar.footprint()

    for token in ("local", "all"):
        reply = sidecar.post(upload_parts(dist), holder=token)

        assert (reply.status, reply.body) == (200, b"")
    assert sidecar.footprint() == before


def test_late_signature_for_an_identical_reupload_is_recorded(sidecar: Sidecar) -> None:
    dist = wheel(sidecar, "late-signature")
    assert sidecar.post(upload_parts(dist)).status == 200
    assert 'data-gpg-sig="true"' not in project_page(sidecar, "late-signature")
    signature = Part("gpg_signature", SIGNATURE, filename=f"{dist.name}.asc")

    reply = sidecar.post(upload_parts(dist, extra=[signature]))

    assert reply.status == 200, reply.raw[:500]
    assert 'data-gpg-sig="true"' in project_page(sidecar, "late-signature")


def test_signature_racing_its_unsigned_upload_is_recorded(sidecar: Sidecar) -> None:
    """The unsigned and the signed upload of one file at once: the file ends up signed."""
    for round_ in range(10):
        name = f"sign-race-{round_}"
        dist = wheel(sidecar, name)
        signature = Part("gpg_signature", SIGNATURE, filename=f"{dist.name}.asc")
        forms = [upload_parts(dist), upload_parts(dist, extra=[signature])]

        replies = parallel([(lambda f=f: sidecar.post(f)) for f in forms],  # type: ignore[misc]
                           workers=2)

        assert [r.status for r in replies] == [200, 200]
        assert 'data-gpg-sig="true"' in project_page(sidecar, name), round_


def test_same_filename_may_live_in_two_sources(sidecar: Sidecar) -> None:
    dist = wheel(sidecar, "two-sources")
    changed = wheel(sidecar, "two-sources", module_body="other = 1\n")

    assert sidecar.post(upload_parts(dist), source="local").status == 200
    assert sidecar.post(upload_parts(changed), source="other", holder="other").status == 200


# -- probes and wrong URLs --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/_/oidc/audience", "/_/oidc/mint-token"])
def test_trusted_publishing_probe_is_a_fast_404(sidecar: Sidecar, path: str) -> None:
    started = time.monotonic()

    reply = sidecar.get(path)

    assert reply.status == 404
    assert time.monotonic() - started < 1.0


def test_post_to_the_simple_index_is_405(sidecar: Sidecar) -> None:
    """uv hints "is this the index URL?" on 405; it must not look like success or 404."""
    dist = wheel(sidecar, "wrong-url")
    before = sidecar.footprint()

    for path in ("/python/latest/simple/", "/python/latest/simple/wrong-url/"):
        reply = sidecar.post(upload_parts(dist), path=path)

        assert reply.status == 405, reply.raw[:300]
    assert_nothing_stored(sidecar, before)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    "path", ["/upload/pypi/local/", "/upload/pypi/local", "/upload/pypi/nowhere/"],
    ids=["with-slash", "without-slash", "unknown-source"],
)
def test_other_methods_on_the_upload_url_are_405(
    sidecar: Sidecar, method: str, path: str
) -> None:
    """A browser or ``pip`` pointed at the upload URL learns it takes POST, not a 404."""
    before = sidecar.footprint()

    reply = parse_reply(send_raw(sidecar.port, build_request(method, path)))

    message = ("The upload URL takes POST (twine upload, uv publish): install from the "
               "index URL instead")
    assert (reply.status, reply.reason) == (405, message)
    assert reply.header("Allow") == "POST"
    assert reply.header("Content-Type") == "text/plain; charset=utf-8"
    assert reply.body == (f"405 {message}\n".encode() if method == "GET" else b"")
    assert_nothing_stored(sidecar, before)


def test_a_second_spelling_leaves_the_page_as_it_was(sidecar: Sidecar) -> None:
    """pip installs ``keep3==1.0`` from the page: it must still offer only the first file."""
    first = wheel(sidecar, "keep3")
    assert sidecar.post(upload_parts(first)).status == 200
    page, document = project_page(sidecar, "keep3"), index_json(sidecar, "keep3")
    for version, sent in (("1.0.0", None), ("1.0", "Keep3-1.0-py3-none-any.whl")):
        other = wheel(sidecar, "keep3", version, module_body="evil = True\n")

        reply = sidecar.post(upload_parts(other, filename=sent))

        assert reply.status == 409, reply.raw[:500]
        assert "is the same distribution as 'keep3-1.0-py3-none-any.whl'" in reply.reason
    assert project_page(sidecar, "keep3") == page
    assert index_json(sidecar, "keep3") == document
    files = document["files"]
    assert isinstance(files, list)
    assert [f["filename"] for f in files] == ["keep3-1.0-py3-none-any.whl"]


# -- concurrency ----------------------------------------------------------------------------


def index_json(sidecar: Sidecar, project: str) -> dict[str, object]:
    page = sidecar.output / "python" / "latest" / "simple" / project / "index.json"
    document = json.loads(page.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def root_projects(sidecar: Sidecar) -> set[str]:
    page = sidecar.output / "python" / "latest" / "simple" / "index.json"
    document = json.loads(page.read_text(encoding="utf-8"))
    return {p["name"] for p in document["projects"]}


def parallel(attempts: list[Attempt], workers: int) -> list[RawReply]:
    barrier = threading.Barrier(min(workers, len(attempts)))

    def run(attempt: Attempt) -> RawReply:
        barrier.wait(timeout=30)
        return attempt()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, attempts))


def test_parallel_uploads_of_distinct_files_and_new_projects(sidecar: Sidecar) -> None:
    many = [wheel(sidecar, "crowded", f"1.{i}") for i in range(20)]
    new = [wheel(sidecar, f"newcomer-{i}") for i in range(5)]
    attempts: list[Attempt] = [
        (lambda d=d: sidecar.post(upload_parts(d)))  # type: ignore[misc]
        for d in [*many, *new]
    ]

    replies = parallel(attempts, workers=25)

    assert [r.status for r in replies] == [200] * 25, [r.reason for r in replies]
    projects = root_projects(sidecar)
    assert {"crowded", *(f"newcomer-{i}" for i in range(5))} <= projects
    document = index_json(sidecar, "crowded")
    files = document["files"]
    assert isinstance(files, list)
    assert {f["filename"] for f in files} == {d.name for d in many}
    for entry in files:
        digest = entry["hashes"]["sha256"]
        blob = sidecar.store / digest[:2] / digest[2:4] / digest / entry["filename"]
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
        assert entry["url"].endswith(f"{digest}/{entry['filename']}")
    for i, dist in enumerate(new):
        assert_stored(sidecar, dist, f"newcomer-{i}")
    assert sidecar.footprint().staging == frozenset()


def test_parallel_uploads_of_one_file_store_it_once(sidecar: Sidecar) -> None:
    dist = wheel(sidecar, "stampede")
    before = sidecar.footprint()

    replies = parallel([lambda: sidecar.post(upload_parts(dist))] * 20, workers=20)

    assert [r.status for r in replies] == [200] * 20, [r.reason for r in replies]
    after = sidecar.footprint()
    assert after.files == before.files + 1
    added = after.blobs - before.blobs
    assert added == {
        f"{p}/{dist.name}{suffix}" for suffix in ("", ".metadata")
        for p in [_key_dir(dist)]
    }
    assert after.staging == frozenset()
    assert_stored(sidecar, dist, "stampede")


def test_parallel_uploads_of_one_name_with_different_bytes_keep_one(sidecar: Sidecar) -> None:
    variants = [wheel(sidecar, "contested", module_body=f"variant = {i}\n") for i in range(8)]
    before = sidecar.footprint()

    replies = parallel([(lambda d=d: sidecar.post(upload_parts(d)))  # type: ignore[misc]
                        for d in variants], workers=8)

    statuses = sorted(r.status for r in replies)
    assert statuses == [200] + [409] * 7, [r.reason for r in replies]
    winner = variants[[r.status for r in replies].index(200)]
    after = sidecar.footprint()
    assert after.files == before.files + 1
    assert after.blobs - before.blobs == {f"{_key_dir(winner)}/{winner.name}{s}"
                                         for s in ("", ".metadata")}
    assert after.staging == frozenset()
    assert_stored(sidecar, winner, "contested")


def test_parallel_uploads_of_spellings_of_one_wheel_keep_one(sidecar: Sidecar) -> None:
    """The spelling check runs in the catalog's write transaction: racing spellings of
    one distribution cannot both get in, and the losers' blobs are deleted."""
    versions = ["2.0", "2.0.0", "2.0.0.0", "2.00", "02.0", "2.0.00"]
    variants = [wheel(sidecar, "spelled", v, module_body=f"v = {v!r}\n") for v in versions]
    before = sidecar.footprint()

    replies = parallel([(lambda d=d: sidecar.post(upload_parts(d)))  # type: ignore[misc]
                        for d in variants], workers=6)

    statuses = sorted(r.status for r in replies)
    assert statuses == [200] + [409] * 5, [r.reason for r in replies]
    winner = variants[[r.status for r in replies].index(200)]
    assert all("is the same distribution as" in r.reason for r in replies if r.status == 409)
    after = sidecar.footprint()
    assert after.files == before.files + 1
    assert after.blobs - before.blobs == {f"{_key_dir(winner)}/{winner.name}{s}"
                                         for s in ("", ".metadata")}
    assert after.staging == frozenset()
    assert_stored(sidecar, winner, "spelled")


def test_refusal_in_one_source_never_deletes_a_blob_another_just_stored(
    sidecar: Sidecar,
) -> None:
    """Same bytes, same name, to two sources at once while one of them takes a conflict.

    Regression: the refused upload deleted the blob it had found missing and written,
    which the accepted upload to the other source had written too and now referenced.
    """
    for round_ in range(15):
        name = f"cross-source-{round_}"
        x = wheel(sidecar, name)
        y = wheel(sidecar, name, module_body="other = True\n")
        jobs = [(y, "other"), (x, "other"), (x, "local")]

        replies = parallel([(lambda d=d, s=s: sidecar.post(upload_parts(d), source=s,  # type: ignore[misc]
                                                            holder=s)) for d, s in jobs], workers=3)

        assert sorted(r.status for r in replies) == [200, 200, 409], [r.reason for r in replies]
        assert_stored(sidecar, x, name)
    db = sqlite3.connect(sidecar.home / "catalog.sqlite3")
    try:
        rows = db.execute("SELECT sha256, filename FROM files").fetchall()
    finally:
        db.close()
    missing = [f for digest, f in rows
               if not (sidecar.store / digest[:2] / digest[2:4] / digest / f).is_file()]
    assert missing == []


def test_storage_failure_is_a_500_that_names_no_server_path(sidecar: Sidecar) -> None:
    """A blob that cannot be written (here: a file where its directory must go)."""
    dist = wheel(sidecar, "unwritable")
    blocker = sidecar.store / _key_dir(dist).rsplit("/", 1)[0]
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"in the way")
    before = sidecar.footprint()
    try:
        reply = sidecar.post(upload_parts(dist))
    finally:
        blocker.unlink()

    assert_refused(sidecar, reply, 500, "could not store the file")
    assert str(sidecar.home).encode() not in reply.raw
    after = sidecar.footprint()
    assert (after.files, after.events, after.staging) == (before.files, before.events, frozenset())
    assert "storage failure" in sidecar.log()
    assert sidecar.post(upload_parts(dist)).status == 200


def _key_dir(dist: Path) -> str:
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


@pytest.fixture(autouse=True)
def _no_staging_leftovers(sidecar: Sidecar) -> Iterator[None]:
    yield
    assert sidecar.footprint().staging == frozenset()
