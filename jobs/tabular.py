"""Label-first, header-less CSV: the layout the processing step writes and the
training and evaluation steps read (SageMaker's built-in-algorithm convention)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_labelled(frame: pd.DataFrame, label: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = frame[[label, *[c for c in frame.columns if c != label]]]
    ordered.to_csv(path, header=False, index=False)
    return path


def read_labelled(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels from a label-first CSV; raises ValueError on bad data."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    frame = pd.read_csv(path, header=None)
    if frame.shape[1] < 2:
        raise ValueError(f"{path} has {frame.shape[1]} column(s); expected the label then at least one feature")
    values = frame.apply(pd.to_numeric, errors="coerce")
    bad_rows = values.isna().any(axis=1)
    if bad_rows.any():
        first = int(np.flatnonzero(bad_rows.to_numpy())[0]) + 1
        raise ValueError(f"{path} line {first}: non-numeric or missing value ({int(bad_rows.sum())} bad row(s))")
    array = values.to_numpy(dtype=float)
    return array[:, 1:], array[:, 0].astype(int)
