"""Outside pipelines, in a plain `sagemaker.Session()`: `Processor.run()`, `Estimator.fit()`,
`Model.deploy()` + `predict()` and `Transformer.transform()`, each with its defaults
(`wait=True, logs=True`), through `sagemaker-harness run`, with no waiter sleep.

The script names its images by ECR URIs; a `[tool.harness.images]` table in its folder maps
them to this repository's images, as a team maps its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "111122223333.dkr.ecr.us-east-1.amazonaws.com/team"

SCRIPT = f"""
import json, sys, time
slept = []
real_sleep = time.sleep
def recording_sleep(seconds):  # the SDK's pollers sleep 30 s between describes; none may happen
    slept.append(seconds)
    real_sleep(seconds)
time.sleep = recording_sleep

import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.predictor import Predictor
from sagemaker.processing import ScriptProcessor
from sagemaker.serializers import CSVSerializer

session = sagemaker.Session()
role = "arn:aws:iam::111122223333:role/TeamSageMaker"
bucket = session.default_bucket()
started = time.monotonic()

processor = ScriptProcessor(image_uri="{REGISTRY}/processing:1.0", command=["python3"], role=role,
                            instance_count=1, instance_type="ml.m5.large", sagemaker_session=session)
processor.run(code="hello.py")

estimator = Estimator(image_uri="{REGISTRY}/training:1.0", role=role, instance_count=1,
                      instance_type="ml.m5.large", output_path=f"s3://{{bucket}}/models",
                      hyperparameters={{"C": "1.0", "max_iter": "300"}}, sagemaker_session=session)
estimator.fit({{"train": TrainingInput("s3://team-ml/train/", content_type="text/csv")}})

model = Model(image_uri="{REGISTRY}/inference:1.0", model_data=estimator.model_data, role=role,
              predictor_cls=Predictor, sagemaker_session=session)
predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer())
answer = predictor.predict(open("payload.csv").read().strip())
predictor.delete_endpoint()

transformer = model.transformer(instance_count=1, instance_type="ml.m5.large",
                                output_path=f"s3://{{bucket}}/batch-out")
transformer.transform("s3://team-ml/batch/", content_type="text/csv", split_type="Line")
outputs = session.list_s3_files(bucket, "batch-out/")

print("RESULT " + json.dumps({{
    "answer": answer.decode() if isinstance(answer, bytes) else str(answer),
    "model_data": estimator.model_data,
    "outputs": outputs,
    "long_sleeps": [s for s in slept if s >= 5],
    "seconds": round(time.monotonic() - started, 1),
}}))
"""


def test_jobs_endpoint_and_transform_in_a_plain_session(tmp_path: Path, images: dict) -> None:
    (tmp_path / "job.py").write_text(SCRIPT)
    (tmp_path / "hello.py").write_text("print('hello from a processing container')\n")
    payload = next(iter(sorted((ROOT / "fixtures" / "payloads").glob("*.csv"))))
    (tmp_path / "payload.csv").write_text(payload.read_text().splitlines()[0] + "\n")
    (tmp_path / "batch.csv").write_text("\n".join(payload.read_text().splitlines()[:3]) + "\n")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.harness.images]\n"
        + "".join(f'"{REGISTRY}/{kind}:1.0" = "{images[kind]}"\n' for kind in ("processing", "training", "inference"))
    )
    train = ROOT / "fixtures" / "data" / "train" / "train_data.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HARNESS_PROJECT_ROOT"}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--data", f"{train}=s3://team-ml/train/train_data.csv",
         "--data", "batch.csv=s3://team-ml/batch/batch.csv", "--", sys.executable, "job.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    lines = [line for line in result.stdout.splitlines() if "RESULT " in line]  # after deploy()'s progress marks
    outcome = json.loads(lines[-1].split("RESULT ", 1)[1])
    # The SDK itself printed the containers' logs, read back through CloudWatch Logs (stdout is the script's).
    assert "hello from a processing container" in result.stdout
    assert "Training seconds:" in result.stdout  # fit()'s closing lines, from the TrainingJob's description
    assert outcome["answer"].strip() in {"0", "1", "0.0", "1.0"} or outcome["answer"].strip().startswith(("0", "1"))
    assert outcome["model_data"].endswith("/output/model.tar.gz")
    assert outcome["outputs"] == ["batch-out/batch.csv.out"]
    assert outcome["long_sleeps"] == []  # no poller ever slept: every first describe saw a terminal state
    assert outcome["seconds"] < 60  # the jobs' and the endpoint's own time (the SDK's sleeps alone were 55 s)
