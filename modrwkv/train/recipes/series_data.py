"""The real time series that pip packages ship (statsmodels' datasets, sktime's bundled CSVs), read offline.

Each is univariate, in its own units, with its sampling frequency's season and where it comes from; a table with
several columns (macrodata, Uschange) gives one series per column. sktime's PBS_dataset is left out: intermittent
counts whose last year repeats the one before exactly, so no error can be measured relative to seasonal naive.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

STATSMODELS = "statsmodels 0.15.0 (BSD-3-Clause)"
SKTIME = "sktime 1.2.0 (BSD-3-Clause)"
MACRODATA = ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop", "infl",
             "realint")
USCHANGE = ("Consumption", "Income", "Production", "Savings", "Unemployment")


@dataclass(frozen=True)
class Series:
    name: str
    times: tuple[str, ...]  # one label per point: a date, or a year
    values: np.ndarray  # [T] float64, no gaps
    frequency: str  # "monthly", "quarterly", "yearly"
    season: int  # the seasonal-naive period: 12 monthly, 4 quarterly, 1 yearly (naive)
    package: str  # the pip package the data ships in, and its licence
    origin: str  # the data's own source and terms, as the package documents them


SEASONS = {"monthly": 12, "quarterly": 4, "yearly": 1}


def load_all() -> list[Series]:
    """Every series, statsmodels' first; the order is fixed (it names the CSVs and the rows of the results)."""
    return _statsmodels() + _sktime()


def _series(name: str, times: pd.Index | list, values: pd.Series | np.ndarray, frequency: str, package: str,
            origin: str) -> Series:
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: has gaps; fill them before use")
    labels = tuple(t.strftime("%Y-%m-%d") if isinstance(t, pd.Timestamp) else str(t) for t in times)
    return Series(name, labels, values, frequency, SEASONS[frequency], package, origin)


def _statsmodels() -> list[Series]:
    from statsmodels.datasets import co2, elec_equip, elnino, macrodata, nile, sunspots

    # co2 is weekly with gaps: monthly means (as statsmodels' own examples use it), the missing months interpolated
    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()
    spots = sunspots.load_pandas().data
    equip = elec_equip.load_pandas().data.iloc[:, 0]
    flow = nile.load_pandas().data
    sst = elnino.load_pandas().data
    sst_monthly = sst.drop(columns="YEAR").to_numpy().reshape(-1)  # rows are years, columns months
    sst_times = [f"{int(y)}-{m:02d}" for y in sst["YEAR"] for m in range(1, 13)]
    macro = macrodata.load_pandas().data
    quarters = [f"{int(y)}Q{int(q)}" for y, q in zip(macro["year"], macro["quarter"])]
    public = "public domain"
    return [
        _series("co2", monthly.index, monthly, "monthly", STATSMODELS,
                f"Mauna Loa CO2 (Keeling & Whorf, SIO/CDIAC), weekly 1958-2001 averaged to months; {public}"),
        _series("sunspots", spots["YEAR"].astype(int), spots["SUNACTIVITY"], "yearly", STATSMODELS,
                f"yearly sunspot numbers 1700-2008 (NOAA NGDC); {public}"),
        _series("elec_equip", equip.index, equip, "monthly", STATSMODELS,
                f"euro-area electrical equipment orders index 1995-2016 (Eurostat); {public}"),
        _series("nile", flow["year"].astype(int), flow["volume"], "yearly", STATSMODELS,
                f"yearly Nile flow at Aswan 1871-1970 (Cobb 1978); {public}"),
        _series("elnino", sst_times, sst_monthly, "monthly", STATSMODELS,
                f"Nino 1+2 sea surface temperature 1950-2010 (NOAA ERSST.V3B); {public}"),
    ] + [
        _series(f"macrodata_{column}", quarters, macro[column], "quarterly", STATSMODELS,
                f"US macroeconomic series 1959-2009 (FRED, BLS), compiled by statsmodels; {public}")
        for column in MACRODATA
    ]


def _sktime() -> list[Series]:
    # sktime itself is installed without its dependencies, so it cannot be imported: its bundled CSVs are read as is
    folder = Path(importlib.util.find_spec("sktime").submodule_search_locations[0]) / "datasets" / "data"
    airline = pd.read_csv(folder / "Airline" / "Airline.csv")
    lynx = pd.read_csv(folder / "Lynx" / "Lynx.csv")
    belts = pd.read_csv(folder / "seatbelts" / "seatbelts.csv")
    change = pd.read_csv(folder / "Uschange" / "Uschange.csv")
    fpp = "data of Hyndman & Athanasopoulos, Forecasting: Principles and Practice (R packages fpp2/fpp3, GPL-3)"
    return [
        _series("airline", airline["Date"], airline["Passengers"], "monthly", SKTIME,
                "international airline passengers 1949-1960, Box & Jenkins Series G; a textbook series, no "
                "licence stated"),
        _series("lynx", lynx.iloc[:, 0], lynx.iloc[:, 1], "yearly", SKTIME,
                "Canadian lynx trappings 1821-1934 (Campbell & Walker 1977; R's datasets package, GPL)"),
        _series("seatbelts_ksi", belts.iloc[:, 0], belts["KSI"], "monthly", SKTIME,
                "UK drivers killed or seriously injured 1969-1984 (Harvey & Durbin 1986; R's datasets package, GPL)"),
    ] + [
        _series(f"uschange_{column.lower()}", change["Quarter"], change[column], "quarterly", SKTIME,
                f"US quarterly percentage changes 1970-2016; {fpp}")
        for column in USCHANGE
    ]
