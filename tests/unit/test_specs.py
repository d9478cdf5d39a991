import pytest

from harness.emulator.specs import ProcessingJobSpec, TrainingJobSpec
from harness.errors import UserError


def training(**overrides) -> dict:
    request = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceCount": 2},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train", "S3DataType": "S3Prefix"}},
            }
        ],
    }
    request.update(overrides)
    return request


def test_training_request_is_parsed_with_full_channel_config() -> None:
    spec = TrainingJobSpec.from_request(training(HyperParameters={"C": "0.5", "n": 3}))
    assert spec.hyperparameters == {"C": "0.5", "n": "3"}
    assert spec.instance_count == 2
    assert spec.channels[0].config() == {
        "ContentType": "text/csv",
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None",
    }
    assert spec.arn.endswith(":training-job/job-1")


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"HyperParameters": {f"h{i}": "1" for i in range(101)}}, "at most 100"),
        ({"HyperParameters": {"long": "x" * 257}}, "longer than 256"),
        ({"TrainingJobName": "bad_name!"}, "training job name 'bad_name!' is invalid"),
        ({"AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "Pipe"}}, "Pipe"),
    ],
)
def test_training_refusals_name_the_problem(overrides: dict, needle: str) -> None:
    with pytest.raises(UserError) as caught:
        TrainingJobSpec.from_request(training(**overrides))
    assert needle in caught.value.problem


def test_processing_paths_must_be_under_opt_ml_processing() -> None:
    request = {
        "ProcessingJobName": "p",
        "AppSpecification": {"ImageUri": "img"},
        "ProcessingInputs": [{"InputName": "x", "S3Input": {"S3Uri": "s3://b/x", "LocalPath": "/data"}}],
    }
    with pytest.raises(UserError, match="must be a folder under /opt/ml/processing/"):
        ProcessingJobSpec.from_request(request)
