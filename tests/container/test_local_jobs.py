"""Jobs through the local SageMaker API: the places where stock local mode is wrong."""

import io
import json
import tarfile

import pytest

from harness.emulator.environment import LocalEnvironment
from harness.emulator.storage import S3Uri

# Runs on every host: records what the platform gave it, into its own /opt/ml/model.
PROBE_ENV = """
import json, os, socket, time

def resolve(host):
    for _ in range(100):  # peers come up within moments of each other
        try:
            return socket.gethostbyname(host)
        except OSError:
            time.sleep(0.1)
    return None

rc = json.load(open("/opt/ml/input/config/resourceconfig.json"))
idc = json.load(open("/opt/ml/input/config/inputdataconfig.json"))
probe = {
    "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS", "TRAINING"))},
    "rc": rc, "idc": idc, "peers": [resolve(h) for h in rc["hosts"]],
    "files": sorted(os.listdir("/opt/ml/input/data/train")),
}
open("/opt/ml/model/" + rc["current_host"] + ".json", "w").write(json.dumps(probe))
"""


# Sleeps until SIGTERM, which it honours (PID 1 ignores signals it has no handler for).
SLEEPER = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)); time.sleep(600)"


def training_request(env: LocalEnvironment, name: str, image: str, **overrides) -> dict:
    request = {
        "TrainingJobName": name,
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{env.bucket}/data/train/train_data.csv",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{env.bucket}/models"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {"C": "0.5"},
    }
    request.update(overrides)
    return request


@pytest.fixture
def seeded(local_env: LocalEnvironment, fixtures_dir) -> LocalEnvironment:
    local_env.s3.put_file(
        fixtures_dir / "data" / "train" / "train_data.csv", S3Uri(local_env.bucket, "data/train/train_data.csv")
    )
    return local_env


def model_members(env: LocalEnvironment, uri: str) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(env.s3.get_bytes(S3Uri.parse(uri)))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_training_artifacts_land_where_sagemaker_puts_them(seeded: LocalEnvironment, images: dict) -> None:
    seeded.client.create_training_job(**training_request(seeded, "train-1", images["training"]))
    described = seeded.client.describe_training_job(TrainingJobName="train-1")
    assert described["TrainingJobStatus"] == "Completed"
    artifact = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{seeded.bucket}/models/train-1/output/model.tar.gz"
    assert set(model_members(seeded, artifact)) == {"model.joblib", "metadata.json"}
    assert seeded.s3.exists(S3Uri(seeded.bucket, "models/train-1/output/output.tar.gz"))


def test_each_host_has_its_own_model_dir_config_and_no_host_credentials(
    seeded: LocalEnvironment, images: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTSECRET")  # must never reach a container
    request = training_request(
        seeded,
        "probe-2",
        images["training"],
        AlgorithmSpecification={
            "TrainingImage": images["training"],
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python3", "-c", PROBE_ENV],
        },
        ResourceConfig={"InstanceCount": 2, "InstanceType": "ml.m5.large"},
        Environment={"MY_SETTING": "x"},
    )
    seeded.client.create_training_job(**request)
    described = seeded.client.describe_training_job(TrainingJobName="probe-2")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    members = model_members(seeded, described["ModelArtifacts"]["S3ModelArtifacts"])
    assert list(members) == ["algo-1.json"]  # algo-2 wrote into its own /opt/ml/model
    probe = json.loads(members["algo-1.json"])
    endpoint = seeded.s3.server.container_url  # the local AWS endpoint, on the Docker bridge
    assert probe["env"] == {
        "TRAINING_JOB_NAME": "probe-2",
        "TRAINING_JOB_ARN": "arn:aws:sagemaker:us-east-1:000000000000:training-job/probe-2",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "harness-local",  # the platform's dummies, never the host's
        "AWS_SECRET_ACCESS_KEY": "harness-local",
    }
    assert endpoint.startswith("http://172.")
    assert probe["rc"]["current_host"] == "algo-1" and probe["rc"]["hosts"] == ["algo-1", "algo-2"]
    assert probe["rc"]["network_interface_name"] == "eth0"
    assert probe["idc"] == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
    }
    assert all(probe["peers"]) and len(set(probe["peers"])) == 2
    assert probe["files"] == ["train_data.csv"]


def test_failure_reason_comes_from_the_failure_file(seeded: LocalEnvironment, images: dict) -> None:
    seeded.s3.put_bytes(b"1,abc\n", S3Uri(seeded.bucket, "data/train/train_data.csv"))
    seeded.client.create_training_job(**training_request(seeded, "broken", images["training"]))
    described = seeded.client.describe_training_job(TrainingJobName="broken")
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: ValueError: /opt/ml/input/data/train/train_data.csv line 1")
    assert reason.endswith("exit code: 1")
    assert "ModelArtifacts" not in described


def test_max_runtime_stops_the_job(seeded: LocalEnvironment, images: dict) -> None:
    request = training_request(
        seeded,
        "slow",
        images["training"],
        AlgorithmSpecification={"TrainingImage": images["training"], "ContainerEntrypoint": ["python3", "-c", SLEEPER]},
        StoppingCondition={"MaxRuntimeInSeconds": 2},
    )
    seeded.client.create_training_job(**request)
    described = seeded.client.describe_training_job(TrainingJobName="slow")
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("MaxRuntimeExceeded")


def test_processing_inputs_outputs_and_config(local_env: LocalEnvironment, images: dict, fixtures_dir) -> None:
    local_env.s3.put_file(
        fixtures_dir / "data" / "raw" / "breast_cancer.csv", S3Uri(local_env.bucket, "raw/breast_cancer.csv")
    )
    script = (
        "import json, shutil; cfg = json.load(open('/opt/ml/config/processingjobconfig.json')); "
        "rc = json.load(open('/opt/ml/config/resourceconfig.json')); "
        "shutil.copy('/opt/ml/processing/input/breast_cancer.csv', '/opt/ml/processing/out/copy.csv'); "
        "open('/opt/ml/processing/out/meta.json', 'w').write(json.dumps([cfg['ProcessingJobName'], rc]))"
    )
    local_env.client.create_processing_job(
        ProcessingJobName="proc-1",
        RoleArn="r",
        AppSpecification={"ImageUri": images["processing"], "ContainerEntrypoint": ["python3", "-c", script]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        ProcessingInputs=[
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": f"s3://{local_env.bucket}/raw/breast_cancer.csv",
                    "LocalPath": "/opt/ml/processing/input",
                },
            }
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{local_env.bucket}/processed",
                        "LocalPath": "/opt/ml/processing/out",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    assert local_env.client.describe_processing_job(ProcessingJobName="proc-1")["ProcessingJobStatus"] == "Completed"
    copied = local_env.s3.get_bytes(S3Uri(local_env.bucket, "processed/copy.csv"))
    assert copied == (fixtures_dir / "data" / "raw" / "breast_cancer.csv").read_bytes()
    name, resources = json.loads(local_env.s3.get_bytes(S3Uri(local_env.bucket, "processed/meta.json")))
    assert name == "proc-1" and resources == {"current_host": "algo-1", "hosts": ["algo-1"]}
