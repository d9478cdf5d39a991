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
from typing import Any

import pytest

from harness.engine.docker import Engine
from harness.images.standins import STANDIN_LABEL


def run_job(tmp_path: Path, *data: str) -> subprocess.CompletedProcess[str]:
    """`sagemaker-harness run [--data P=URI ...] -- python job.py` in tmp_path, as a user's shell runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HARNESS_PROJECT_ROOT"}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    seeds = [arg for item in data for arg in ("--data", item)]
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", *seeds, "--", sys.executable, "job.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1700,
    )  # fmt: skip


def build_probe_wheel(source: Path, wheels: Path) -> None:
    """A wheel of a package that exists nowhere else: found only in the wheelhouse."""
    (source / "harness_wheelhouse_probe").mkdir(parents=True)
    (source / "harness_wheelhouse_probe" / "__init__.py").write_text('WHERE = "from the wheelhouse"\n')
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "harness-wheelhouse-probe"\nversion = "1.0"\n'
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
         str(source)],
        check=True, capture_output=True,
    )  # fmt: skip


def reported(stdout: str) -> Any:
    """What the job script printed after `RESULT ` (its last such line: deploy() prints progress marks first)."""
    return json.loads([line for line in stdout.splitlines() if "RESULT " in line][-1].split("RESULT ", 1)[1])


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
    result = run_job(tmp_path, "diabetes.csv=s3://team-ml/raw/diabetes.csv")
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    outcome = reported(result.stdout)
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
def test_framework_processor_runs_runproc_with_the_wheelhouse_and_a_missing_requirement_fails_the_job(
    tmp_path: Path,
) -> None:
    (tmp_path / "job.py").write_text(FRAMEWORK_SCRIPT)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "process.py").write_text(
        "import sys, helper, harness_wheelhouse_probe as probe\n"
        "print('processor says', sys.argv[1:], helper.VALUE, probe.WHERE)\n"
    )
    (tmp_path / "proc" / "helper.py").write_text("VALUE = 42\n")  # beside the entry point in sourcedir.tar.gz
    # A requirement PyPI does not have, from the project's wheelhouse ([tool.harness] wheelhouse).
    (tmp_path / "proc" / "requirements.txt").write_text("joblib\nharness-wheelhouse-probe==1.0\n")
    (tmp_path / "pyproject.toml").write_text('[tool.harness]\nwheelhouse = "wheels"\n')
    build_probe_wheel(tmp_path / "probe", tmp_path / "wheels")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.py").write_text("print('never runs')\n")
    (tmp_path / "bad" / "requirements.txt").write_text("harness-no-such-package==1.0\n")
    result = run_job(tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    # The SDK's runproc.sh: sourcedir.tar.gz unpacked, its requirements installed, the entry point run with its
    # arguments.
    assert "processor says ['--greeting', 'hello'] 42 from the wheelhouse" in result.stdout
    assert "Requirement already satisfied: joblib" in result.stdout
    # A requirement that cannot be had fails the training job as AWS's toolkit reports it; the log names it.
    error = reported(result.stdout)
    assert "Failed. Reason: AlgorithmError: InstallRequirementsError:" in error["error"]
    assert 'Command "/opt/venv/bin/python3 -m pip install -r requirements.txt"' in error["error"]
    assert "No matching distribution found for harness-no-such-package==1.0" in result.stdout + result.stderr
    assert "never runs" not in result.stdout


XGBOOST_SCRIPT = """
import json, tarfile
import sagemaker
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ScriptProcessor
from sagemaker.serializers import CSVSerializer

session = sagemaker.Session()
role = "arn:aws:iam::111122223333:role/TeamSageMaker"
bucket = session.default_bucket()
image = image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
channels = {
    "train": TrainingInput("s3://team-ml/xgb/train/", content_type="text/csv"),
    "validation": TrainingInput("s3://team-ml/xgb/validation/", content_type="text/csv"),
}
estimator = Estimator(image_uri=image, role=role, instance_count=1, instance_type="ml.m5.xlarge",
                      output_path=f"s3://{bucket}/xgb", sagemaker_session=session,
                      hyperparameters={"objective": "reg:squarederror", "num_round": "30", "max_depth": "3",
                                       "eta": "0.3", "eval_metric": "rmse", "early_stopping_rounds": "5"})
estimator.fit(channels)
metrics = estimator.latest_training_job.describe().get("FinalMetricDataList", [])

