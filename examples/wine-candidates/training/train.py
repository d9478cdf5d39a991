"""Train one candidate model (script mode on AWS's scikit-learn container): --model forest|logistic."""

import argparse
import os

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MODELS = {
    "forest": lambda: RandomForestClassifier(n_estimators=100, random_state=7),
    "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(MODELS), required=True)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()
    frame = pd.read_csv(os.path.join(args.train, "train.csv"))
    model = MODELS[args.model]().fit(frame.iloc[:, 1:], frame.iloc[:, 0])
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    print(f"trained {args.model} on {len(frame)} rows")
