"""Split the wine data into train and test sets (label first, as the training script reads it)."""

import os

import pandas as pd
from sklearn.model_selection import train_test_split

BASE = "/opt/ml/processing"

if __name__ == "__main__":
    frame = pd.read_csv(f"{BASE}/input/wine.csv")
    frame = frame[["cultivar", *[c for c in frame.columns if c != "cultivar"]]]
    train, test = train_test_split(frame, test_size=0.3, random_state=7, stratify=frame["cultivar"])
    for name, part in (("train", train), ("test", test)):
        os.makedirs(f"{BASE}/{name}", exist_ok=True)
        part.to_csv(f"{BASE}/{name}/{name}.csv", index=False)
    print(f"prepared {len(train)} training and {len(test)} test rows")
