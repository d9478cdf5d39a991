"""The embedded S3 server through real boto3 clients and s3transfer (the SDK's way in), over real HTTP."""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from harness.sandbox import sanitized
from harness.storage import EmbeddedS3, S3Uri

BUCKET = "harness-test"
MB = 1024 * 1024


@pytest.fixture
def s3() -> Iterator[EmbeddedS3]:
    with EmbeddedS3() as embedded:
        embedded.ensure_bucket(BUCKET)
        yield embedded


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_objects_round_trip_with_metadata_and_aws_shaped_answers(s3: EmbeddedS3) -> None:
    client = s3.client
    put = client.put_object(
        Bucket=BUCKET, Key="a b/ü.txt", Body=b"hello", ContentType="text/plain", Metadata={"k": "v"}
    )
    assert put["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    got = client.get_object(Bucket=BUCKET, Key="a b/ü.txt")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"], got["ContentLength"]) == (
        b"hello",
        "text/plain",
        {"k": "v"},
        5,
    )
    assert client.head_object(Bucket=BUCKET, Key="a b/ü.txt")["ETag"] == put["ETag"]
    assert client.get_object(Bucket=BUCKET, Key="a b/ü.txt", Range="bytes=1-3")["Body"].read() == b"ell"
    assert client.get_object(Bucket=BUCKET, Key="a b/ü.txt", Range="bytes=-2")["Body"].read() == b"lo"
    with pytest.raises(ClientError) as missing:
        client.get_object(Bucket=BUCKET, Key="nope")
    assert _code(missing) == "NoSuchKey" and missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as head_missing:
        client.head_object(Bucket=BUCKET, Key="nope")
    assert _code(head_missing) == "404"  # HEAD answers carry no body, so botocore has only the status
    with pytest.raises(ClientError) as past_end:
        client.get_object(Bucket=BUCKET, Key="a b/ü.txt", Range="bytes=10-")
    assert _code(past_end) == "InvalidRange"


def test_buckets_follow_s3s_rules(s3: EmbeddedS3) -> None:
    client = s3.client
    assert BUCKET in {b["Name"] for b in client.list_buckets()["Buckets"]}
    client.create_bucket(Bucket=BUCKET)  # us-east-1: re-creating an owned bucket is a success
    client.head_bucket(Bucket=BUCKET)
    with pytest.raises(ClientError) as invalid:
        client.create_bucket(Bucket="Not_Valid")
    assert _code(invalid) == "InvalidBucketName"
    with pytest.raises(ClientError) as absent:
        client.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    assert _code(absent) == "NoSuchBucket"
    client.put_object(Bucket=BUCKET, Key="k", Body=b"x")
    with pytest.raises(ClientError) as not_empty:
        client.delete_bucket(Bucket=BUCKET)
    assert _code(not_empty) == "BucketNotEmpty"
    assert client.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] is None


