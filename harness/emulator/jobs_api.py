"""SageMaker's job operations: Create/Describe/List/Stop for processing, training and transform jobs.

A Create call returns once the job reached its terminal state (so the SDK's
first Describe already sees it and its waiters never sleep), over HTTP within
the reply deadline of harness.emulator.replies; in the asynchronous mode it
returns at once and the job runs in the background, `InProgress` until it
ends, as in the service.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from harness.emulator.arns import sagemaker_arn
from harness.emulator.awserrors import failure_reason, validation_error
from harness.emulator.expressions import walk
from harness.emulator.hosting import EndpointHost
from harness.emulator.hosting_api import HostingApi
from harness.emulator.paging import page
from harness.emulator.replies import run_until_reply
from harness.emulator.runner import JobOutcome, JobRunner
from harness.emulator.specs import ProcessingJobSpec, TrainingJobSpec
from harness.emulator.storage import EmbeddedS3, S3Uri
from harness.emulator.transform import TransformJobSpec, run_transform
from harness.errors import ContractViolation, JobFailed, UserError

KINDS = ("Processing", "Training", "Transform")
# Failures of the job itself (a missing input, an image that breaks its contract): the job is Failed, the call
# that started it succeeded. Anything else (the Docker daemon gone, a bug) also reaches the caller.
_JOB_LEVEL = (UserError, ContractViolation, JobFailed, ClientError)


class JobsApi:
    def __init__(
        self, runner: JobRunner, endpoints: EndpointHost, hosting: HostingApi, s3: EmbeddedS3, asynchronous: bool
    ) -> None:
        self._runner = runner
        self._endpoints = endpoints
        self._hosting = hosting
        self._s3 = s3
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.outcomes: dict[str, JobOutcome] = {}  # what a run record needs beyond AWS's shapes
        self._asynchronous = asynchronous
        self._stopping: set[str] = set()  # jobs a Stop*Job asked to stop
        self._background = ThreadPoolExecutor(thread_name_prefix="job")  # threads start on first use

    # -- processing ----------------------------------------------------------------------
    def create_processing_job(self, **request: Any) -> dict[str, str]:
        return self._start("Processing", request)

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        return self._describe("Processing", ProcessingJobName)

    def list_processing_jobs(self, **request: Any) -> dict[str, Any]:
        return self._list("Processing", request)

    def stop_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        return self._stop("Processing", ProcessingJobName)

    # -- training ------------------------------------------------------------------------
    def create_training_job(self, **request: Any) -> dict[str, str]:
        return self._start("Training", request)

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self._describe("Training", TrainingJobName)

    def list_training_jobs(self, **request: Any) -> dict[str, Any]:
        return self._list("Training", request)

    def stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self._stop("Training", TrainingJobName)

    # -- transform -----------------------------------------------------------------------
    def create_transform_job(self, **request: Any) -> dict[str, str]:
        return self._start("Transform", request)

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        return self._describe("Transform", TransformJobName)

    def list_transform_jobs(self, **request: Any) -> dict[str, Any]:
        return self._list("Transform", request)

    def stop_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        return self._stop("Transform", TransformJobName)

    # -- what pipeline steps use ---------------------------------------------------------
    def run_step_job(self, step_type: str, job_name: str, request: dict[str, Any]) -> dict[str, Any]:
        """What a pipeline step does: run the job to its end (whatever the mode), then describe it."""
        self._start(step_type, {**request, f"{step_type}JobName": job_name}, in_background=False)
        return self._describe(step_type, job_name)

    def _prepare(self, kind: str, request: Mapping[str, Any]) -> Callable[[], JobOutcome]:
        """The job's run, once its request is known to be valid (an invalid one is refused before it exists)."""
        if kind == "Processing":
            processing = ProcessingJobSpec.from_request(request)
            return lambda: self._runner.run_processing(processing)
        if kind == "Training":
            training = TrainingJobSpec.from_request(request)
            return lambda: self._runner.run_training(training)
        transform = TransformJobSpec.from_request(request)
        model = self._hosting.model(transform.model_name, "CreateTransformJob")
        return lambda: run_transform(transform, model, self._endpoints, self._s3)

    def read_property_file(self, step_properties: Mapping[str, Any], property_file: Mapping[str, Any]) -> Any:
        output = walk(
            step_properties, f"ProcessingOutputConfig.Outputs['{property_file['OutputName']}']", "property file"
        )
        uri = S3Uri.parse(output["S3Output"]["S3Uri"]).join(property_file["FilePath"])
        return json.loads(self._s3.get_bytes(uri))

    # -- shared --------------------------------------------------------------------------
    def _start(self, kind: str, request: dict[str, Any], in_background: bool = True) -> dict[str, str]:
        """Validate, record as InProgress, run: to its end here, or in the background (asynchronous mode)."""
        run = self._prepare(kind, request)
        name = str(request[f"{kind}JobName"])
        self._record_start(kind, name, request)
        if not in_background:
            self._finish(kind, request, run)
        elif self._asynchronous:
            self._background.submit(self._finish, kind, request, run)  # close() waits for it
        else:  # to its end, or until the HTTP reply's deadline (harness.emulator.replies)
            run_until_reply(self._background, lambda: self._finish(kind, request, run))
        return {f"{kind}JobArn": _arn(kind, name)}

    def _record_start(self, kind: str, name: str, request: Mapping[str, Any]) -> None:
        with self._lock:
            if name in self._jobs[kind]:
                raise validation_error(
                    f"Create{kind}Job",
                    f"Job name must be unique within an AWS account and region, and a job "
                    f"with this name already exists ({_arn(kind, name)})",
                )
            now = datetime.now(UTC)
            self._jobs[kind][name] = {
                **request,
                **(_training_defaults(request) if kind == "Training" else {}),
                f"{kind}JobName": name,
                f"{kind}JobArn": _arn(kind, name),
                f"{kind}JobStatus": "InProgress",
                "CreationTime": now,
                "LastModifiedTime": now,
            }

    def _finish(self, kind: str, request: Mapping[str, Any], run: Callable[[], JobOutcome]) -> None:
        name = request[f"{kind}JobName"]
        try:
            outcome = run()
        except _JOB_LEVEL as error:  # the job's own inputs or image: it is Failed, and says why, as in AWS
            self._fail(kind, name, error)
            return
        except BaseException as error:  # Docker gone, Ctrl-C, a bug: Failed too, and the error reaches the caller
            self._fail(kind, name, error)
            raise
        self.outcomes[name] = outcome
        described = _described(kind, self._jobs[kind][name], outcome)
        if name in self._stopping:  # whatever its containers' exit codes: it was stopped
            described.pop("FailureReason", None)
            described[f"{kind}JobStatus"] = "Stopped"
            if kind == "Training":
                described["SecondaryStatus"] = "Stopped"
        self._jobs[kind][name] = described

    def _fail(self, kind: str, name: str, error: BaseException) -> None:
        self._jobs[kind][name] |= {
            f"{kind}JobStatus": "Failed",
            "FailureReason": failure_reason(error),
            "LastModifiedTime": datetime.now(UTC),
        }

    def _describe(self, kind: str, name: str) -> dict[str, Any]:
        job = self._jobs[kind].get(name)
        if job is None:
            missing = (
                f"Could not find requested job with name {name}"
                if kind == "Processing"
                else f"Could not find job {name}."
            )
            raise validation_error(f"Describe{kind}Job", missing)
        return dict(job)

    def _list(self, kind: str, request: Mapping[str, Any]) -> dict[str, Any]:
        summaries = [_summary(kind, job) for job in list(self._jobs[kind].values())]
        return page(summaries, request, f"{kind}JobSummaries", f"{kind}JobName")

    def _stop(self, kind: str, name: str) -> dict[str, Any]:
        """As the service: an InProgress job becomes Stopping, its containers get SIGTERM (SIGKILL 120 s later),
        and it ends Stopped; any other status is refused."""
        with self._lock:
            status = self._describe(kind, name)[f"{kind}JobStatus"]
            if status != "InProgress":
                raise validation_error(
                    f"Stop{kind}Job", f"The request was rejected because the {kind.lower()} job is in status {status}."
                )
            if kind == "Transform":  # its containers are endpoints' (harness.emulator.transform)
                raise validation_error(
                    "StopTransformJob", "The local harness cannot stop a running transform job; it ends by itself."
                )
            self._stopping.add(name)
            self._jobs[kind][name] |= {f"{kind}JobStatus": "Stopping", "LastModifiedTime": datetime.now(UTC)}
            if kind == "Training":
                self._jobs[kind][name]["SecondaryStatus"] = "Stopping"
        self._runner.stop(name)  # not started yet: it stops as soon as it has (see _finish)
        return {}

    def close(self) -> None:
        """Waits for background jobs: none may outlive the environment."""
        self._background.shutdown(wait=True)


