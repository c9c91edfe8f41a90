"""Writes assets/examples/monthly_sales.csv: SYNTHETIC monthly sales (not real data), made deterministically.

Ten years (120 months) of a linear trend, a yearly season and seeded noise, plus an `advertising` column and
two missing sales months, so the Time-series forecast tab's example shows gap filling. Run:
`python assets/make_examples.py`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "examples" / "monthly_sales.csv"


def monthly_sales(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    season = 25 * np.sin(2 * np.pi * t / 12) + 10 * np.cos(4 * np.pi * t / 12)
    sales = 200 + 1.5 * t + season + rng.normal(0, 6, rows)
    advertising = 40 + 0.2 * t + rng.normal(0, 3, rows)
    sales[[37, 83]] = np.nan
    return pd.DataFrame(
        {
            "month": pd.date_range("2015-01-01", periods=rows, freq="MS").strftime("%Y-%m-%d"),
            "sales": sales.round(1),
            "advertising": advertising.round(1),
        }
    )


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    monthly_sales().to_csv(OUT, index=False)
    print(f"wrote {OUT}")
