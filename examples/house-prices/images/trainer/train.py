"""FitRegressor: fit a ridge regression on the train channel.

SageMaker starts the container as `docker run IMAGE train` and reads
/opt/ml/model back as model.tar.gz.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

PREFIX = Path("/opt/ml")
HYPERPARAMETERS = PREFIX / "input/config/hyperparameters.json"
TRAIN_CSV = PREFIX / "input/data/train/train.csv"
MODEL_DIR = PREFIX / "model"
FAILURE_FILE = PREFIX / "output/failure"
TARGET = "price"


def read_alpha(path: Path) -> float:
    # SageMaker passes every hyperparameter as a JSON string: {"alpha": "0.5"}.
    hyperparameters: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    alpha = float(hyperparameters.get("alpha", "1.0"))
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    return alpha


def fit(train: pd.DataFrame, alpha: float) -> Pipeline:
    features = train.drop(columns=[TARGET])
    return make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(features, train[TARGET])


def main() -> None:
    alpha = read_alpha(HYPERPARAMETERS)
    train = pd.read_csv(TRAIN_CSV)
    model = fit(train, alpha)
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL_DIR / "model.joblib")
    print(f"train: fitted ridge alpha={alpha} on {len(train)} rows, features {list(model.feature_names_in_)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] != "train":
        sys.exit(f"train: unsupported command {sys.argv[1]!r}; this image only trains")
    try:
        main()
    except Exception as error:  # noqa: BLE001 - any error becomes the job's FailureReason
        FAILURE_FILE.parent.mkdir(parents=True, exist_ok=True)
        FAILURE_FILE.write_text(f"{type(error).__name__}: {error}\n\n{traceback.format_exc()}")
        print(f"train: failed: {error}", file=sys.stderr)
        sys.exit(1)
