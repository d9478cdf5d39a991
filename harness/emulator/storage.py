"""The embedded local S3: moto's S3-compatible server on a free loopback port.

The harness starts it for a run and stops it at the end; jobs never talk to it
from inside containers (as in SageMaker, the platform copies data in and out),
only the harness and the SageMaker SDK do, through the endpoint URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

from harness.emulator.server import INTERNAL_HEADER, LocalAwsServer, Routes
from harness.errors import InfrastructureError, UserError

if TYPE_CHECKING:
    from harness.emulator.server import Listener

REGION = "us-east-1"
MULTIPART_BYTES = 8 << 20  # boto3's own multipart threshold
# Static dummy credentials: they keep boto3 from searching the host's credential
# chain (files, instance metadata); the local server accepts any.
LOCAL_CREDENTIALS = {"aws_access_key_id": "harness-local", "aws_secret_access_key": "harness-local"}


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise UserError(f"{uri!r} is not an s3:// URI", fix="use s3://bucket/key")
        return cls(parsed.netloc, parsed.path.lstrip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, *parts: str) -> S3Uri:
        key = "/".join([self.key.rstrip("/"), *[p.strip("/") for p in parts]]).lstrip("/")
        return S3Uri(self.bucket, key)


# botocore settings read from nowhere on the host (name: config key, env var, value, converter): no profile,
# no config or credentials file, no instance metadata, no endpoint from AWS_ENDPOINT_URL or the config.
ISOLATED_SESSION_VARS = {
    "profile": (None, None, None, None),
    "config_file": (None, None, "/dev/null", None),
    "credentials_file": (None, None, "/dev/null", None),
    "ec2_metadata_disabled": (None, None, True, None),
    "ignore_configured_endpoint_urls": (None, None, True, None),
}


def boto_session(models: Loader | None = None) -> boto3.Session:
    """A session the host's AWS set-up cannot reach: static dummy keys, and nothing read from AWS_* or ~/.aws.

    `models`: a botocore loader to share (it caches every service model it parsed), else the session's own.
    """
    core = botocore.session.Session(session_vars=ISOLATED_SESSION_VARS)
    if models is None:
        return boto3.Session(botocore_session=core, region_name=REGION, **LOCAL_CREDENTIALS)
    core.register_component("data_loader", models)
    paths = list(models.search_paths)
    session = boto3.Session(botocore_session=core, region_name=REGION, **LOCAL_CREDENTIALS)
    models.search_paths[:] = list(dict.fromkeys([*paths, *models.search_paths]))  # boto3 appends its path again
    return session


def _mark_internal(request: Any, **_: Any) -> None:
    """The harness's own S3 requests pass while clients wait for the environment (`Routes.ready`)."""
    request.headers[INTERNAL_HEADER] = "1"


