"""Shares over time and a held-out forecast of the last period against naive baselines.

The protocol of GeoStyle (Mall et al., ICCV 2019) and of Al-Halah, Stiefelhagen and Grauman
("Fashion forward", ICCV 2017): each category's share is a time series over the ordered periods;
the last period is held out; every method forecasts it from the earlier ones; errors are averaged
over the categories (MAE in share points, MAPE in percent over the categories whose actual share
is above 0).

Methods: ``linear trend`` (least squares line over the history, clipped to [0, 1], the forecast
proper) against the baselines ``last value``, ``mean``, ``seasonal naive`` (the value one season
earlier; only with ``season_length > 1`` and enough history) and ``exponential smoothing`` (simple
exponential smoothing, its alpha chosen by one-step-ahead squared error on the history).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fashionlens.analysis.trends.stats import wilson_interval
from fashionlens.core.errors import InvalidInputError

SEASON_ORDER = {"spring": 0, "summer": 1, "fall": 2, "autumn": 2, "winter": 3}
METHODS = ("linear trend", "last value", "mean", "seasonal naive", "exponential smoothing")


def period_key(year: object, season: object = None) -> tuple[int, int] | None:
    """A sortable ``(year, season index)``; None when the year is missing or not a number."""
    try:
        y = int(float(str(year)))
    except (TypeError, ValueError):
        return None
    if season is None:
        return (y, 0)
    s = SEASON_ORDER.get(str(season).strip().lower())
    return None if s is None else (y, s)


def period_label(key: tuple[int, int], seasonal: bool) -> str:
    if not seasonal:
        return str(key[0])
    names = ("Spring", "Summer", "Fall", "Winter")
    return f"{key[0]}-{names[key[1]]}"


def share_over_time(
    frame: pd.DataFrame,
    *,
    value: str,
    group: str | None = None,
    seasonal: bool = False,
    min_period_n: int = 10,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Long table ``group, period, period_order, category, count, n, share, ci_low, ci_high``.

    ``frame`` has one row per unit with ``year`` (and ``season`` when ``seasonal``) and the
    ``value`` column (the category). Periods with fewer than ``min_period_n`` units are left out
    (a share of 1 product is noise), as are units without a period.
    """
    needed = ["year", value] + (["season"] if seasonal else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"share over time needs columns {needed}; missing {missing}")
    work = frame.copy()
    work["_period"] = [
        period_key(y, s if seasonal else None)
        for y, s in zip(work["year"], work["season"] if seasonal else [None] * len(work), strict=True)
    ]
    work = work[work["_period"].notna() & work[value].notna() & (work[value].astype(str) != "")]
    work["_group"] = work[group].astype(str) if group else "all"
    rows = []
    for g, part in work.groupby("_group", sort=True):
        counts = part.groupby(["_period", value]).size().unstack(fill_value=0)
        kept = sorted(
            ((p, r) for p, r in counts.iterrows() if int(r.sum()) >= min_period_n), key=lambda kv: kv[0]
        )
        for order, (period, row) in enumerate(kept):
            n = int(row.sum())
            for category, k in row.items():
                low, high = wilson_interval(int(k), n, confidence)
                rows.append(
                    {
                        "group": g,
                        "period": period_label(period, seasonal),
                        "period_key": period,
                        "period_order": order,
                        "category": str(category),
                        "count": int(k),
                        "n": n,
                        "share": int(k) / n,
                        "ci_low": low,
                        "ci_high": high,
                    }
                )
    return pd.DataFrame(rows).drop(columns="period_key", errors="ignore")


# -- forecasters: history (1-D array of shares, oldest first) -> forecast of the next value ------
def forecast_last(history: np.ndarray) -> float:
    return float(history[-1])


def forecast_mean(history: np.ndarray) -> float:
    return float(np.mean(history))


def forecast_seasonal_naive(history: np.ndarray, season_length: int) -> float:
    """The value one season before the forecast period; nan without a full season of history."""
    if season_length < 2 or len(history) < season_length:
        return float("nan")
    return float(history[-season_length])


