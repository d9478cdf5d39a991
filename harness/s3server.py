"""The embedded S3's HTTP side: S3's REST protocol (path-style requests, XML answers) on a loopback port.

It answers the operations a local run and the SageMaker SDK use: ListBuckets,
CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, ListObjects(V2),
PutObject, CopyObject, GetObject (with Range), HeadObject, DeleteObject,
DeleteObjects and multipart uploads (create, upload part, complete, abort).
Any other operation is answered with S3's NotImplemented error naming it.
Requests are not authenticated (any credentials pass), as in every local S3;
CRC32 and Content-MD5 checksums sent with a body are verified as S3 does.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from harness import s3xml
from harness.s3store import BLOCK, Body, ObjectStore, S3Error, StoredObject, receive

# Headers kept with an object on PUT and given back on GET/HEAD (besides x-amz-meta-*).
_KEPT_HEADERS = ("content-type", "content-encoding", "content-disposition", "content-language", "cache-control")
_IGNORED_QUERY = ("x-id",)  # botocore tags some requests with the operation name


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: tuple[Path, int, int] | None = None  # a stored body: path, first byte, length


class EmbeddedS3Server:
    """ThreadingHTTPServer with an ObjectStore, on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        self.store = ObjectStore()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._http.daemon_threads = True  # idle kept-alive connections must not hold up stop()
        self._http.store = self.store  # type: ignore[attr-defined]  # the handler's way to the store
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)
        self.store.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and `Expect: 100-continue` answered (botocore sends it)
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for the client's delayed
    # ACK of the headers, ~40 ms on every request.
    disable_nagle_algorithm = True
    server_version = "AmazonS3"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        """One line per request on stderr otherwise."""

    def _answer(self) -> None:
        request_id = s3xml.request_id()
        self._body_read = False
        try:
            reply = _Request(self).route()
        except S3Error as failure:
            reply = Reply(failure.status, {"Content-Type": "application/xml"}, s3xml.error(failure, request_id))
            if not self._body_read:
                self.close_connection = True  # its body is still unread on the connection
        self._send(reply, request_id)

    def _send(self, reply: Reply, request_id: str) -> None:
        self.send_response(reply.status)
        length = reply.file[2] if reply.file else len(reply.body)
        headers = {"x-amz-request-id": request_id, **reply.headers, "Content-Length": str(length)}
        if self.close_connection:
            headers["Connection"] = "close"
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.file is None:
            self.wfile.write(reply.body)
            return
        path, start, length = reply.file
        with path.open("rb") as source:
            source.seek(start)
            _copy(source, self.wfile, length)

    def read_body(self) -> Body:
        if "aws-chunked" in self.headers.get("Content-Encoding", ""):
            raise S3Error(501, "NotImplemented", "aws-chunked uploads are not supported by the embedded S3")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        body = receive(self.rfile, int(length), self.server.store.incoming)  # type: ignore[attr-defined]
        self._body_read = True
        return body

    def read_small_body(self) -> bytes:
        body = self.read_body()
        try:
            return body.path.read_bytes()
        finally:
            body.path.unlink()


