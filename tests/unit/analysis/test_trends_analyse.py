"""From a tidy signals frame to every table: values, counts, tests, gaps, time, the HTML report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fashionlens.analysis.trends import stats
from fashionlens.analysis.trends.analyse import TrendConfig, analyse
from fashionlens.analysis.trends.report import render_html, report_tables, write_report
from fashionlens.analysis.trends.signals import class_column, counts_by, signal_values
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import modanet_categories


def _unit(i: int, source: str, category: str, garments: str = "", top_colour: str = "", **extra) -> dict:
    row = {
        "unit_id": f"{source}-{i}",
        "image_id": f"{source}-{i}",
        "source": source,
        "dataset": source,
        "season": extra.get("season", ""),
        "year": extra.get("year", ""),
        "designer": "",
        "article_type": extra.get("article_type", ""),
        "category": category,
        "category_from": "garments" if source != "product" else "label",
        "garments": garments,
        "silhouette": "dress"
        if category == "dress"
        else "top+bottom"
        if category == "top+bottom"
        else "other",
    }
    for c in modanet_categories():
        row[class_column("colour", c)] = top_colour if c == "top" else ""
    return row


@pytest.fixture
def signals() -> pd.DataFrame:
    rows = [_unit(i, "runway", "dress", "dress", "") for i in range(2)]
    street = ["outerwear"] * 30 + ["top+bottom"] * 20 + ["dress"] * 10
    rows += [
        _unit(
            i,
            "street",
            c,
            "outer|top|pants" if c == "outerwear" else "top|pants",
            "black" if i % 2 else "blue",
        )
        for i, c in enumerate(street)
    ]
    years = [2010] * 20 + [2011] * 20 + [2012] * 20 + [2013] * 20
    rows += [
        _unit(
            i,
            "product",
            "top+bottom" if i % 4 else "dress",
            "top",
            "red",
            year=str(y),
            article_type="Tshirts",
        )
        for i, y in enumerate(years)
    ]
    return pd.DataFrame(rows)


def test_signal_values_and_counts(signals: pd.DataFrame) -> None:
    values, multi = signal_values(signals, "category")
    assert not multi and len(values) == len(signals)
    counts, totals = counts_by(values, "source")
    assert counts.loc["runway", "dress"] == 2 and totals["street"] == 60
    garments, multi = signal_values(signals, "garment")
    assert multi
    g_counts, g_totals = counts_by(garments, "source")
    assert g_counts.loc["street", "top"] == 60 and g_counts.loc["street", "outer"] == 30
    assert g_totals["street"] == 60  # units, not garments
    colours, _ = signal_values(signals, "colour", garment="top")
    assert set(colours["value"]) == {"black", "blue", "red"}
    assert len(signal_values(signals, "articleType")[0]) == 80
    with pytest.raises(InvalidInputError, match="signal"):
        signal_values(signals, "mood")
    with pytest.raises(InvalidInputError, match="garment"):
        signal_values(signals, "colour", garment="jacket")
    with pytest.raises(InvalidInputError, match="by must be"):
        counts_by(values, "weather")


def test_analyse_category_by_source(signals: pd.DataFrame) -> None:
    t = analyse(signals, TrendConfig())
    assert t.chi_square is not None and t.chi_square.rows == ("product", "runway", "street")
    ref = stats.chi_square_independence(t.counts)
    assert t.chi_square.statistic == pytest.approx(ref.statistic)
    runway_street = t.gaps[(t.gaps["proposed"] == "runway") & (t.gaps["adopted"] == "street")]
    assert not runway_street.empty
    assert runway_street["verdict"].str.startswith("not significant").all()
    assert any("'runway' has only 2 units" in n for n in t.notes)
    product_street = t.gaps[(t.gaps["proposed"] == "product") & (t.gaps["adopted"] == "street")]
    assert "higher in street" in set(
        product_street.set_index("category").loc[["outerwear"], "verdict"].str[:16]
    )
    # product years: 4 periods of 20 -> last one held out; every method scored
    assert set(t.forecast.scores["method"]) >= {"last value", "mean", "exponential smoothing", "linear trend"}
    assert (t.forecast.scores["held_out_period"] == "2013").all()


def test_analyse_multi_valued_and_thin_data(signals: pd.DataFrame) -> None:
    t = analyse(signals, TrendConfig(signal="garment"))
    assert t.multi and t.chi_square is None
    assert any("multi-valued" in n for n in t.notes)
    street = t.shares[t.shares["group"] == "street"].set_index("category")
    assert street.loc["top", "share"] == 1.0 and street.loc["outer", "share"] == 0.5
    one = analyse(signals[signals["source"] == "street"], TrendConfig())
    assert one.chi_square is None and one.pairwise.empty
    assert any("2 source groups" in n for n in one.notes)
    with pytest.raises(InvalidInputError, match="correction"):
        TrendConfig(correction="bonferroni")


def test_report_is_self_contained(signals: pd.DataFrame, tmp_path: Path) -> None:
    t = analyse(signals, TrendConfig())
    report = write_report(t, tmp_path / "out")
    text = report.html_path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in text and "<script>" in text
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", text)  # nothing fetched from a network
    assert "not significant" in text
    assert {"shares", "colours", "residuals", "over_time"} <= set(report.plots)
    for path in report.plots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shares = pd.read_csv(report.tables["shares"])
    assert set(shares["group"]) == {"product", "runway", "street"}
    assert (tmp_path / "out" / "signals.parquet").is_file()
    assert set(report_tables(t)) >= {"pairwise", "adoption_gap", "forecast_scores", "chi_square"}
    assert render_html(t, {}, {}).startswith("<!doctype html>")


def test_reports_and_heatmaps_never_import_pyplot(signals: pd.DataFrame, tmp_path: Path) -> None:
    """pyplot keeps global state (a backend, open figures): a server drawing plots must not touch it."""
    signals.to_parquet(tmp_path / "signals.parquet")
    code = f"""
import sys
import numpy as np
import pandas as pd
from fashionlens.render.heatmap import distance_heatmap
from fashionlens.analysis.trends.analyse import TrendConfig, analyse
from fashionlens.analysis.trends.report import write_report
signals = pd.read_parquet({str(tmp_path / "signals.parquet")!r})
write_report(analyse(signals, TrendConfig()), {str(tmp_path / "out")!r})
distance_heatmap(np.eye(3, dtype="float32") + 0.1, ["a", "b", "c"], {str(tmp_path / "h.png")!r})
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "out" / "report.html").is_file()
