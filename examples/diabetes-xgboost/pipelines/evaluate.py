"""Evaluate the model on the test set and write evaluation.json (runs on AWS's XGBoost image)."""

import json
import logging
import pathlib
import tarfile

import numpy as np
import pandas as pd
import xgboost
from sklearn.metrics import mean_squared_error

logger = logging.getLogger()
logger.setLevel(logging.INFO)
logger.addHandler(logging.StreamHandler())

if __name__ == "__main__":
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
        tar.extractall(path=".")
    model = xgboost.Booster()
    model.load_model("xgboost-model")

    df = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
    y_test = df.iloc[:, 0].to_numpy()
    predictions = model.predict(xgboost.DMatrix(df.iloc[:, 1:].values))
    mse = mean_squared_error(y_test, predictions)
    std = np.std(y_test - predictions)
    report = {"regression_metrics": {"mse": {"value": mse, "standard_deviation": std}}}

    pathlib.Path("/opt/ml/processing/evaluation").mkdir(parents=True, exist_ok=True)
    with open("/opt/ml/processing/evaluation/evaluation.json", "w") as f:
        f.write(json.dumps(report))
    logger.info("Writing out evaluation report with mse: %f", mse)
