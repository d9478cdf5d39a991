"""Write data/houses.csv: synthetic house prices, the same rows on every run.

Run from the project folder: `python data/make_houses.py` (standard library only).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROWS = 300
SEED = 20240611
OUTPUT = Path(__file__).resolve().parent / "houses.csv"


def make_rows(rows: int = ROWS, seed: int = SEED) -> list[dict[str, float | int]]:
    rng = random.Random(seed)
    houses: list[dict[str, float | int]] = []
    for _ in range(rows):
        bedrooms = rng.randint(1, 5)
        sqft = max(350, round(rng.gauss(450 + 380 * bedrooms, 180)))
        age_years = rng.randint(0, 80)
        distance_km = round(rng.uniform(0.5, 35.0), 1)
        price = 60_000 + 165 * sqft + 12_000 * bedrooms - 900 * age_years - 3_200 * distance_km + rng.gauss(0, 18_000)
        houses.append(
            {
                "sqft": sqft,
                "bedrooms": bedrooms,
                "age_years": age_years,
                "distance_km": distance_km,
                "price": int(round(max(price, 40_000), -2)),
            }
        )
    return houses


def main() -> None:
    houses = make_rows()
    with OUTPUT.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(houses[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(houses)
    print(f"wrote {len(houses)} rows to {OUTPUT}")


if __name__ == "__main__":
    main()
