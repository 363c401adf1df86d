"""A ``BlobStore`` in an S3 bucket (``[store] url = "s3://BUCKET/PREFIX"``).

Keys are the store's content-addressed keys below the prefix. A file is streamed from
disk (multipart above ``MULTIPART_THRESHOLD``, through boto3's managed transfer) and its
sha256 is checked on the bytes actually sent: a mismatch is raised from the last read,
before S3 completes the object, so nothing is stored. S3 answers a PUT only once the
object is durable, which is what the store promises before a catalog row is committed.

Objects get the headers of the published site (``generator.storage.s3.object_headers``), so a
store that is the site's own ``files/`` folder serves them as they are; a store in another
prefix reaches the site when it is published (server-side copies), never through a local
folder. A bucket is shared by every host of an installation, so ``is_shared`` is True.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from generator.errors import StoreError
from generator.storage.s3 import S3Location, object_headers
from generator.storage.store import Blob, BlobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024


class _HashingReader:
    """A read-only, non-seekable stream over a file that checks its sha256 at the end."""

    def __init__(self, handle: IO[bytes], sha256: str | None, name: str) -> None:
        self._handle, self._expected, self._name = handle, sha256, name
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._digest.update(data)
        if (not data or size < 0) and self._expected is not None:
            actual = self._digest.hexdigest()
            if actual != self._expected:
                raise StoreError(
                    f"{self._name} changed while it was being stored (sha256 {actual}, "
                    f"checked as {self._expected}): add it again once it is complete"
                )
        return data


class S3Store(BlobStore):
    """A ``BlobStore`` below ``location`` (see the module docstring)."""

    def __init__(self, location: S3Location, client: S3Client) -> None:
        self.location = location
        self.client = client

    @property
    def is_shared(self) -> bool:
        return True

    @property
    def local_root(self) -> None:
        return None

    def local_path(self, key: str) -> None:
        return None

    def _key(self, key: str) -> str:
        if key.startswith("/") or any(p in ("", ".", "..") for p in key.split("/")):
            raise StoreError(f"store key {key!r} leaves the store")
        return self.location.key(key)

    def _fail(self, action: str, key: str, error: Exception) -> StoreError:
        return StoreError(f"cannot {action} {key} in {self.location.url}: {error}")

    def put_file(self, key: str, source: Path, sha256: str | None = None) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        if self.exists(key):
            return
        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK,
            max_concurrency=4,
        )
        try:
            with source.open("rb") as handle:
                # Not seekable, so boto3 reads it once, in order: the check sees every byte.
                reader = cast("IO[bytes]", _HashingReader(handle, sha256, str(source)))
                self.client.upload_fileobj(
                    reader, self.location.bucket, self._key(key),
                    ExtraArgs=object_headers("files/" + key).as_args(), Config=config,
                )
        except OSError as e:
            raise StoreError(f"cannot read {source}: {e.strerror or e}") from e
        except (BotoCoreError, ClientError) as e:
            raise self._fail("write", key, e) from e

    def put_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if self.exists(key):
            return
        headers = object_headers("files/" + key)
        try:
            self.client.put_object(
                Bucket=self.location.bucket, Key=self._key(key), Body=data,
                ContentType=headers.content_type, CacheControl=headers.cache_control,
            )
        except (BotoCoreError, ClientError) as e:
            raise self._fail("write", key, e) from e

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.location.bucket, Key=self._key(key))
        except ClientError as e:
            if _status(e) == 404:
                return False
            raise self._fail("look up", key, e) from e
        except BotoCoreError as e:
            raise self._fail("look up", key, e) from e
        return True

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_object(Bucket=self.location.bucket, Key=self._key(key))
            return reply["Body"].read()
        except (BotoCoreError, ClientError) as e:
            raise StoreError(f"cannot read {key} from the store {self.location.url}: {e}") from e

    def read_if_stored(self, key: str) -> bytes | None:
        return self.read(key) if self.exists(key) else None

    def open(self, key: str) -> Blob:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_object(Bucket=self.location.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as e:
            raise StoreError(f"cannot read {key} from the store {self.location.url}: {e}") from e
        return Blob(stream=reply["Body"], size=int(reply["ContentLength"]))

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.location.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as e:
            raise self._fail("delete", key, e) from e

    def link_into(self, key: str, site_files: Path) -> None:
        """No-op: the files of a bucket reach the site when it is published."""


def _status(error: Any) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
