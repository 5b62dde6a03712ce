"""Runway vs street vs catalogue: signals from the store, statistics, forecasts, plots and a report.

`read_signals` (signals.py) turns the store into one row per person or image; `analyse`
(analyse.py) computes shares with Wilson intervals, a chi-square test with Cramér's V and
standardised residuals, corrected pairwise tests, adoption gaps and held-out forecasts
(stats.py, forecast.py); `write_report` (report.py) writes CSV/Parquet tables, PNGs
(`fashionlens.render.trends`) and an offline HTML page.
"""
