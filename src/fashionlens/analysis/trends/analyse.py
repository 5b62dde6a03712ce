"""Every table of a trends report from the signals: shares, tests, adoption gaps, time, forecast."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from fashionlens.analysis.trends import forecast, stats
from fashionlens.analysis.trends.signals import GROUP_KEYS, SIGNALS, counts_by, coverage, signal_values
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import modanet_categories

logger = logging.getLogger(__name__)

GAP_PAIRS = (("runway", "street"), ("runway", "product"), ("product", "street"), ("runway", "wardrobe"))
"""(proposed, adopted) source pairs for the adoption-gap tables, when both are in the data."""


@dataclass(frozen=True)
class TrendConfig:
    """What to compare: ``signal`` per ``by`` group; ``garment`` picks the class whose colour the
    ``colour`` signal reads (or ``any``). ``correction``: holm | bh | none, over each table's tests.
    ``seasonal``: periods are year + season (seasonal naive then looks 4 periods back)."""

    by: str = "source"
    signal: str = "category"
    garment: str = "top"
    correction: str = "holm"
    alpha: float = 0.05
    confidence: float = 0.95
    min_period_n: int = 10
    seasonal: bool = False
    gap_pairs: tuple[tuple[str, str], ...] = GAP_PAIRS

    def __post_init__(self) -> None:
        if self.by not in GROUP_KEYS:
            raise InvalidInputError(f"by must be one of {', '.join(GROUP_KEYS)}; got {self.by!r}")
        if self.signal not in SIGNALS:
            raise InvalidInputError(f"signal must be one of {', '.join(SIGNALS)}; got {self.signal!r}")
        if self.garment != "any" and self.garment not in modanet_categories():
            raise InvalidInputError(
                f"garment must be 'any' or one of {', '.join(modanet_categories())}; got {self.garment!r}"
            )
        if self.correction not in stats.CORRECTIONS:
            raise InvalidInputError(
                f"correction must be one of {', '.join(stats.CORRECTIONS)}; got {self.correction!r}"
            )
        if not 0.0 < self.alpha < 1.0:
            raise InvalidInputError(f"alpha must be in (0, 1); got {self.alpha}")
        if self.min_period_n < 1:
            raise InvalidInputError(f"min_period_n must be >= 1; got {self.min_period_n}")


@dataclass
class TrendTables:
    config: TrendConfig
    signals: pd.DataFrame
    counts: pd.DataFrame
    totals: pd.Series
    multi: bool
    shares: pd.DataFrame
    chi_square: stats.ChiSquareResult | None
    pairwise: pd.DataFrame
    gaps: pd.DataFrame
    over_time: pd.DataFrame
    forecast: forecast.ForecastResult
    coverage: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def signal_label(self) -> str:
        c = self.config
        return f"{c.garment} colour" if c.signal == "colour" else c.signal

    def chi_square_frame(self) -> pd.DataFrame:
        r = self.chi_square
        if r is None:
            return pd.DataFrame()
        return pd.DataFrame(
            [
                {
                    "statistic": r.statistic,
                    "dof": r.dof,
                    "p_value": r.p_value,
                    "cramers_v": r.cramers_v,
                    "n": r.n,
                    "method": r.method,
                    "small_expected_share": r.small_expected_share,
                    "groups": "|".join(r.rows),
                    "categories": "|".join(r.columns),
                }
            ]
        )


def analyse(signals: pd.DataFrame, config: TrendConfig | None = None) -> TrendTables:
    """All tables for one ``signal`` x ``by``. Never raises for thin data: a test that cannot run
    (one group, one category) is left out and a note says why."""
    config = config or TrendConfig()
    notes: list[str] = []
    values, multi = signal_values(signals, config.signal, garment=config.garment)
    counts, totals = (
        counts_by(values, config.by) if not values.empty else (pd.DataFrame(), pd.Series(dtype=int))
    )
    if counts.empty:
        hint = {
            "designer": " (a catalogue attribute 'designer' or 'brand' in the labels; none is stored)",
            "season": " (a catalogue attribute 'season', as products carry)",
            "year": " (a catalogue attribute 'year', as products carry)",
        }.get(config.by, "")
        notes.append(f"no unit has both a {config.signal} and a {config.by}{hint}: nothing to compare")
    shares = stats.share_table(counts, config.confidence, totals) if not counts.empty else pd.DataFrame()
    for group, n in totals.items():
        if n < stats.SMALL_GROUP:
            notes.append(
                f"{config.by} {group!r} has only {n} unit{'s' if n != 1 else ''}: its intervals are wide and "
                "a difference from it is reported as significant only if the corrected test says so"
            )
    chi = None
    if multi:
        notes.append(
            f"{config.signal} is multi-valued (a person wears several garment classes): shares are of units "
            "wearing each value and do not sum to 1; no chi-square test (its cells would not be independent)"
        )
    elif counts.shape[0] >= 2 and counts.shape[1] >= 2:
        try:
            chi = stats.chi_square_independence(counts)
        except InvalidInputError as exc:
            notes.append(f"no chi-square test: {exc}")
        else:
            if chi.method == "permutation":
                notes.append(
                    f"{chi.small_expected_share:.0%} of expected counts are under 5: the chi-square "
                    "p-value is a permutation p-value, not the asymptotic one"
                )
    else:
        notes.append(f"a test of independence needs 2 {config.by} groups and 2 values; got {counts.shape}")
    pairwise = (
        stats.pairwise_tests(
            counts,
            correction=config.correction,
            alpha=config.alpha,
            confidence=config.confidence,
            totals=totals,
        )
        if counts.shape[0] >= 2
        else pd.DataFrame()
    )
    gaps = _gaps(counts, totals, config) if config.by == "source" else pd.DataFrame()
    if config.by == "source" and gaps.empty:
        notes.append(f"no adoption-gap table: it needs two of the source pairs {list(config.gap_pairs)}")
    over_time, fc = _time(values, multi, config, notes)
    return TrendTables(
        config,
        signals,
        counts,
        totals,
        multi,
        shares,
        chi,
        pairwise,
        gaps,
        over_time,
        fc,
        coverage(signals, config.by),
        notes,
    )


def _gaps(counts: pd.DataFrame, totals: pd.Series, config: TrendConfig) -> pd.DataFrame:
    parts = [
        stats.adoption_gap(
            counts,
            proposed,
            adopted,
            correction=config.correction,
            alpha=config.alpha,
            confidence=config.confidence,
            totals=totals,
        )
        for proposed, adopted in config.gap_pairs
        if proposed in counts.index and adopted in counts.index
    ]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _time(
    values: pd.DataFrame, multi: bool, config: TrendConfig, notes: list[str]
) -> tuple[pd.DataFrame, forecast.ForecastResult]:
    empty = forecast.ForecastResult(pd.DataFrame(), pd.DataFrame())
    if values.empty or "year" not in values.columns or not (values["year"].fillna("") != "").any():
        notes.append("no time axis: no unit carries a catalogue year (nothing over time, no forecast)")
        return pd.DataFrame(), empty
    if multi:
        notes.append("share over time is drawn for single-valued signals only")
        return pd.DataFrame(), empty
    over = forecast.share_over_time(
        values, value="value", group="source", seasonal=config.seasonal, min_period_n=config.min_period_n
    )
    if over.empty:
        notes.append(f"no period with at least {config.min_period_n} units: nothing over time")
        return over, empty
    fc = forecast.holdout_forecast(over, season_length=4 if config.seasonal else 1)
    if fc.scores.empty:
        notes.append("fewer than 3 periods with enough units: no held-out forecast")
    return over, fc