def ses_fit(
    history: np.ndarray, alphas: Sequence[float] = tuple(np.linspace(0.05, 0.95, 19))
) -> tuple[float, float]:
    """Simple exponential smoothing: ``(alpha, next value)``; alpha minimises the one-step-ahead
    squared error over the history (level starts at the first value; ties go to the smaller alpha)."""
    history = np.asarray(history, dtype=float)
    if len(history) == 0:
        raise InvalidInputError("exponential smoothing needs at least one value")
    if len(alphas) == 0:
        raise InvalidInputError("exponential smoothing needs at least one alpha to try")
    best = (float("inf"), float(alphas[0]), float(history[-1]))
    for alpha in alphas:
        level, sse = float(history[0]), 0.0
        for x in history[1:]:
            sse += (float(x) - level) ** 2
            level = alpha * float(x) + (1 - alpha) * level
        if sse < best[0] - 1e-15:
            best = (sse, float(alpha), level)
    return best[1], best[2]


def ses(history: np.ndarray, alpha: float) -> float:
    """The next value of simple exponential smoothing with a fixed ``alpha``."""
    if not 0.0 < alpha <= 1.0:
        raise InvalidInputError(f"alpha must be in (0, 1]; got {alpha}")
    level = float(history[0])
    for x in history[1:]:
        level = alpha * float(x) + (1 - alpha) * level
    return level


def forecast_linear(history: np.ndarray) -> float:
    """Least-squares line through ``(0..T-1, history)`` evaluated at ``T``, clipped to [0, 1]."""
    history = np.asarray(history, dtype=float)
    if len(history) < 2:
        return float(history[-1])
    t = np.arange(len(history), dtype=float)
    slope, intercept = np.polyfit(t, history, 1)
    return float(np.clip(intercept + slope * len(history), 0.0, 1.0))


def forecasters(season_length: int) -> dict[str, Callable[[np.ndarray], float]]:
    return {
        "linear trend": forecast_linear,
        "last value": forecast_last,
        "mean": forecast_mean,
        "seasonal naive": lambda h: forecast_seasonal_naive(h, season_length),
        "exponential smoothing": lambda h: ses_fit(h)[1],
    }


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.mean(np.abs(actual - predicted))) if len(actual) else float("nan")


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error (percent) over the entries whose actual value is above 0."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    keep = actual > 0
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(actual[keep] - predicted[keep]) / actual[keep]))


@dataclass(frozen=True)
class ForecastResult:
    """``forecasts``: group, category, held_out_period, method, forecast, actual, abs_error;
    ``scores``: group, method, mae, mape, n_categories, n_mape, n_history, best (lowest MAE)."""

    forecasts: pd.DataFrame
    scores: pd.DataFrame


def holdout_forecast(
    over_time: pd.DataFrame, *, season_length: int = 1, min_history: int = 2
) -> ForecastResult:
    """Hold out each group's last period; forecast every category's share with every method."""
    empty = ForecastResult(pd.DataFrame(), pd.DataFrame())
    if over_time.empty:
        return empty
    methods = forecasters(season_length)
    f_rows, s_rows = [], []
    for group, part in over_time.groupby("group", sort=True):
        wide = part.pivot_table(index="period_order", columns="category", values="share", fill_value=0.0)
        wide = wide.sort_index()
        labels = part.drop_duplicates("period_order").set_index("period_order")["period"]
        if len(wide) < min_history + 1:
            continue
        history, actual = wide.iloc[:-1], wide.iloc[-1]
        held = str(labels.loc[wide.index[-1]])
        for method, fn in methods.items():
            predicted = {c: fn(history[c].to_numpy()) for c in wide.columns}
            if all(np.isnan(v) for v in predicted.values()):
                continue
            for c, v in predicted.items():
                f_rows.append(
                    {
                        "group": group,
                        "category": c,
                        "held_out_period": held,
                        "method": method,
                        "forecast": v,
                        "actual": float(actual[c]),
                        "abs_error": abs(v - float(actual[c])),
                    }
                )
            a = actual.to_numpy(dtype=float)
            p = np.asarray([predicted[c] for c in wide.columns], dtype=float)
            s_rows.append(
                {
                    "group": group,
                    "method": method,
                    "held_out_period": held,
                    "mae": mae(a, p),
                    "mape": mape(a, p),
                    "n_categories": len(a),
                    "n_mape": int((a > 0).sum()),
                    "n_history": len(history),
                }
            )
    scores = pd.DataFrame(s_rows)
    if scores.empty:
        return empty
    scores["best"] = scores.groupby("group")["mae"].transform("min") == scores["mae"]
    return ForecastResult(pd.DataFrame(f_rows), scores)
