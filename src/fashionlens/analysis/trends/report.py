"""Write a trends report: every table as CSV (the signals also as Parquet), PNG plots, and one
self-contained HTML page (inline CSS and JS, plots inline as base64 PNG; no CDN, works offline).
"""

from __future__ import annotations

import base64
import html
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fashionlens.analysis.trends.analyse import TrendConfig, TrendTables, analyse
from fashionlens.analysis.trends.signals import SignalOptions, read_signals
from fashionlens.core.errors import NotReadyError

logger = logging.getLogger(__name__)


@dataclass
class TrendReport:
    out_dir: Path
    html_path: Path
    tables: dict[str, Path] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)


def render_plots(t: TrendTables) -> dict[str, bytes]:
    """Every plot of the report as PNG bytes by name (shares or colours, over_time, residuals)."""
    from fashionlens.render import trends as render

    out: dict[str, bytes] = {}
    label = t.signal_label
    if not t.shares.empty:
        title = f"{label} by {t.config.by}"
        if t.config.signal == "colour":
            out["colours"] = render.colour_bars(t.shares, title=title)
        else:
            out["shares"] = render.share_bars(t.shares, title=title, stacked=not t.multi)
    if t.config.signal != "colour":
        colour_shares = _top_colour_shares(t)
        if colour_shares is not None:
            out["colours"] = render.colour_bars(
                colour_shares, title=f"{t.config.garment} colour by {t.config.by}"
            )
    if not t.over_time.empty and t.over_time.groupby("group")["period"].nunique().max() >= 2:
        out["over_time"] = render.lines_over_time(t.over_time, title=f"{label} share over time")
    if t.chi_square is not None:
        out["residuals"] = render.residual_heatmap(
            t.chi_square.residual_frame(), title=f"{label} x {t.config.by}: standardised residuals"
        )
    return out


def _top_colour_shares(t: TrendTables) -> pd.DataFrame | None:
    """Colour shares of the config's garment class, drawn beside any signal (when colours exist)."""
    from dataclasses import replace

    if t.signals.empty:
        return None
    colour = analyse(t.signals, replace(t.config, signal="colour"))
    return None if colour.shares.empty else colour.shares


def _table_html(frame: pd.DataFrame, name: str, max_rows: int = 400) -> str:
    if frame is None or frame.empty:
        return "<p class='muted'>(empty)</p>"
    shown = frame.head(max_rows)
    body = shown.to_html(
        index=False, classes="sortable", table_id=name, float_format=lambda v: f"{v:.4g}", border=0
    )
    more = (
        f"<p class='muted'>first {max_rows} of {len(frame)} rows; all in {name}.csv</p>"
        if len(frame) > max_rows
        else ""
    )
    return body + more


def _summary(t: TrendTables) -> list[str]:
    c, lines = t.config, []
    sizes = ", ".join(f"{g} n={n}" for g, n in t.totals.items())
    lines.append(
        f"Signal <b>{html.escape(t.signal_label)}</b> by <b>{c.by}</b>: {html.escape(sizes) or 'no units'}."
    )
    r = t.chi_square
    if r is not None:
        claim = "groups differ" if r.p_value < c.alpha else "no evidence that the groups differ"
        lines.append(
            f"Chi-square test of independence ({r.method}): &chi;&sup2; = {r.statistic:.2f}, dof {r.dof}, "
            f"p = {r.p_value:.3g}, Cram&eacute;r's V = {r.cramers_v:.3f} on {r.n} units: <b>{claim}</b> at "
            f"&alpha; = {c.alpha}."
        )
    if not t.gaps.empty:
        for (proposed, adopted), part in t.gaps.groupby(["proposed", "adopted"], sort=False):
            significant = part[part["p_adjusted"] < c.alpha]
            n_p = int(part["n_proposed"].iloc[0])
            if significant.empty:
                lines.append(
                    f"Adoption gap {proposed} &rarr; {adopted} ({proposed} n={n_p}): no category differs "
                    f"after {c.correction} correction; the intervals are in the table."
                )
            else:
                parts = ", ".join(
                    f"{html.escape(r.category)} {r.share_proposed:.0%} &rarr; {r.share_adopted:.0%}"
                    for r in significant.itertuples()
                )
                lines.append(
                    f"Adoption gap {proposed} &rarr; {adopted}: significant after {c.correction}: {parts}."
                )
    if not t.forecast.scores.empty:
        for group, part in t.forecast.scores.groupby("group"):
            best = part.sort_values("mae").iloc[0]
            lines.append(
                f"Forecast of {html.escape(str(group))}'s last period ({best['held_out_period']}) held out: "
                f"best MAE {best['mae']:.4f} by <b>{best['method']}</b> (of {len(part)} methods)."
            )
    return lines


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
  max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}
