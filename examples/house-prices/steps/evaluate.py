"""ScoreModel: score the trained model on the test split, write evaluation.json.

Runs in a SageMaker Processing job with the model tarball in
/opt/ml/processing/model and the test CSV in /opt/ml/processing/test.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.metrics import r2_score, root_mean_squared_error

MODEL_TARBALL = Path("/opt/ml/processing/model/model.tar.gz")
TEST_DIR = Path("/opt/ml/processing/test")
EVALUATION_DIR = Path("/opt/ml/processing/evaluation")
TARGET = "price"


def load_model(tarball: Path) -> Any:
    # Read model.joblib straight out of the tarball: nothing is extracted to disk.
    with tarfile.open(tarball) as archive:
        member = next((m for m in archive.getmembers() if Path(m.name).name == "model.joblib"), None)
        if member is None:
            raise SystemExit(f"evaluate: no model.joblib in {tarball}")
        handle = archive.extractfile(member)
        if handle is None:
            raise SystemExit(f"evaluate: {member.name} in {tarball} is not a regular file")
        with handle:
            return joblib.load(handle)


def main() -> None:
    model = load_model(MODEL_TARBALL)
    test_files = sorted(TEST_DIR.glob("*.csv"))
    if not test_files:
        raise SystemExit(f"evaluate: no CSV file in {TEST_DIR}")
    test = pd.concat([pd.read_csv(path) for path in test_files], ignore_index=True)
    predictions = model.predict(test[list(model.feature_names_in_)])

    rmse = float(root_mean_squared_error(test[TARGET], predictions))
    r2 = float(r2_score(test[TARGET], predictions))
    report = {"regression_metrics": {"rmse": {"value": rmse}, "r2": {"value": r2}}}

    EVALUATION_DIR.mkdir(parents=True, exist_ok=True)
    (EVALUATION_DIR / "evaluation.json").write_text(json.dumps(report, indent=2))
    print(f"evaluate: rmse={rmse:.2f} r2={r2:.4f} on {len(test)} test rows")


if __name__ == "__main__":
    main()