class EmbeddedS3:
    """The local S3: moto's server behind the local AWS endpoint, with the few S3 operations the harness needs.

    moto's server is the well-kept S3 implementation of this field. The endpoint
    (harness.emulator.server) serves it beside the local SageMaker on one port.
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        routes: Routes | None = None,
        bridge_address: str | None = None,
        port: int = 0,
        listener: Listener | None = None,
    ) -> None:
        self.server = LocalAwsServer(routes or Routes(), bridge_address, port, listener)
        self.endpoint_url = ""
        self._client: Any = None
        # One session for every S3 client of the run (ours and the SDK's): botocore parses a service's model
        # once per session, and S3's costs ~13 MB and ~0.1 s each time.
        self.boto_session = session or boto_session()

    def start(self) -> EmbeddedS3:
        self.server.start()
        self.endpoint_url = self.server.url
        self._client = self.boto_session.client(
            "s3", endpoint_url=self.endpoint_url, config=Config(retries={"max_attempts": 2})
        )
        self._client.meta.events.register("before-send", _mark_internal)
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> EmbeddedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise InfrastructureError("the embedded S3 server is not running")
        return self._client

    def ensure_bucket(self, bucket: str) -> None:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            self.client.create_bucket(Bucket=bucket)

    def put_file(self, path: Path, uri: S3Uri) -> None:
        """One PUT for a file up to MULTIPART_BYTES (no transfer threads: a step's outputs are mostly small), a
        multipart upload beyond; the bucket is created if it does not exist."""
        if path.stat().st_size > MULTIPART_BYTES:
            self._into_bucket(uri.bucket, lambda: self.client.upload_file(str(path), uri.bucket, uri.key))
            return

        def put() -> None:
            with path.open("rb") as body:
                self.client.put_object(Bucket=uri.bucket, Key=uri.key, Body=body)

        self._into_bucket(uri.bucket, put)

    def put_bytes(self, data: bytes, uri: S3Uri) -> None:
        self._into_bucket(uri.bucket, lambda: self.client.put_object(Bucket=uri.bucket, Key=uri.key, Body=data))

    def _into_bucket(self, bucket: str, write: Callable[[], object]) -> None:
        """Write, creating the bucket on NoSuchBucket and writing again: no listing before every write."""
        try:
            write()
        except self.client.exceptions.NoSuchBucket:
            self.ensure_bucket(bucket)
            write()

    def put_tree(self, folder: Path, prefix: S3Uri) -> list[S3Uri]:
        """Upload every file under `folder`, keeping relative paths under `prefix`."""
        uploaded = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            uri = prefix.join(path.relative_to(folder).as_posix())
            self.put_file(path, uri)
            uploaded.append(uri)
        return uploaded

    def keys(self, prefix: S3Uri) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=prefix.bucket, Prefix=prefix.key):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def sizes(self, prefix: S3Uri) -> dict[str, int]:
        """The size in bytes of every object under a prefix, by key."""
        paginator = self.client.get_paginator("list_objects_v2")
        return {
            item["Key"]: int(item["Size"])
            for page in paginator.paginate(Bucket=prefix.bucket, Prefix=prefix.key)
            for item in page.get("Contents", [])
        }

    def exists(self, uri: S3Uri) -> bool:
        return uri.key in self.keys(uri)

    def get_bytes(self, uri: S3Uri) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read())
        except self.client.exceptions.NoSuchKey:
            raise UserError(f"{uri} does not exist in the local S3") from None

    def get_file(self, uri: S3Uri, path: Path) -> None:
        """Download one object to `path`, streamed (never whole in memory): one GET, no transfer threads."""
        body = self.client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"]
        with path.open("wb") as target:
            for block in body.iter_chunks(1 << 20):
                target.write(block)

    def sha256(self, uri: S3Uri) -> str:
        digest = hashlib.sha256()
        for block in self.client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].iter_chunks(1 << 20):
            digest.update(block)
        return digest.hexdigest()

    def hashes(self, prefix: S3Uri) -> dict[str, str]:
        """sha256 of every object under a prefix, by key (streamed)."""
        return {key: self.sha256(S3Uri(prefix.bucket, key)) for key in self.keys(prefix)}

    def download_prefix(self, prefix: S3Uri, into: Path) -> list[Path]:
        """S3Prefix semantics: every key under the prefix, relative to it.

        A prefix naming one object (s3://b/path/train_data.csv) downloads that
        object as `into/train_data.csv`, as SageMaker does for channels.
        """
        keys = self.keys(prefix)
        if not keys:
            raise UserError(
                f'ClientError: No S3 objects found under S3 URL "{prefix}" given in input data source',
                fix="check the URI, seed it (`run --data PATH=URI` or [tool.harness] data), or check that the step "
                "that writes it ran first",
            )
        paths = []
        for key in keys:
            target = into / (key[len(prefix.key) :].lstrip("/") or Path(key).name)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.get_file(S3Uri(prefix.bucket, key), target)
            paths.append(target)
        return paths


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
