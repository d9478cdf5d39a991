"""PrepareFeatures: fetch the raw CSV from S3, split it 80/20, write train and test.

Runs in a SageMaker Processing job:
    python3 prepare.py --input-bucket acme-ml-data --input-key raw/houses.csv
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import boto3
import pandas as pd

COLUMNS = ["sqft", "bedrooms", "age_years", "distance_km", "price"]
OUTPUT_DIR = Path("/opt/ml/processing")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input-bucket", required=True)
    parser.add_argument("--input-key", required=True)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


def download(bucket: str, key: str, folder: Path) -> Path:
    local = folder / Path(key).name
    boto3.client("s3").download_file(bucket, key, str(local))
    return local


def split(houses: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = houses.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    test_rows = round(len(shuffled) * test_fraction)
    return shuffled.iloc[test_rows:], shuffled.iloc[:test_rows]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        raw = download(args.input_bucket, args.input_key, Path(scratch))
        houses = pd.read_csv(raw)

    missing = sorted(set(COLUMNS) - set(houses.columns))
    if missing:
        raise SystemExit(f"prepare: s3://{args.input_bucket}/{args.input_key} lacks columns {missing}")
    houses = houses[COLUMNS].dropna()

    train, test = split(houses, args.test_fraction, args.seed)
    for name, frame in (("train", train), ("test", test)):
        folder = OUTPUT_DIR / name
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{name}.csv", index=False)
    print(f"prepare: {len(train)} train rows, {len(test)} test rows")


if __name__ == "__main__":
    main()
