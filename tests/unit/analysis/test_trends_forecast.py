"""Shares over time and the held-out forecast, on series whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fashionlens.analysis.trends import forecast as fc
from fashionlens.core.errors import InvalidInputError


def test_naive_forecasts_by_hand() -> None:
    h = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert fc.forecast_last(h) == 0.5
    assert fc.forecast_mean(h) == pytest.approx(0.3)
    assert fc.forecast_seasonal_naive(h, 4) == 0.2  # four periods back from the forecast period
    assert math.isnan(fc.forecast_seasonal_naive(h[:3], 4))
    assert math.isnan(fc.forecast_seasonal_naive(h, 1))
    assert fc.forecast_linear(h) == pytest.approx(0.6)
    assert fc.forecast_linear(np.array([0.8, 0.9, 1.0])) == 1.0  # clipped to a share
    assert fc.forecast_linear(np.array([0.4])) == 0.4


def test_exponential_smoothing_by_hand() -> None:
    # level 1 -> 0.5 * 2 + 0.5 * 1 = 1.5 -> 0.5 * 3 + 0.5 * 1.5 = 2.25
    assert fc.ses(np.array([1.0, 2.0, 3.0]), 0.5) == pytest.approx(2.25)
    # a constant series: every alpha fits exactly; the smallest wins and the forecast is the constant
    alpha, nxt = fc.ses_fit(np.array([0.3, 0.3, 0.3]))
    assert alpha == pytest.approx(0.05) and nxt == pytest.approx(0.3)
    # a steadily rising series is tracked best by the largest alpha tried
    alpha, nxt = fc.ses_fit(np.array([0.1, 0.2, 0.3, 0.4]), alphas=(0.2, 0.5, 0.9))
    assert alpha == 0.9
    assert nxt == pytest.approx(fc.ses(np.array([0.1, 0.2, 0.3, 0.4]), 0.9))
    with pytest.raises(InvalidInputError):
        fc.ses(np.array([1.0]), 0.0)


def test_mae_and_mape_by_hand() -> None:
    actual, pred = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.4, 0.3, 0.3, 0.1])
    assert fc.mae(actual, pred) == pytest.approx((0.1 + 0 + 0.1 + 0.1) / 4)
    # over the three actual shares above 0: 20%, 0%, 50%
    assert fc.mape(actual, pred) == pytest.approx((20 + 0 + 50) / 3)
    assert math.isnan(fc.mape(np.zeros(2), np.ones(2)))


def _units(shares_by_year: dict[int, dict[str, int]], source: str = "product") -> pd.DataFrame:
    rows = [
        {"unit_id": f"{year}-{cat}-{i}", "year": str(year), "value": cat, "source": source}
        for year, counts in shares_by_year.items()
        for cat, k in counts.items()
        for i in range(k)
    ]
    return pd.DataFrame(rows)


def test_share_over_time_orders_periods_and_drops_thin_ones() -> None:
    units = _units({2012: {"dress": 6, "other": 4}, 2010: {"dress": 2, "other": 8}, 2011: {"dress": 1}})
    over = fc.share_over_time(units, value="value", group="source", min_period_n=5)
    assert list(dict.fromkeys(over["period"])) == ["2010", "2012"]  # 2011 has 1 unit
    dress = over[over["category"] == "dress"].set_index("period")
    assert dress.loc["2010", "share"] == 0.2 and dress.loc["2012", "share"] == 0.6
    assert dress.loc["2012", "period_order"] == 1 and dress.loc["2012", "n"] == 10
    with pytest.raises(InvalidInputError, match="columns"):
        fc.share_over_time(units.drop(columns="year"), value="value")


def test_seasonal_periods() -> None:
    assert fc.period_key("2011", "Fall") == (2011, 2)
    assert fc.period_key("2011.0") == (2011, 0)
    assert fc.period_key("", "Fall") is None and fc.period_key("2011", "Monsoon") is None
    assert fc.period_label((2011, 3), seasonal=True) == "2011-Winter"


def test_holdout_forecast_scores_every_method_on_the_last_period() -> None:
    # dress share 0.1, 0.2, 0.3 then held-out 0.4: the linear trend is exact, last value is 0.1 off
    years = {2010 + i: {"dress": d, "other": 10 - d} for i, d in enumerate((1, 2, 3, 4))}
    over = fc.share_over_time(_units(years), value="value", group="source", min_period_n=5)
    result = fc.holdout_forecast(over)
    scores = result.scores.set_index("method")
    assert set(scores.index) == {"linear trend", "last value", "mean", "exponential smoothing"}
    assert scores.loc["linear trend", "mae"] == pytest.approx(0.0, abs=1e-12)
    assert scores.loc["last value", "mae"] == pytest.approx(0.1)
    assert scores.loc["mean", "mae"] == pytest.approx(0.2)  # mean 0.2 vs 0.4 (and 0.8 vs 0.6)
    assert scores.loc["last value", "mape"] == pytest.approx((25 + 100 * 0.1 / 0.6) / 2)
    assert scores.loc["linear trend", "best"] and not scores.loc["mean", "best"]
    f = result.forecasts.set_index(["method", "category"])
    assert f.loc[("last value", "dress"), "forecast"] == pytest.approx(0.3)
    assert f.loc[("last value", "dress"), "held_out_period"] == "2013"


def test_holdout_forecast_needs_history() -> None:
    over = fc.share_over_time(_units({2010: {"dress": 5}, 2011: {"dress": 5}}), value="value", min_period_n=5)
    assert fc.holdout_forecast(over).scores.empty
    assert fc.holdout_forecast(pd.DataFrame()).forecasts.empty