h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}
th,td{padding:.2rem .45rem;border-bottom:1px solid #eee;text-align:right}
th{background:#f4f4f4;cursor:pointer;position:sticky;top:0}
td:first-child,th:first-child{text-align:left}
.muted{color:#777;font-size:.85rem}
.note{background:#fff8e1;border-left:3px solid #f0b400;padding:.3rem .6rem;margin:.3rem 0}
img{max-width:100%;border:1px solid #eee;margin:.5rem 0}.wrap{overflow-x:auto;max-height:32rem}
input{margin:.3rem 0;padding:.2rem .4rem;width:18rem}
"""

JS = """
function sortTable(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th),b=t.tBodies[0];
const asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';const rows=[...b.rows];
rows.sort((x,y)=>{const a=x.cells[i].innerText,c=y.cells[i].innerText,na=parseFloat(a),nc=parseFloat(c);
const r=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);return asc?r:-r});
rows.forEach(r=>b.appendChild(r));}
function filterTables(q){q=q.toLowerCase();document.querySelectorAll('table.sortable tbody tr').forEach(r=>{
r.style.display=r.innerText.toLowerCase().includes(q)?'':'none'});}
document.querySelectorAll('table.sortable th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
"""


def render_html(t: TrendTables, plots: dict[str, bytes], tables: dict[str, pd.DataFrame]) -> str:
    c = t.config
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>fashionlens trends: {html.escape(t.signal_label)} by {c.by}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Trends: {html.escape(t.signal_label)} by {c.by}</h1>",
        "<p class='muted'>95% Wilson intervals; pairwise two-proportion tests (Fisher's exact test where an "
        f"expected count is under 5), {c.correction} correction over each table; &alpha; = {c.alpha}. "
        "A difference is claimed only when its corrected p-value is under &alpha;.</p>",
        "<h2>Summary</h2><ul>",
        *[f"<li>{line}</li>" for line in _summary(t)],
        "</ul>",
    ]
    if t.notes:
        parts += ["<h2>Notes</h2>", *[f"<div class='note'>{html.escape(n)}</div>" for n in t.notes]]
    if plots:
        parts.append("<h2>Plots</h2>")
        for name, png in plots.items():
            data = base64.b64encode(png).decode("ascii")
            parts.append(
                f"<figure><img alt='{name}' src='data:image/png;base64,{data}'>"
                f"<figcaption class='muted'>{name}.png</figcaption></figure>"
            )
    parts.append("<h2>Tables</h2><input placeholder='filter every table' oninput='filterTables(this.value)'>")
    for name, frame in tables.items():
        if name == "signals":
            continue
        parts.append(f"<h3>{html.escape(name)}</h3><div class='wrap'>{_table_html(frame, name)}</div>")
    parts.append(f"<script>{JS}</script></body></html>")
    return "\n".join(parts)


def report_tables(t: TrendTables) -> dict[str, pd.DataFrame]:
    residuals = pd.DataFrame()
    if t.chi_square is not None:
        residuals = t.chi_square.residual_frame().rename_axis(t.config.by).reset_index()
    counts = t.counts.rename_axis(t.config.by).reset_index() if not t.counts.empty else pd.DataFrame()
    return {
        "shares": t.shares,
        "counts": counts,
        "chi_square": t.chi_square_frame(),
        "residuals": residuals,
        "pairwise": t.pairwise,
        "adoption_gap": t.gaps,
        "over_time": t.over_time,
        "forecast": t.forecast.forecasts,
        "forecast_scores": t.forecast.scores,
        "category_from": t.coverage.reset_index() if not t.coverage.empty else pd.DataFrame(),
        "signals": t.signals,
    }


def write_report(t: TrendTables, out_dir: Path) -> TrendReport:
    """Write ``out_dir/{table}.csv``, ``signals.parquet``, ``{plot}.png`` and ``report.html``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = report_tables(t)
    report = TrendReport(out_dir, out_dir / "report.html")
    for name, frame in tables.items():
        path = out_dir / f"{name}.csv"
        (frame if frame is not None else pd.DataFrame()).to_csv(path, index=False)
        report.tables[name] = path
    if not t.signals.empty:
        t.signals.to_parquet(out_dir / "signals.parquet", index=False)
        report.tables["signals.parquet"] = out_dir / "signals.parquet"
    plots = render_plots(t)
    for name, png in plots.items():
        path = out_dir / f"{name}.png"
        path.write_bytes(png)
        report.plots[name] = path
    report.html_path.write_text(render_html(t, plots, tables), encoding="utf-8")
    logger.info("trends report: %s (%d tables, %d plots)", report.html_path, len(report.tables), len(plots))
    return report


def build_report(
    catalog: Any,
    out_dir: Path,
    config: TrendConfig | None = None,
    options: SignalOptions | None = None,
) -> tuple[TrendTables, TrendReport]:
    """Signals from ``catalog`` -> every table -> files in ``out_dir``. Segmenting the photos of
    people first (`segment garments`) is the caller's choice; without it their category comes
    from the probe or the labels (``category_from`` in the tables says which)."""
    signals = read_signals(catalog, options)
    if signals.empty:
        raise NotReadyError(f"the catalogue at {catalog.path} has no images; run `fashionlens ingest` first")
    tables = analyse(signals, config)
    return tables, write_report(tables, out_dir)
