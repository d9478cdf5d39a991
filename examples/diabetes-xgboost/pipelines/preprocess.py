"""Preprocess the diabetes data: download it from S3, split it, write train/validation/test CSVs.

Runs in AWS's scikit-learn container (SKLearnProcessor). The label goes first and there is no header row,
as the built-in XGBoost algorithm expects text/csv.
"""

import argparse
import logging
import os
import pathlib

import boto3
import numpy as np
import pandas as pd

logger = logging.getLogger()
logger.setLevel(logging.INFO)
logger.addHandler(logging.StreamHandler())

BASE_DIR = "/opt/ml/processing"

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-data", type=str, required=True)
    args = parser.parse_args()

    pathlib.Path(f"{BASE_DIR}/data").mkdir(parents=True, exist_ok=True)
    bucket, key = args.input_data[len("s3://") :].split("/", 1)
    logger.info("Downloading data from bucket: %s, key: %s", bucket, key)
    fn = f"{BASE_DIR}/data/diabetes.csv"
    boto3.resource("s3").Bucket(bucket).download_file(key, fn)

    df = pd.read_csv(fn)
    os.unlink(fn)
    y = df.pop("target")
    X = df.to_numpy()
    frame = np.concatenate((y.to_numpy().reshape(len(y), 1), X), axis=1)
    np.random.default_rng(42).shuffle(frame)
    train, validation, test = np.split(frame, [int(0.7 * len(frame)), int(0.85 * len(frame))])

    logger.info("Writing out datasets to %s.", BASE_DIR)
    for name, rows in (("train", train), ("validation", validation), ("test", test)):
        pathlib.Path(f"{BASE_DIR}/{name}").mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(f"{BASE_DIR}/{name}/{name}.csv", header=False, index=False)
    logger.info("train %d, validation %d, test %d rows", len(train), len(validation), len(test))
