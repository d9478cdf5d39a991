"""Batch transform: one inference container in batch mode over S3 objects.

Follows SageMaker's batch contract: SAGEMAKER_BATCH=true,
SAGEMAKER_MAX_PAYLOAD_IN_MB, SAGEMAKER_BATCH_STRATEGY and
SAGEMAKER_MAX_CONCURRENT_TRANSFORMS in the container's environment; each input
object's results are written to `<S3OutputPath>/<object>.out`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from botocore.exceptions import ClientError

from harness.emulator.awserrors import cap_reason, failure_reason
from harness.emulator.hosting import EndpointHost, ModelDefinition
from harness.emulator.runner import JobOutcome, JobStatus
from harness.emulator.specs import _check_name
from harness.emulator.storage import EmbeddedS3, S3Uri
from harness.errors import UserError

BATCH_PAYLOAD_LIMIT_MB = 100


@dataclass(frozen=True)
class TransformJobSpec:
    name: str
    model_name: str
    input_uri: str
    content_type: str
    split_type: str
    output_uri: str
    accept: str | None
    assemble_with: str
    strategy: str
    max_payload_mb: int
    max_concurrent: int
    environment: Mapping[str, str]
    request: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> TransformJobSpec:
        name = _check_name("transform job", request.get("TransformJobName", ""))
        source = ((request.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {}
        transform_input = request.get("TransformInput") or {}
        output = request.get("TransformOutput") or {}
        if transform_input.get("CompressionType", "None") != "None":
            raise UserError(
                f"{name}: compressed transform input is not supported locally", fix="upload it uncompressed"
            )
        max_payload = int(request.get("MaxPayloadInMB", 6))
        if not 0 < max_payload <= BATCH_PAYLOAD_LIMIT_MB:
            raise UserError(f"{name}: MaxPayloadInMB={max_payload} is outside 1..{BATCH_PAYLOAD_LIMIT_MB}")
        return cls(
            name=name,
            model_name=str(request.get("ModelName", "")),
            input_uri=str(source.get("S3Uri", "")),
            content_type=str(transform_input.get("ContentType", "text/csv")),
            split_type=str(transform_input.get("SplitType", "None")),
            output_uri=str(output.get("S3OutputPath", "")),
            accept=output.get("Accept"),
            assemble_with=str(output.get("AssembleWith", "None")),
            strategy=str(request.get("BatchStrategy", "MultiRecord")),
            max_payload_mb=max_payload,
            max_concurrent=int(request.get("MaxConcurrentTransforms", 1)),
            environment=dict(request.get("Environment") or {}),
            request=request,
        )

    def container_environment(self) -> dict[str, str]:
        return {
            **self.environment,
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(self.max_payload_mb),
            "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if self.strategy == "SingleRecord" else "MULTI_RECORD",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(self.max_concurrent),
        }


def _batches(data: bytes, spec: TransformJobSpec) -> Iterator[bytes]:
    """Mini-batches of whole records under the payload limit (or the whole object)."""
    if spec.split_type != "Line":
        yield data
        return
    records = [line + b"\n" for line in data.splitlines() if line.strip()]
    if spec.strategy == "SingleRecord":
        yield from records
        return
    limit, batch = spec.max_payload_mb * 1024 * 1024, b""
    for record in records:
        if batch and len(batch) + len(record) > limit:
            yield batch
            batch = b""
        batch += record
    if batch:
        yield batch


def run_transform(spec: TransformJobSpec, model: ModelDefinition, host: EndpointHost, s3: EmbeddedS3) -> JobOutcome:
    started = datetime.now(UTC)
    try:
        stream = f"{spec.name}/i-{{id}}-{int(started.timestamp())}"
        served = host.serve(
            spec.name, model, spec.container_environment(), 600, ("/aws/sagemaker/TransformJobs", stream)
        )
    except ClientError as error:  # no model data, or the container never got healthy: the job fails, as in AWS
        reason = failure_reason(error)
        return JobOutcome(
            spec.name, JobStatus.FAILED, reason, started, datetime.now(UTC), (), host.image_id(model.image), {}
        )
    prefix = S3Uri.parse(spec.input_uri)
    reason = ""
    try:
        for key in s3.keys(prefix):
            source = S3Uri(prefix.bucket, key)
            answers = [_invoke(served.client.base_url, batch, spec) for batch in _batches(s3.get_bytes(source), spec)]
            joiner = b"\n" if spec.assemble_with == "Line" else b""
            relative = key[len(prefix.key) :].lstrip("/") or key.rsplit("/", 1)[-1]
            s3.put_bytes(
                joiner.join(a.rstrip(b"\n") if joiner else a for a in answers) + joiner,
                S3Uri.parse(spec.output_uri).join(f"{relative}.out"),
            )
    except _TransformError as error:
        reason = cap_reason(f"ClientError: {error}")
    finally:
        served.close()
    status = JobStatus.FAILED if reason else JobStatus.COMPLETED
    return JobOutcome(
        spec.name,
        status,
        reason,
        started,
        datetime.now(UTC),
        (),
        host.image_id(model.image),
        {"output": spec.output_uri},
    )


class _TransformError(Exception):
    pass


def _invoke(base_url: str, batch: bytes, spec: TransformJobSpec) -> bytes:
    headers = {"Content-Type": spec.content_type}
    if spec.accept:
        headers["Accept"] = spec.accept
    try:
        response = requests.post(f"{base_url}/invocations", data=batch, headers=headers, timeout=600)
    except requests.RequestException as error:  # the container crashed or hung mid-batch: the job fails, as in AWS
        raise _TransformError(f"no answer from the container: {error}") from error
    if response.status_code >= 400:
        raise _TransformError(f"the container answered {response.status_code}: {response.text[:500]}")
    return response.content
