"""Storage: the blob store interface, its local and S3 backends, and atomic writes.

Owns ``BlobStore`` (``store``: the interface every caller uses, the content-addressed
keys, ``Blob``), its backends ``LocalStore`` (``local``: a directory) and ``S3Store``
(``s3store``: an S3 prefix), how S3 is reached and what its objects are served with
(``s3``: locations, settings, clients, headers), and the temp-file + ``os.replace``
writes of every file timeshelf writes (``atomic``). The backend is chosen once, where the
installation is wired; nothing else asks which one it holds. May import
``generator.errors`` only (boto3 lazily, inside the S3 functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.storage.atomic import (
        copy_file,
        new_directory_temp,
        sync_directory,
        write_bytes,
        write_if_changed,
        write_new_directory,
    )
    from generator.storage.local import LocalStore
    from generator.storage.s3 import (
        Headers,
        S3Location,
        S3Settings,
        make_client,
        object_headers,
    )
    from generator.storage.s3store import S3Store
    from generator.storage.store import Blob, BlobStore, Readable, file_key

__all__ = [
    "Blob",
    "BlobStore",
    "Headers",
    "LocalStore",
    "Readable",
    "S3Location",
    "S3Settings",
    "S3Store",
    "copy_file",
    "file_key",
    "make_client",
    "new_directory_temp",
    "object_headers",
    "sync_directory",
    "write_bytes",
    "write_if_changed",
    "write_new_directory",
]

__getattr__ = lazy_face(__name__, __file__)
