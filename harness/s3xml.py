"""S3's XML documents for the embedded S3: listings, errors and the request bodies it reads."""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from harness.s3store import S3Error, StoredObject

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
OWNER_ID = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"  # S3's documented example canonical ID
MAX_KEYS = 1000


@dataclass(frozen=True)
class Listing:
    """One page of a bucket listing."""

    objects: list[StoredObject]
    prefixes: list[str]
    truncated: bool
    last: str  # the last key or common prefix of the page: where the next page starts after


def page(entries: Iterable[StoredObject], prefix: str, delimiter: str, after: str, max_keys: int) -> Listing:
    """Keys under `prefix` after `after`, keys sharing the part up to `delimiter` rolled up into one common prefix."""
    objects: list[StoredObject] = []
    prefixes: list[str] = []
    last = ""
    for stored in entries:
        name = _rolled_up(stored.key, prefix, delimiter)
        if (after and name.encode() <= after.encode()) or (prefixes and prefixes[-1] == name):
            continue
        if len(objects) + len(prefixes) == max_keys:
            return Listing(objects, prefixes, True, last)
        if name == stored.key:
            objects.append(stored)
        else:
            prefixes.append(name)
        last = name
    return Listing(objects, prefixes, False, last)


def _rolled_up(key: str, prefix: str, delimiter: str) -> str:
    if not delimiter:
        return key
    cut = key.find(delimiter, len(prefix))
    return key if cut < 0 else key[: cut + len(delimiter)]


def max_keys(query: Mapping[str, str]) -> int:
    text = query.get("max-keys", str(MAX_KEYS))
    if not text.isdigit():
        raise S3Error(400, "InvalidArgument", "Provided max-keys not an integer or within integer range")
    return min(int(text), MAX_KEYS)


def token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def untoken(text: str) -> str:
    try:
        return base64.urlsafe_b64decode(text.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise S3Error(400, "InvalidArgument", "The continuation token provided is incorrect") from None


def list_v2(bucket: str, query: Mapping[str, str], listing: Listing) -> bytes:
    encode = _encoder(query)
    root = _root("ListBucketResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", encode(query.get("prefix", "")))
    for name in ("delimiter", "start-after"):
        if name in query:
            _add(root, "Delimiter" if name == "delimiter" else "StartAfter", encode(query[name]))
    if "continuation-token" in query:
        _add(root, "ContinuationToken", query["continuation-token"])
    _add(root, "KeyCount", str(len(listing.objects) + len(listing.prefixes)))
    _add(root, "MaxKeys", str(max_keys(query)))
    _add(root, "IsTruncated", _bool(listing.truncated))
    if listing.truncated:
        _add(root, "NextContinuationToken", token(listing.last))
    _contents(root, listing, encode, owner="fetch-owner" in query and query["fetch-owner"] == "true")
    if "encoding-type" in query:
        _add(root, "EncodingType", "url")
    return _document(root)


def list_v1(bucket: str, query: Mapping[str, str], listing: Listing) -> bytes:
    encode = _encoder(query)
    root = _root("ListBucketResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", encode(query.get("prefix", "")))
    _add(root, "Marker", encode(query.get("marker", "")))
    if listing.truncated and query.get("delimiter"):
        _add(root, "NextMarker", encode(listing.last))  # without a delimiter the client uses the last key
    _add(root, "MaxKeys", str(max_keys(query)))
    if "delimiter" in query:
        _add(root, "Delimiter", encode(query["delimiter"]))
    _add(root, "IsTruncated", _bool(listing.truncated))
    _contents(root, listing, encode, owner=True)
    if "encoding-type" in query:
        _add(root, "EncodingType", "url")
    return _document(root)


def _contents(root: ET.Element, listing: Listing, encode: _Encode, owner: bool) -> None:
    for stored in listing.objects:
        item = _add(root, "Contents")
        _add(item, "Key", encode(stored.key))
        _add(item, "LastModified", iso8601(stored.modified))
        _add(item, "ETag", stored.etag)
        _add(item, "Size", str(stored.size))
        if owner:
            _owner(item)
        _add(item, "StorageClass", "STANDARD")
    for prefix in listing.prefixes:
        _add(_add(root, "CommonPrefixes"), "Prefix", encode(prefix))


def list_buckets(buckets: Sequence[tuple[str, datetime]]) -> bytes:
    root = _root("ListAllMyBucketsResult")
    _owner(root)
    listed = _add(root, "Buckets")
    for name, created in buckets:
        bucket = _add(listed, "Bucket")
        _add(bucket, "Name", name)
        _add(bucket, "CreationDate", iso8601(created))
    return _document(root)


def location() -> bytes:
    return _document(_root("LocationConstraint"))  # empty: us-east-1


def copy_result(stored: StoredObject) -> bytes:
    root = _root("CopyObjectResult")
    _add(root, "LastModified", iso8601(stored.modified))
    _add(root, "ETag", stored.etag)
    return _document(root)


def upload_started(bucket: str, key: str, upload_id: str) -> bytes:
    root = _root("InitiateMultipartUploadResult")
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "UploadId", upload_id)
    return _document(root)


def upload_completed(location_url: str, bucket: str, stored: StoredObject) -> bytes:
    root = _root("CompleteMultipartUploadResult")
    _add(root, "Location", location_url)
    _add(root, "Bucket", bucket)
    _add(root, "Key", stored.key)
    _add(root, "ETag", stored.etag)
    return _document(root)


def deleted(keys: Sequence[str], quiet: bool) -> bytes:
    root = _root("DeleteResult")
    for key in () if quiet else keys:
        _add(_add(root, "Deleted"), "Key", key)
    return _document(root)


def error(failure: S3Error, request_id: str) -> bytes:
    root = ET.Element("Error")
    _add(root, "Code", failure.code)
    _add(root, "Message", failure.message)
    if failure.resource:
        _add(root, "Resource", failure.resource)
    _add(root, "RequestId", request_id)
    return _document(root)


def parse(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise S3Error(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        ) from None


def children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Direct children named `name`, with or without S3's namespace."""
    return (child for child in element if child.tag.rsplit("}", 1)[-1] == name)


def text(element: ET.Element, name: str) -> str:
    found = next(children(element, name), None)
    return (found.text or "") if found is not None else ""


def completed_parts(body: bytes) -> list[tuple[int, str]]:
    parts = []
    for part in children(parse(body), "Part"):
        number = text(part, "PartNumber")
        if not number.isdigit():
            raise S3Error(400, "InvalidPart", "One or more of the specified parts could not be found.")
        parts.append((int(number), text(part, "ETag")))
    return parts


def request_id() -> str:
    return uuid.uuid4().hex[:16].upper()


def iso8601(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_Encode = Callable[[str], str]


def _encoder(query: Mapping[str, str]) -> _Encode:
    if query.get("encoding-type", "") not in ("", "url"):
        raise S3Error(400, "InvalidArgument", "Invalid Encoding Method specified in Request")
    return (lambda value: quote(value, safe="/")) if "encoding-type" in query else (lambda value: value)


def _owner(parent: ET.Element) -> None:
    owner = _add(parent, "Owner")
    _add(owner, "ID", OWNER_ID)
    _add(owner, "DisplayName", "harness-local")


def _root(tag: str) -> ET.Element:
    return ET.Element(tag, xmlns=NAMESPACE)


def _add(parent: ET.Element, tag: str, value: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if value is not None:
        child.text = value
    return child


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _document(root: ET.Element) -> bytes:
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
