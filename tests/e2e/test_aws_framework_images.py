"""AWS's scikit-learn framework image, offline: `SKLearnProcessor`, the `SKLearn` estimator in script mode
(a `source_dir` with a requirements.txt, hyperparameters as command-line arguments, the SM_* variables) and
its endpoint with the script's own `model_fn`, in a plain `sagemaker.Session()` through `sagemaker-harness run`,
on a stand-in built from PyPI wheels. The script is written as for the cloud: no image is configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engine.docker import Engine
from harness.images.standins import STANDIN_LABEL

SCRIPT = """
import json
import sagemaker
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor

session = sagemaker.Session()
role = "arn:aws:iam::111122223333:role/TeamSageMaker"

processor = SKLearnProcessor(framework_version="1.2-1", role=role, instance_type="ml.m5.xlarge",
                             instance_count=1, sagemaker_session=session)
processor.run(
    code="preprocess.py",
    inputs=[ProcessingInput(source="s3://team-ml/raw/", destination="/opt/ml/processing/input")],
    outputs=[ProcessingOutput(source="/opt/ml/processing/train", output_name="train")],
)
train_uri = processor.latest_job.describe()["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]

estimator = SKLearn(entry_point="train.py", source_dir="src", framework_version="1.2-1", role=role,
                    instance_type="ml.m5.xlarge", instance_count=1, sagemaker_session=session,
                    hyperparameters={"n-estimators": 12, "max-depth": 4, "bootstrap": True})
estimator.fit({"train": train_uri})

predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large")
answer = predictor.predict([[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]] * 2)
predictor.delete_endpoint()
print("RESULT " + json.dumps({"answer": [float(x) for x in answer], "model_data": estimator.model_data,
                              "image": estimator.training_image_uri()}))
"""

PREPROCESS = """
import glob, pandas as pd, sklearn
frame = pd.concat(pd.read_csv(path) for path in glob.glob("/opt/ml/processing/input/*.csv"))
frame = frame[["target"] + [c for c in frame.columns if c != "target"]]
frame.to_csv("/opt/ml/processing/train/train.csv", index=False, header=False)
print(f"preprocessed {len(frame)} rows with scikit-learn {sklearn.__version__}")
"""

TRAIN = """
import argparse, glob, os, joblib, numpy as np, sklearn
from sklearn.ensemble import RandomForestRegressor

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int)
    parser.add_argument("--max-depth", type=int)
    parser.add_argument("--bootstrap", type=str)
    args = parser.parse_args()
    files = glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv"))
    rows = np.vstack([np.loadtxt(path, delimiter=",") for path in files])
    model = RandomForestRegressor(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=0)
    model.fit(rows[:, 1:], rows[:, 0])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    print(f"trained with scikit-learn {sklearn.__version__}: n_estimators={args.n_estimators} "
          f"bootstrap={args.bootstrap} hosts={os.environ['SM_HOSTS']} hps={os.environ['SM_HPS']}")
"""


@pytest.mark.timeout(1500)
def test_sklearn_processing_script_mode_training_and_serving_on_the_stand_in(tmp_path: Path, engine: Engine) -> None:
    from sklearn.datasets import load_diabetes

    (tmp_path / "job.py").write_text(SCRIPT)
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    (tmp_path / "src" / "requirements.txt").write_text("joblib\n")  # in the image already: satisfied offline
    load_diabetes(as_frame=True).frame.to_csv(tmp_path / "diabetes.csv", index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HARNESS_PROJECT_ROOT"}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--data", "diabetes.csv=s3://team-ml/raw/diabetes.csv",
         "--", sys.executable, "job.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1400,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    outcome = json.loads([line for line in result.stdout.splitlines() if "RESULT " in line][-1].split("RESULT ", 1)[1])
    image = outcome["image"]
    assert image == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    info = engine.image(image)
    assert info is not None and info.labels[STANDIN_LABEL] == "sklearn 1.2-1"  # labelled as a stand-in
    # Said loudly, with what differs from AWS's image.
    assert f"{image} is AWS's sklearn 1.2-1 image: a local stand-in runs in its place" in result.stderr
    assert "pandas 1.5.0 (AWS's image: 1.1.3" in result.stderr
    # The processing script ran with AWS's scikit-learn pin; the SDK printed the log from CloudWatch Logs.
    assert "preprocessed 442 rows with scikit-learn 1.2.1" in result.stdout
    # Script mode through AWS's toolkit: sourcedir.tar.gz from the local S3, requirements.txt installed,
    # hyperparameters as sorted command-line arguments (str() of the JSON value), SM_* variables.
    assert "Invoking script with the following command:" in output
    assert "--bootstrap True --max-depth 4 --n-estimators 12" in output
    assert 'trained with scikit-learn 1.2.1: n_estimators=12 bootstrap=True hosts=["algo-1"]' in output
    assert "Requirement already satisfied: joblib" in output
    assert outcome["model_data"].endswith("/output/model.tar.gz")
    # The endpoint ran the script's model_fn and the container's default input/predict/output (NumPy both ways).
    assert len(outcome["answer"]) == 2 and outcome["answer"][0] == outcome["answer"][1] and outcome["answer"][0] > 0


FRAMEWORK_SCRIPT = """
import json, sagemaker
from sagemaker.processing import FrameworkProcessor
from sagemaker.sklearn.estimator import SKLearn

session = sagemaker.Session()
role = "arn:aws:iam::111122223333:role/TeamSageMaker"
processor = FrameworkProcessor(estimator_cls=SKLearn, framework_version="1.2-1", role=role,
                               instance_type="ml.m5.xlarge", instance_count=1, sagemaker_session=session)
processor.run(code="process.py", source_dir="proc", arguments=["--greeting", "hello"])
try:
    SKLearn(entry_point="train.py", source_dir="bad", framework_version="1.2-1", role=role,
            instance_type="ml.m5.xlarge", sagemaker_session=session).fit()
    print("RESULT " + json.dumps({"error": ""}))
except Exception as error:
    print("RESULT " + json.dumps({"error": str(error)}))
"""


@pytest.mark.timeout(1500)
def test_framework_processor_runs_runproc_and_an_uninstallable_requirement_fails_the_job(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(FRAMEWORK_SCRIPT)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "process.py").write_text(
        "import sys, helper\nprint('processor says', sys.argv[1:], helper.VALUE)\n"
    )
    (tmp_path / "proc" / "helper.py").write_text("VALUE = 42\n")  # beside the entry point in sourcedir.tar.gz
    (tmp_path / "proc" / "requirements.txt").write_text("joblib\n")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.py").write_text("print('never runs')\n")
    (tmp_path / "bad" / "requirements.txt").write_text("harness-no-such-package==1.0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HARNESS_PROJECT_ROOT"}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--", sys.executable, "job.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1400,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    # The SDK's runproc.sh: sourcedir.tar.gz unpacked, its requirements installed, the entry point run with its
    # arguments.
    assert "processor says ['--greeting', 'hello'] 42" in result.stdout
    assert "Requirement already satisfied: joblib" in result.stdout
    # A requirement that cannot be had fails the training job as AWS's toolkit reports it; the log names it.
    error = json.loads([line for line in result.stdout.splitlines() if "RESULT " in line][-1].split("RESULT ", 1)[1])
    assert "Failed. Reason: AlgorithmError: InstallRequirementsError:" in error["error"]
    assert 'Command "/opt/venv/bin/python3 -m pip install -r requirements.txt"' in error["error"]
    assert "No matching distribution found for harness-no-such-package==1.0" in result.stdout + result.stderr
    assert "never runs" not in result.stdout