def test_listings_page_and_roll_up_like_s3(s3: EmbeddedS3) -> None:
    client = s3.client
    keys = [f"p/{i:03d}" for i in range(25)] + ["p/dir/x", "p/dir/y", "q/other"]
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    pages = list(
        client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="p/", PaginationConfig={"PageSize": 10})
    )
    assert [len(p.get("Contents", [])) for p in pages] == [10, 10, 7]
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(k for k in keys if k.startswith("p/"))
    rolled = client.list_objects_v2(Bucket=BUCKET, Prefix="p/", Delimiter="/", MaxKeys=30)
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["p/dir/"] and rolled["KeyCount"] == 26
    # A page that ends on a common prefix: the next one resumes after every key under it.
    first = client.list_objects_v2(Bucket=BUCKET, Delimiter="/", MaxKeys=1)
    second = client.list_objects_v2(Bucket=BUCKET, Delimiter="/", ContinuationToken=first["NextContinuationToken"])
    assert [p["Prefix"] for p in first["CommonPrefixes"] + second["CommonPrefixes"]] == ["p/", "q/"]
    v1 = client.list_objects(Bucket=BUCKET, Prefix="p/dir/")
    assert [o["Key"] for o in v1["Contents"]] == ["p/dir/x", "p/dir/y"] and not v1["IsTruncated"]
    deleted = client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "p/dir/x"}, {"Key": "q/other"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["p/dir/x", "q/other"]
    assert s3.keys(S3Uri(BUCKET, "p/dir/")) == ["p/dir/y"]


def test_large_files_go_up_in_parts_and_come_down_in_ranges(s3: EmbeddedS3, tmp_path: Path) -> None:
    data = bytes(range(256)) * (12 * MB // 256 + 3)  # just over 12 MB: three 5 MB parts
    source, target = tmp_path / "big.bin", tmp_path / "back.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    s3.client.upload_file(str(source), BUCKET, "big.bin", Config=config)
    head = s3.client.head_object(Bucket=BUCKET, Key="big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    s3.client.download_file(BUCKET, "big.bin", str(target), Config=config)  # ranged GETs, several threads
    assert target.read_bytes() == data
    assert s3.sha256(S3Uri(BUCKET, "big.bin")) == hashlib.sha256(data).hexdigest()


def test_copy_and_checksums(s3: EmbeddedS3) -> None:
    client = s3.client
    client.put_object(Bucket=BUCKET, Key="src", Body=b"payload", Metadata={"a": "1"})
    client.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"})
    copied = client.get_object(Bucket=BUCKET, Key="dst")
    assert (copied["Body"].read(), copied["Metadata"]) == (b"payload", {"a": "1"})
    # A body that does not match its checksum is refused, as S3 refuses it.
    answer = requests.put(
        f"{s3.endpoint_url}/{BUCKET}/bad", data=b"abc", headers={"x-amz-checksum-crc32": "AAAAAA=="}, timeout=10
    )
    assert answer.status_code == 400 and "<Code>BadDigest</Code>" in answer.text
    assert not s3.exists(S3Uri(BUCKET, "bad"))


def test_operations_it_does_not_implement_say_so(s3: EmbeddedS3) -> None:
    with pytest.raises(ClientError) as error:
        s3.client.get_bucket_versioning(Bucket=BUCKET)
    assert _code(error) == "NotImplemented" and "versioning" in error.value.response["Error"]["Message"]


_FOOTPRINT = """
import sys
from pathlib import Path

def rss_mb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024

import harness.session  # the SDK, as in every run
from harness.session import sdk_models
from harness.storage import EmbeddedS3, S3Uri, boto_session
before = rss_mb()
with EmbeddedS3(boto_session(sdk_models())) as s3:
    s3.put_bytes(b"x" * 1000, S3Uri("harness-local", "k"))
    assert s3.get_bytes(S3Uri("harness-local", "k")) == b"x" * 1000
    print(round(rss_mb() - before, 1), "moto" in sys.modules)
"""


def test_a_running_s3_costs_a_run_a_few_megabytes() -> None:
    # moto's server cost ~34 MB (its IAM/STS models on the first request) and S3's model parsed again ~14 MB.
    answer = subprocess.run(
        [sys.executable, "-c", _FOOTPRINT], capture_output=True, text=True, timeout=120, check=True, env=_offline()
    )
    grown_mb, moto_imported = answer.stdout.splitlines()[-1].split()  # the SDK logs to stdout first
    assert moto_imported == "False"
    assert float(grown_mb) < 6, answer.stdout


def _offline() -> dict[str, str]:
    return sanitized(os.environ)


def test_small_requests_do_not_wait_for_delayed_acks(s3: EmbeddedS3) -> None:
    # Headers and body are two writes: with Nagle's algorithm on, each answer waited ~40 ms for the client's ACK.
    uri = S3Uri(BUCKET, "small.csv")
    s3.put_bytes(b"1,2,3\n" * 100, uri)
    seconds = []
    for _ in range(21):
        started = time.perf_counter()
        s3.get_bytes(uri)
        seconds.append(time.perf_counter() - started)
    assert statistics.median(seconds) < 0.02, seconds