class _Request:
    """One request: its bucket, key and query, routed to the S3 operation it names."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.store: ObjectStore = handler.server.store  # type: ignore[attr-defined]
        url = urlsplit(handler.path)
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        self.bucket, self.key = bucket, key
        self.query = {k: v for k, v in parse_qsl(url.query, keep_blank_values=True) if k not in _IGNORED_QUERY}
        self.method = handler.command

    def route(self) -> Reply:
        if not self.bucket:
            if self.method != "GET":
                raise self._not_implemented()
            return _xml(s3xml.list_buckets(self.store.buckets()))
        return self._object() if self.key else self._bucket()

    def _bucket(self) -> Reply:
        subresource = self._subresource(("list-type", "location", "delete"))
        operations = {
            ("GET", ""): self._list,
            ("GET", "list-type"): self._list,
            ("GET", "location"): self._location,
            ("PUT", ""): self._create_bucket,
            ("HEAD", ""): self._head_bucket,
            ("DELETE", ""): self._delete_bucket,
            ("POST", "delete"): self._delete_objects,
        }
        return self._run(operations, subresource)

    def _object(self) -> Reply:
        subresource = self._subresource(("uploads", "uploadId"))
        operations = {
            ("GET", ""): self._get,
            ("HEAD", ""): self._get,
            ("PUT", ""): self._put,
            ("PUT", "uploadId"): self._upload_part,
            ("DELETE", ""): self._delete_object,
            ("DELETE", "uploadId"): self._abort_upload,
            ("POST", "uploads"): self._start_upload,
            ("POST", "uploadId"): self._complete_upload,
        }
        return self._run(operations, subresource)

    def _run(self, operations: Mapping[tuple[str, str], Callable[[], Reply]], subresource: str) -> Reply:
        operation = operations.get((self.method, subresource))
        if operation is None:
            raise self._not_implemented()
        return operation()

    def _subresource(self, known: tuple[str, ...]) -> str:
        """The query parameter naming the operation ('' for none); unknown ones are not implemented."""
        names = [k for k in self.query if not k.startswith("response-") and k not in _PARAMETERS]
        unknown = [k for k in names if k not in known]
        if unknown:
            raise self._not_implemented(unknown[0])
        return names[0] if names else ""

    def _not_implemented(self, subresource: str = "") -> S3Error:
        what = f"{self.method} {'/' + self.bucket if self.bucket else '/'}{'/<key>' if self.key else ''}"
        what += f"?{subresource}" if subresource else ""
        return S3Error(501, "NotImplemented", f"the embedded S3 does not implement {what}")

    def _location(self) -> Reply:
        self.store.require_bucket(self.bucket)
        return _xml(s3xml.location())

    def _head_bucket(self) -> Reply:
        self.store.require_bucket(self.bucket)
        return Reply(200)

    def _delete_bucket(self) -> Reply:
        self.store.delete_bucket(self.bucket)
        return Reply(204)

    def _delete_object(self) -> Reply:
        self.store.delete(self.bucket, self.key)  # S3 answers 204 whether the key existed or not
        return Reply(204)

    def _list(self) -> Reply:
        entries = self.store.keys(self.bucket, self.query.get("prefix", ""))
        prefix, delimiter = self.query.get("prefix", ""), self.query.get("delimiter", "")
        if self.query.get("list-type") == "2":
            token = self.query.get("continuation-token")
            after = s3xml.untoken(token) if token else self.query.get("start-after", "")
            listing = s3xml.page(entries, prefix, delimiter, after, s3xml.max_keys(self.query))
            return _xml(s3xml.list_v2(self.bucket, self.query, listing))
        listing = s3xml.page(entries, prefix, delimiter, self.query.get("marker", ""), s3xml.max_keys(self.query))
        return _xml(s3xml.list_v1(self.bucket, self.query, listing))

    def _create_bucket(self) -> Reply:
        if self.handler.headers.get("Content-Length", "0") != "0":
            configuration = s3xml.parse(self.handler.read_small_body())
            constraint = s3xml.text(configuration, "LocationConstraint")
            if constraint not in ("", "us-east-1"):
                raise S3Error(
                    400,
                    "IllegalLocationConstraintException",
                    f"The {constraint} location constraint is "
                    "incompatible for the region specific endpoint this request was sent to.",
                )
        self.store.create_bucket(self.bucket)
        return Reply(200, {"Location": f"/{self.bucket}"})

    def _delete_objects(self) -> Reply:
        document = s3xml.parse(self.handler.read_small_body())
        keys = [s3xml.text(item, "Key") for item in s3xml.children(document, "Object")]
        for key in keys:
            self.store.delete(self.bucket, key)
        return _xml(s3xml.deleted(keys, quiet=s3xml.text(document, "Quiet") == "true"))

    def _get(self) -> Reply:
        stored = self.store.get(self.bucket, self.key)
        headers = _object_headers(stored)
        span = _byte_range(self.handler.headers.get("Range", ""), stored.size)
        if span is None:
            return Reply(200, headers, file=(stored.path, 0, stored.size))
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
        return Reply(206, headers, file=(stored.path, start, end - start + 1))

    def _put(self) -> Reply:
        source = self.handler.headers.get("x-amz-copy-source")
        if source is not None:
            return self._copy(source)
        self.store.require_bucket(self.bucket)
        body = _checked(self.handler.read_body(), self.handler.headers)
        stored = self.store.put(self.bucket, self.key, body, _kept(self.handler.headers))
        return Reply(200, {"ETag": stored.etag, **_checksum_echo(self.handler.headers)})

    def _copy(self, source: str) -> Reply:
        bucket, _, key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
        original = self.store.get(bucket, key)
        replace = self.handler.headers.get("x-amz-metadata-directive", "COPY") == "REPLACE"
        headers = _kept(self.handler.headers) if replace else original.headers
        stored = self.store.put(self.bucket, self.key, self.store.copy_body(original), headers, etag=original.etag)
        return _xml(s3xml.copy_result(stored))

    def _start_upload(self) -> Reply:
        upload_id = self.store.start_upload(self.bucket, self.key, _kept(self.handler.headers))
        return _xml(s3xml.upload_started(self.bucket, self.key, upload_id))

    def _upload_part(self) -> Reply:
        number = self.query.get("partNumber", "")
        if not number.isdigit():
            raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        body = _checked(self.handler.read_body(), self.handler.headers)
        self.store.add_part(self.query["uploadId"], self.bucket, self.key, int(number), body)
        return Reply(200, {"ETag": f'"{body.md5_hex}"', **_checksum_echo(self.handler.headers)})

    def _complete_upload(self) -> Reply:
        listed = s3xml.completed_parts(self.handler.read_small_body())
        stored = self.store.complete_upload(self.query["uploadId"], self.bucket, self.key, listed)
        host = self.handler.headers.get("Host", "127.0.0.1")
        return _xml(s3xml.upload_completed(f"http://{host}/{self.bucket}/{self.key}", self.bucket, stored))

    def _abort_upload(self) -> Reply:
        self.store.abort_upload(self.query["uploadId"], self.bucket, self.key)
        return Reply(204)


# Query parameters that are arguments of an operation, not the name of one.
_PARAMETERS = frozenset(
    {
        "prefix",
        "delimiter",
        "max-keys",
        "marker",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
        "partNumber",
    }
)


def _xml(body: bytes) -> Reply:
    return Reply(200, {"Content-Type": "application/xml"}, body)


def _kept(headers: Any) -> dict[str, str]:
    kept = {name: value for name, value in headers.items() if name.lower() in _KEPT_HEADERS}
    kept.update({name.lower(): value for name, value in headers.items() if name.lower().startswith("x-amz-meta-")})
    return kept


def _object_headers(stored: StoredObject) -> dict[str, str]:
    headers = {"Content-Type": "binary/octet-stream", **stored.headers}
    return {
        **headers,
        "ETag": stored.etag,
        "Last-Modified": format_datetime(stored.modified, usegmt=True),
        "Accept-Ranges": "bytes",
    }


def _checked(body: Body, headers: Any) -> Body:
    """S3 refuses a body whose CRC32 or MD5 differs from the one sent with it."""
    crc32, md5 = headers.get("x-amz-checksum-crc32"), headers.get("Content-MD5")
    failure = None
    if crc32 is not None and crc32 != body.crc32_b64:
        failure = S3Error(400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.")
    elif md5 is not None and md5 != base64.b64encode(bytes.fromhex(body.md5_hex)).decode():
        failure = S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    if failure is not None:
        body.path.unlink(missing_ok=True)
        raise failure
    return body


def _checksum_echo(headers: Any) -> dict[str, str]:
    crc32 = headers.get("x-amz-checksum-crc32")
    return {"x-amz-checksum-crc32": crc32} if crc32 else {}


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte a `Range: bytes=...` header asks for; None for the whole object.

    A header S3 cannot parse is ignored (the whole object), as S3 does; a range
    that starts past the end is S3's 416 InvalidRange.
    """
    unit, _, spec = header.partition("=")
    first, dash, last = spec.partition("-")
    if unit.strip() != "bytes" or not dash or "," in spec or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # the last N bytes
        return (max(size - int(last), 0), size - 1) if int(last) > 0 and size else _unsatisfiable(size)
    if int(first) >= size:
        return _unsatisfiable(size)
    return int(first), min(int(last), size - 1) if last.isdigit() else size - 1


def _unsatisfiable(size: int) -> tuple[int, int]:
    raise S3Error(416, "InvalidRange", f"The requested range is not satisfiable (object size {size})")


def _copy(source: Any, target: Any, length: int) -> None:
    left = length
    while left > 0:
        block = source.read(min(BLOCK, left))
        if not block:
            break
        target.write(block)
        left -= len(block)
