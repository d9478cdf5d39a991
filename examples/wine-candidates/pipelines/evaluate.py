"""Score one candidate on the test set; writes evaluation.json for the pipeline's property file."""

import json
import os
import tarfile

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score

BASE = "/opt/ml/processing"

if __name__ == "__main__":
    with tarfile.open(f"{BASE}/model/model.tar.gz") as archive:
        archive.extractall(f"{BASE}/model")
    model = joblib.load(f"{BASE}/model/model.joblib")
    test = pd.read_csv(f"{BASE}/test/test.csv")
    accuracy = float(accuracy_score(test.iloc[:, 0], model.predict(test.iloc[:, 1:])))
    os.makedirs(f"{BASE}/evaluation", exist_ok=True)
    with open(f"{BASE}/evaluation/evaluation.json", "w") as report:
        json.dump({"multiclass_classification_metrics": {"accuracy": {"value": accuracy}}}, report)
    print(f"accuracy {accuracy:.4f} on {len(test)} test rows")
