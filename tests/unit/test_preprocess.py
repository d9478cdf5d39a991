from pathlib import Path

import pandas as pd
import preprocess
import pytest


def test_cleans_and_splits_the_raw_fixture(tmp_path: Path, fixtures_dir: Path) -> None:
    counts = preprocess.main(
        [
            "--input-dir",
            str(fixtures_dir / "data" / "raw"),
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert counts == 0
    parts = {
        name: pd.read_csv(tmp_path / name / f"{name}_data.csv", header=None) for name in ("train", "validation", "test")
    }
    raw = pd.read_csv(fixtures_dir / "data" / "raw" / "breast_cancer.csv")
    total = sum(len(p) for p in parts.values())
    # 6 rows with a missing or non-numeric value and 5 duplicates are dropped
    assert total == len(raw) - 11
    for part in parts.values():
        assert part.shape[1] == 31  # label first, then 30 features
        assert set(part[0].unique()) == {0, 1}
        assert not part.isna().any().any()
    assert len(parts["train"]) / total == pytest.approx(0.70, abs=0.01)
    # stratified: each split keeps the class balance
    balance = parts["train"][0].mean()
    assert parts["test"][0].mean() == pytest.approx(balance, abs=0.03)


def test_missing_label_column_is_named(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(tmp_path / "in" / "x.csv", index=False)
    with pytest.raises(ValueError, match="label column 'target'"):
        preprocess.run(tmp_path / "in", tmp_path / "out", "target", 0.15, 0.15, 1)


def test_empty_input_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no \.csv file"):
        preprocess.run(tmp_path, tmp_path / "out", "target", 0.15, 0.15, 1)
