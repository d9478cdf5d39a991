"""Processing job: clean the raw table and split it into train/validation/test.

Reads every CSV under the input folder (with a header and a label column),
drops duplicate rows, rows with a missing label and rows with missing or
non-numeric features, then writes stratified splits as label-first,
header-less CSV files under the output folder:
  train/train_data.csv, validation/validation_data.csv, test/test_data.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split
from tabular import write_labelled

DEFAULT_INPUT = Path("/opt/ml/processing/input")
DEFAULT_OUTPUT = Path("/opt/ml/processing/output")


def load_raw(input_dir: Path) -> pd.DataFrame:
    files = sorted(input_dir.rglob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no .csv file under {input_dir}")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def clean(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    if label not in frame.columns:
        raise ValueError(f"label column {label!r} not in the input columns {list(frame.columns)[:5]}...")
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    cleaned = numeric.dropna().drop_duplicates()
    cleaned[label] = cleaned[label].astype(int)
    return cleaned.reset_index(drop=True)


def split(frame: pd.DataFrame, label: str, validation: float, test: float, seed: int) -> dict[str, pd.DataFrame]:
    held_out = validation + test
    if not 0 < held_out < 1:
        raise ValueError(f"validation + test fractions must be between 0 and 1, got {held_out}")
    train, rest = train_test_split(frame, test_size=held_out, stratify=frame[label], random_state=seed)
    val, tst = train_test_split(rest, test_size=test / held_out, stratify=rest[label], random_state=seed)
    return {"train": train, "validation": val, "test": tst}


def run(input_dir: Path, output_dir: Path, label: str, validation: float, test: float, seed: int) -> dict[str, int]:
    raw = load_raw(input_dir)
    cleaned = clean(raw, label)
    counts = {"raw_rows": len(raw), "clean_rows": len(cleaned)}
    for name, part in split(cleaned, label, validation, test, seed).items():
        write_labelled(part, label, output_dir / name / f"{name}_data.csv")
        counts[f"{name}_rows"] = len(part)
    return counts


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--label", default="target")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    counts = run(args.input_dir, args.output_dir, args.label, args.validation_fraction, args.test_fraction, args.seed)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
