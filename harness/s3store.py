"""The embedded S3's objects: buckets and keys in memory, object bodies in files.

Bodies live on disk (one file per object, under a folder the store owns), so an
artifact of any size costs the process no memory; only keys and metadata are
held in memory. Every method is thread-safe: the server answers each request on
its own thread.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BufferedIOBase
from pathlib import Path

BLOCK = 1 << 20
# S3's naming rules for general purpose buckets (3-63 characters, lowercase letters, digits, dots, hyphens).
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MIN_PART_BYTES = 5 * 1024 * 1024  # every part but the last (S3's EntityTooSmall)
MAX_KEY_BYTES = 1024


class S3Error(Exception):
    """An S3 error response: HTTP status, S3's error code, its message and the resource."""

    def __init__(self, status: int, code: str, message: str, resource: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.resource = resource


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error(404, "NoSuchBucket", "The specified bucket does not exist", bucket)


def no_such_key(key: str) -> S3Error:
    return S3Error(404, "NoSuchKey", "The specified key does not exist.", key)


@dataclass(frozen=True)
class Body:
    """An uploaded body, already on disk, with the digests S3 reports or checks."""

    path: Path
    size: int
    md5_hex: str
    crc32_b64: str


@dataclass(frozen=True)
class StoredObject:
    key: str
    path: Path
    size: int
    etag: str  # quoted, as S3 sends it
    modified: datetime
    headers: Mapping[str, str]  # Content-Type, x-amz-meta-*, ... as sent on PUT


@dataclass
class _Upload:
    bucket: str
    key: str
    headers: Mapping[str, str]
    parts: dict[int, Body] = field(default_factory=dict)


def receive(stream: BufferedIOBase, length: int, folder: Path) -> Body:
    """Copy `length` bytes of a request body to a new file under `folder`, digesting as it goes."""
    path = folder / uuid.uuid4().hex
    md5, crc, left = hashlib.md5(usedforsecurity=False), 0, length
    with path.open("wb") as out:
        while left > 0:
            block = stream.read(min(BLOCK, left))
            if not block:
                path.unlink()
                raise S3Error(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                )
            out.write(block)
            md5.update(block)
            crc = zlib.crc32(block, crc)
            left -= len(block)
    return Body(path, length, md5.hexdigest(), base64.b64encode(crc.to_bytes(4, "big")).decode())


class ObjectStore:
    def __init__(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="harness-s3-"))
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[datetime, dict[str, StoredObject]]] = {}
        self._uploads: dict[str, _Upload] = {}

    @property
    def incoming(self) -> Path:
        return self._root

    def close(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)

    def buckets(self) -> list[tuple[str, datetime]]:
        with self._lock:
            return sorted((name, created) for name, (created, _) in self._buckets.items())

    def create_bucket(self, bucket: str) -> None:
        if not _BUCKET_NAME.match(bucket) or ".." in bucket:
            raise S3Error(400, "InvalidBucketName", "The specified bucket is not valid.", bucket)
        with self._lock:
            # us-east-1 answers 200 to re-creating a bucket the caller owns (other regions: 409).
            self._buckets.setdefault(bucket, (_now(), {}))

    def delete_bucket(self, bucket: str) -> None:
        with self._lock:
            if self._objects(bucket):
                raise S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", bucket)
            del self._buckets[bucket]

    def require_bucket(self, bucket: str) -> None:
        with self._lock:
            self._objects(bucket)

    def put(self, bucket: str, key: str, body: Body, headers: Mapping[str, str], etag: str = "") -> StoredObject:
        _check_key(key)
        stored = StoredObject(key, body.path, body.size, etag or f'"{body.md5_hex}"', _now(), dict(headers))
        with self._lock:
            objects = self._objects(bucket)
            replaced = objects.get(key)
            objects[key] = stored
        if replaced is not None:
            replaced.path.unlink(missing_ok=True)
        return stored

    def get(self, bucket: str, key: str) -> StoredObject:
        with self._lock:
            stored = self._objects(bucket).get(key)
        if stored is None:
            raise no_such_key(key)
        return stored

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            removed = self._objects(bucket).pop(key, None)
        if removed is not None:
            removed.path.unlink(missing_ok=True)

    def copy_body(self, source: StoredObject) -> Body:
        path = self._root / uuid.uuid4().hex
        shutil.copyfile(source.path, path)
        return Body(path, source.size, source.etag.strip('"'), "")

    def keys(self, bucket: str, prefix: str) -> Iterator[StoredObject]:
        """Objects under `prefix` in UTF-8 binary key order (S3's listing order)."""
        with self._lock:
            objects = list(self._objects(bucket).values())
        return iter(sorted((o for o in objects if o.key.startswith(prefix)), key=lambda o: o.key.encode()))

    def start_upload(self, bucket: str, key: str, headers: Mapping[str, str]) -> str:
        _check_key(key)
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._objects(bucket)
            self._uploads[upload_id] = _Upload(bucket, key, dict(headers))
        return upload_id

    def add_part(self, upload_id: str, bucket: str, key: str, number: int, body: Body) -> None:
        if not 1 <= number <= 10000:
            raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        with self._lock:
            upload = self._upload(upload_id, bucket, key)
            replaced = upload.parts.get(number)
            upload.parts[number] = body
        if replaced is not None:
            replaced.path.unlink(missing_ok=True)

    def complete_upload(self, upload_id: str, bucket: str, key: str, listed: list[tuple[int, str]]) -> StoredObject:
        with self._lock:
            upload = self._upload(upload_id, bucket, key)
            del self._uploads[upload_id]
        parts = _chosen_parts(upload, listed)
        path = self._root / uuid.uuid4().hex
        with path.open("wb") as out:
            for part in parts:
                with part.path.open("rb") as source:
                    shutil.copyfileobj(source, out, BLOCK)
        for part in upload.parts.values():
            part.path.unlink(missing_ok=True)
        # A multipart ETag is the MD5 of the parts' binary MD5s, then "-" and the number of parts.
        digest = hashlib.md5(b"".join(bytes.fromhex(p.md5_hex) for p in parts), usedforsecurity=False).hexdigest()
        body = Body(path, sum(p.size for p in parts), digest, "")
        return self.put(bucket, key, body, upload.headers, etag=f'"{digest}-{len(parts)}"')

    def abort_upload(self, upload_id: str, bucket: str, key: str) -> None:
        with self._lock:
            upload = self._upload(upload_id, bucket, key)
            del self._uploads[upload_id]
        for part in upload.parts.values():
            part.path.unlink(missing_ok=True)

    def _objects(self, bucket: str) -> dict[str, StoredObject]:
        """The bucket's objects (the caller holds the lock)."""
        if bucket not in self._buckets:
            raise no_such_bucket(bucket)
        return self._buckets[bucket][1]

    def _upload(self, upload_id: str, bucket: str, key: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or (upload.bucket, upload.key) != (bucket, key):
            raise S3Error(
                404,
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
                "aborted or completed.",
                upload_id,
            )
        return upload


def _chosen_parts(upload: _Upload, listed: list[tuple[int, str]]) -> list[Body]:
    """The parts CompleteMultipartUpload names, checked as S3 checks them."""
    if not listed:
        raise S3Error(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    numbers = [number for number, _ in listed]
    if numbers != sorted(set(numbers)):
        raise S3Error(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
    parts = []
    for number, etag in listed:
        part = upload.parts.get(number)
        if part is None or etag.strip('"') != part.md5_hex:
            raise S3Error(
                400,
                "InvalidPart",
                "One or more of the specified parts could not be found. The part may "
                "not have been uploaded, or the specified entity tag may not match the part's entity tag.",
            )
        parts.append(part)
    if any(part.size < MIN_PART_BYTES for part in parts[:-1]):
        raise S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
    return parts


def _check_key(key: str) -> None:
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise S3Error(400, "KeyTooLongError", "Your key is too long", key)


def _now() -> datetime:
    """S3 keeps modification times to the millisecond."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