evaluation = ScriptProcessor(image_uri=image, command=["python3"], role=role, instance_count=1,
                             instance_type="ml.m5.xlarge", sagemaker_session=session)
evaluation.run(code="evaluate.py",
               inputs=[ProcessingInput(source=estimator.model_data, destination="/opt/ml/processing/model")])

predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer())
rows = ["0.03,0.05,0.06,0.02,-0.04,-0.03,-0.04,0.0,0.02,-0.02", ",".join(["0.0"] * 10)]
answer = predictor.predict("\\n".join(rows))
try:
    session.sagemaker_runtime_client.invoke_endpoint(EndpointName=predictor.endpoint_name, Body=b"[[1, 2]]",
                                                     ContentType="application/json")
    refused = ""
except Exception as error:
    refused = str(error)
predictor.delete_endpoint()

bad = Estimator(image_uri=image, role=role, instance_count=1, instance_type="ml.m5.xlarge",
                output_path=f"s3://{bucket}/xgb", sagemaker_session=session,
                hyperparameters={"num_round": "10", "eta": "1.5"})
try:
    bad.fit(channels, logs=False)
    rejected = ""
except Exception as error:
    rejected = str(error)
print("RESULT " + json.dumps({"metrics": {m["MetricName"]: m["Value"] for m in metrics}, "answer": answer.decode(),
                              "refused": refused, "rejected": rejected}))
"""

EVALUATE = """
import tarfile, numpy, pandas, sklearn, xgboost
tarfile.open("/opt/ml/processing/model/model.tar.gz").extractall("/tmp/model")
booster = xgboost.Booster()
booster.load_model("/tmp/model/xgboost-model")
print(f"loaded xgboost-model with {booster.num_boosted_rounds()} rounds: xgboost {xgboost.__version__}, "
      f"pandas {pandas.__version__}, numpy {numpy.__version__}, scikit-learn {sklearn.__version__}")
"""


@pytest.mark.timeout(1800)
def test_built_in_xgboost_trains_reports_metrics_evaluates_and_serves(tmp_path: Path, engine: Engine) -> None:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    frame = frame[["target"] + [c for c in frame.columns if c != "target"]]  # label first, no header
    frame.iloc[:350].to_csv(tmp_path / "train.csv", index=False, header=False)
    frame.iloc[350:].to_csv(tmp_path / "validation.csv", index=False, header=False)
    (tmp_path / "job.py").write_text(XGBOOST_SCRIPT)
    (tmp_path / "evaluate.py").write_text(EVALUATE)
    result = run_job(
        tmp_path,
        "train.csv=s3://team-ml/xgb/train/train.csv",
        "validation.csv=s3://team-ml/xgb/validation/validation.csv",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    outcome = reported(result.stdout)
    # fit() printed the algorithm's per-round lines as CloudWatch Logs holds them (the tab as #011).
    assert "[0]#011train-rmse:" in result.stdout and "#011validation-rmse:" in result.stdout
    assert "Train matrix has 350 rows and 10 columns" in result.stdout
    # SageMaker's metric definitions for the built-in algorithm, applied to that log: the final values.
    assert set(outcome["metrics"]) == {"train:rmse", "validation:rmse"}
    assert 0 < outcome["metrics"]["train:rmse"] < outcome["metrics"]["validation:rmse"] < 100
    # The evaluation script loads xgboost-model as in the cloud, with the image's libraries.
    assert "loaded xgboost-model with" in result.stdout and "xgboost 1.7.4" in result.stdout
    # The endpoint answers CSV with one prediction per line, and refuses JSON as AWS's container does.
    lines = outcome["answer"].splitlines()
    assert len(lines) == 2 and all(float(v) > 0 for v in lines) and outcome["answer"].endswith("\n")
    assert "415" in outcome["refused"] and "application/json is not an accepted ContentType" in outcome["refused"]
    # A value the algorithm rejects fails the job with its message.
    assert "AlgorithmError: framework error:" in outcome["rejected"]
    assert "Hyperparameter eta: 1.5 is not in [0, 1]" in outcome["rejected"]
    info = engine.image("harness-standin/sagemaker-xgboost:1.7-1")
    assert info is not None


NEWEST_SCRIPT = """
import json
import sagemaker
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.xgboost.estimator import XGBoost