def _training_defaults(request: Mapping[str, Any]) -> dict[str, Any]:
    """What DescribeTrainingJob gives for what the request left out, as the service fills it in (the SDK's
    `Estimator.attach()` reads these keys)."""
    output = dict(request.get("OutputDataConfig") or {})
    output.setdefault("KmsKeyId", "")
    stopping = dict(request.get("StoppingCondition") or {})
    stopping.setdefault("MaxRuntimeInSeconds", 86400)
    resources = dict(request.get("ResourceConfig") or {})
    resources.setdefault("InstanceCount", 1)
    resources.setdefault("InstanceType", "ml.m5.large")
    resources.setdefault("VolumeSizeInGB", 30)
    return {"OutputDataConfig": output, "StoppingCondition": stopping, "ResourceConfig": resources}


def _arn(kind: str, name: str) -> str:
    return sagemaker_arn(f"{kind.lower()}-job", name)


def _described(kind: str, started: Mapping[str, Any], outcome: JobOutcome) -> dict[str, Any]:
    described = {
        **started,
        f"{kind}JobStatus": outcome.status,
        f"{kind}StartTime": outcome.started,
        f"{kind}EndTime": outcome.ended,
        "LastModifiedTime": outcome.ended,
    }
    if kind == "Training" and outcome.metrics:
        described["FinalMetricDataList"] = list(outcome.metrics)
    if kind == "Training" and outcome.succeeded:
        described["ModelArtifacts"] = {"S3ModelArtifacts": outcome.artifacts["model"]}
        described["SecondaryStatus"] = "Completed"
        described["TrainingTimeInSeconds"] = described["BillableTimeInSeconds"] = max(1, int(outcome.seconds))
    if outcome.failure_reason:
        described["FailureReason"] = outcome.failure_reason
    return described


def _summary(kind: str, job: Mapping[str, Any]) -> dict[str, Any]:
    fields = (
        f"{kind}JobName",
        f"{kind}JobArn",
        f"{kind}JobStatus",
        "CreationTime",
        "LastModifiedTime",
        f"{kind}EndTime",
        "FailureReason",
    )
    return {field: job[field] for field in fields if field in job}
