"""Trend plots as PNG bytes: share bars with Wilson whiskers, colour shares in their own colours,
shares over time, and a heatmap of standardised residuals.

Drawn on `matplotlib.figure.Figure` with the Agg canvas directly: no pyplot, no global backend
change, safe in a server or a thread.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from fashionlens.core.errors import InvalidInputError

CATEGORY_COLOURS = (
    "#4c72b0",
    "#dd8452",
    "#55a868",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
    "#2f4b7c",
    "#a05195",
    "#f95d6a",
)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


@cache
def colour_hex() -> dict[str, str]:
    """Colour name -> the sRGB hex of its prototype of the same name (``colour_prototypes.json``)."""
    text = resources.files("fashionlens.core").joinpath("colour_prototypes.json").read_text(encoding="utf-8")
    prototypes = json.loads(text)["prototypes"]
    out = {}
    for name, protos in prototypes.items():
        out[name] = protos.get(name) or next(iter(protos.values()))
    return out


def _check_shares(shares: pd.DataFrame) -> None:
    needed = {"group", "category", "share", "ci_low", "ci_high", "n"}
    missing = needed - set(shares.columns)
    if missing:
        raise InvalidInputError(f"share table lacks columns {sorted(missing)}")


def share_bars(
    shares: pd.DataFrame,
    *,
    title: str = "",
    colours: dict[str, str] | None = None,
    categories: Sequence[str] | None = None,
    stacked: bool = True,
) -> bytes:
    """One bar per group, stacked by category, each segment with its Wilson interval as a whisker
    (drawn at the segment's top: from bottom + low to bottom + high) and ``n`` under the bar.

    ``stacked=False`` draws grouped bars (for multi-valued signals, whose shares do not sum to 1).
    ``colours``: category -> colour (default: a fixed palette; white segments get a grey edge).
    """
    _check_shares(shares)
    groups = list(dict.fromkeys(shares["group"]))
    cats = list(categories) if categories is not None else list(dict.fromkeys(shares["category"]))
    palette = colours or {c: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, c in enumerate(cats)}
    table = shares.set_index(["group", "category"])
    fig = _figure(
        max(5.0, 1.3 * len(groups) + 3.0) if stacked else max(6.0, 0.5 * len(groups) * len(cats) + 3), 4.6
    )
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(groups), dtype=float)
    width = 0.6 if stacked else 0.8 / max(1, len(cats))
    bottom = np.zeros(len(groups))
    for j, cat in enumerate(cats):
        vals = np.array([float(table["share"].get((g, cat), 0.0)) for g in groups])
        low = np.array([float(table["ci_low"].get((g, cat), 0.0)) for g in groups])
        high = np.array([float(table["ci_high"].get((g, cat), 0.0)) for g in groups])
        pos = x if stacked else x - 0.4 + width * (j + 0.5)
        base = bottom if stacked else np.zeros(len(groups))
        colour = palette.get(cat, "#999999")
        ax.bar(pos, vals, width, bottom=base, color=colour, label=cat, edgecolor=_edge(colour), linewidth=0.6)
        top = base + vals
        shown = vals > 0
        # whiskers of stacked segments are spread across the bar so they do not hide each other
        spread = (j + 0.5) / len(cats) - 0.5 if stacked else 0.0
        ax.errorbar(
            pos[shown] + 0.8 * width * spread,
            top[shown],
            yerr=[np.maximum(vals - low, 0)[shown], np.maximum(high - vals, 0)[shown]],
            fmt="none",
            ecolor="#222222",
            elinewidth=0.8,
            capsize=2.5,
        )
        if stacked:
            bottom = bottom + vals
    n = shares.drop_duplicates("group").set_index("group")["n"]
    ax.set_xticks(x, [f"{g}\nn={int(n[g])}" for g in groups])
    ax.set_ylabel("share (95% Wilson interval)")
    ax.set_ylim(0, 1.05 if stacked else min(1.05, float(shares["ci_high"].max()) + 0.1))
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _edge(colour: str) -> str:
    rgb = _rgb(colour)
    return "#9a9a9a" if rgb is not None and min(rgb) > 0.85 else "none"


def _rgb(colour: str) -> tuple[float, float, float] | None:
    from matplotlib.colors import to_rgb

    try:
        r, g, b = to_rgb(colour)
    except ValueError:
        return None
    return (float(r), float(g), float(b))


def colour_bars(shares: pd.DataFrame, *, title: str = "") -> bytes:
    """`share_bars` of colour names, each drawn in the colour it names (``colour_prototypes.json``)."""
    named = colour_hex()
    cats = sorted(dict.fromkeys(shares["category"]), key=lambda c: list(named).index(c) if c in named else 99)
    return share_bars(
        shares, title=title, colours={c: named.get(c, "#999999") for c in cats}, categories=cats
    )


def lines_over_time(over_time: pd.DataFrame, *, title: str = "", max_categories: int = 8) -> bytes:
    """Share per period, one panel per group, one line per category with its interval as a band."""
    needed = {"group", "period", "period_order", "category", "share", "ci_low", "ci_high"}
    if not needed <= set(over_time.columns):
        raise InvalidInputError(f"over-time table lacks columns {sorted(needed - set(over_time.columns))}")
    groups = list(dict.fromkeys(over_time["group"]))
    fig = _figure(7.5, 3.2 * max(1, len(groups)))
    top = over_time.groupby("category")["count"].sum().sort_values(ascending=False).index[:max_categories]
    palette = {c: CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i, c in enumerate(top)}
    for k, group in enumerate(groups):
        ax = fig.add_subplot(len(groups), 1, k + 1)
        part = over_time[over_time["group"] == group].sort_values("period_order")
        periods = list(dict.fromkeys(part["period"]))
        for cat in top:
            line = part[part["category"] == cat]
            if line.empty:
                continue
            xs = line["period_order"].to_numpy()
            ax.plot(xs, line["share"], marker="o", ms=3, color=palette[cat], label=cat)
            ax.fill_between(xs, line["ci_low"], line["ci_high"], color=palette[cat], alpha=0.12, linewidth=0)
        ax.set_xticks(range(len(periods)), periods, rotation=45, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("share")
        ax.set_title(f"{title} - {group}" if title else str(group), fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _png(fig)


def residual_heatmap(residuals: pd.DataFrame, *, title: str = "") -> bytes:
    """Categories (rows) x groups (columns) of adjusted standardised residuals; |r| > 1.96 is
    where a cell departs from independence at about the 5% level (uncorrected)."""
    if residuals.empty:
        raise InvalidInputError("no residuals to draw")
    data = residuals.T  # categories as rows
    values = data.to_numpy(dtype=float)
    limit = max(2.0, float(np.nanmax(np.abs(values))))
    fig = _figure(max(4.5, 1.1 * data.shape[1] + 3.0), max(3.0, 0.45 * data.shape[0] + 1.6))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(data.shape[1]), [str(c) for c in data.columns])
    ax.set_yticks(range(data.shape[0]), [str(r) for r in data.index])
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                f"{v:+.1f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(v) > 0.6 * limit else "black",
                fontweight="bold" if abs(v) > 1.96 else None,
            )
    fig.colorbar(image, ax=ax, label="standardised residual")
    ax.set_title(title)
    return _png(fig)