session = sagemaker.Session()
role = "arn:aws:iam::111122223333:role/TeamSageMaker"
bucket = session.default_bucket()
SKLearnProcessor(framework_version="1.4-2", role=role, instance_type="ml.m5.xlarge", instance_count=1,
                 sagemaker_session=session).run(code="versions.py")

# The built-in algorithm on the newest XGBoost, from text/libsvm.
image = image_uris.retrieve("xgboost", session.boto_region_name, "3.0-5")
algorithm = Estimator(image_uri=image, role=role, instance_count=1, instance_type="ml.m5.xlarge",
                      output_path=f"s3://{bucket}/xgb3", sagemaker_session=session,
                      hyperparameters={"objective": "reg:squarederror", "num_round": "10"})
algorithm.fit({"train": TrainingInput("s3://team-ml/libsvm/", content_type="text/libsvm")})
predictor = algorithm.deploy(initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer())
scored = session.sagemaker_runtime_client.invoke_endpoint(
    EndpointName=predictor.endpoint_name, Body=b"1 1:0.5 2:0.1", ContentType="text/libsvm", Accept="application/json"
)["Body"].read().decode()
predictor.delete_endpoint()

# Script mode on the XGBoost image: the SDK's XGBoost estimator, its model_fn, the container's default input_fn.
script = XGBoost(entry_point="train_xgb.py", source_dir="xgb", framework_version="3.0-5", role=role,
                 instance_type="ml.m5.xlarge", instance_count=1, sagemaker_session=session,
                 hyperparameters={"num-round": 5})
script.fit({"train": TrainingInput("s3://team-ml/libsvm/", content_type="text/libsvm")})
predictor = script.deploy(initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer())
answer = session.sagemaker_runtime_client.invoke_endpoint(
    EndpointName=predictor.endpoint_name, Body=b"0.5,0.1", ContentType="text/csv"
)["Body"].read().decode()
predictor.delete_endpoint()
print("RESULT " + json.dumps({"scored": scored, "answer": answer}))
"""

VERSIONS = """
import numpy, pandas, sklearn, sys
print(f"python {sys.version_info.major}.{sys.version_info.minor} scikit-learn {sklearn.__version__} "
      f"numpy {numpy.__version__} pandas {pandas.__version__}")
"""

TRAIN_XGB = """
import argparse, os, xgboost

def model_fn(model_dir):
    booster = xgboost.Booster()
    booster.load_model(os.path.join(model_dir, "model.json"))
    return booster

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-round", type=int)
    args = parser.parse_args()
    train = xgboost.DMatrix(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.libsvm") + "?format=libsvm")
    booster = xgboost.train({"objective": "reg:squarederror"}, train, num_boost_round=args.num_round)
    booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"))
    print(f"script mode: xgboost {xgboost.__version__}, {args.num_round} rounds")
"""


@pytest.mark.timeout(1800)
def test_the_newest_versions_libsvm_json_answers_and_xgboost_script_mode(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "job.py").write_text(NEWEST_SCRIPT)
    (tmp_path / "versions.py").write_text(VERSIONS)
    (tmp_path / "xgb").mkdir()
    (tmp_path / "xgb" / "train_xgb.py").write_text(TRAIN_XGB)
    rows = [f"{(i % 7) * 1.5} 1:{i / 40:.3f} 2:{(i * 7 % 11) / 11:.3f}" for i in range(40)]
    (tmp_path / "train.libsvm").write_text("\n".join(rows) + "\n")
    result = run_job(tmp_path, "train.libsvm=s3://team-ml/libsvm/train.libsvm")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    outcome = reported(result.stdout)
    assert "python 3.11 scikit-learn 1.4.2 numpy 2.1.0 pandas 2.3.2" in result.stdout  # AWS's 1.4-2 pins
    assert "#011train-rmse:" in result.stdout  # the built-in algorithm read text/libsvm
    scores = json.loads(outcome["scored"])["predictions"]  # the built-in algorithm's JSON answer shape
    assert len(scores) == 1 and isinstance(scores[0]["score"], float)
    assert "script mode: xgboost 3.0.5, 5 rounds" in result.stdout
    assert len(json.loads(outcome["answer"])) == 1  # script mode's default output: JSON, a list of predictions
    for name in ("harness-standin/sagemaker-scikit-learn:1.4-2", "harness-standin/sagemaker-xgboost:3.0-5"):
        assert engine.image(name) is not None
