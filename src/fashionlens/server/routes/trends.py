"""``GET /v1/trends``: shares per group with Wilson intervals and the chi-square test, from the
catalogue as it is (`fashionlens.analysis.trends`; segmenting new photos is the CLI's job,
`fashionlens.jobs.trends`), cached per catalogue version, and
``GET /v1/trends/report``: the self-contained HTML report of the same run. With ``plots=true`` the
JSON also carries the report's plots as base64 PNGs (the web app's Trends page)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from fashionlens.server import schemas
from fashionlens.server.routes.common import call, png_base64
from fashionlens.server.state import ServerState

By = Literal["source", "season", "year", "designer", "dataset"]
Signal = Literal["category", "garment", "colour", "articleType", "silhouette"]


def records(frame: Any) -> list[dict[str, Any]]:
    """A table as JSON-safe rows: NaN and infinities (a Fisher test has no statistic) become null."""
    import numpy as np

    if frame is None or frame.empty:
        return []
    clean = frame.replace([np.inf, -np.inf], np.nan).astype(object)
    return list(clean.where(clean.notna(), None).to_dict(orient="records"))


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["trends"])
    lock = threading.Lock()
    cache: dict[tuple[str, ...], Any] = {}

    def _version() -> str:
        catalog = state.catalog
        return ",".join(
            str(catalog.version(t)) for t in ("images", "labels", "predictions", "garments", "people")
        )

    def tables(by: str, signal: str) -> Any:
        """The analysis (no plots): cached per request and catalogue version."""
        from fashionlens.analysis.trends.analyse import TrendConfig, analyse
        from fashionlens.analysis.trends.signals import read_signals
        from fashionlens.core.errors import NotReadyError

        key = ("tables", by, signal, _version())
        with lock:
            if key not in cache:
                signals = read_signals(state.catalog)
                if signals.empty:
                    raise NotReadyError("the catalogue has no images; run `fashionlens ingest` first")
                cache[key] = analyse(signals, TrendConfig(by=by, signal=signal))
            return cache[key]

    def plot_pngs(by: str, signal: str) -> dict[str, str]:
        """The report's plots as base64 PNGs by name, cached like the tables."""
        from fashionlens.analysis.trends.report import render_plots

        key = ("plots", by, signal, _version())
        result = tables(by, signal)
        with lock:
            if key not in cache:
                cache[key] = {name: png_base64(png) or "" for name, png in render_plots(result).items()}
            return dict(cache[key])

    def report_file(by: str, signal: str) -> Any:
        from fashionlens.analysis.trends.report import write_report

        key = ("report", by, signal, _version())
        result = tables(by, signal)
        with lock:
            if key not in cache:
                name = hashlib.sha256("|".join(key).encode()).hexdigest()[:12]
                cache[key] = write_report(result, state.settings.cache_dir / "server-trends" / name).html_path
            return cache[key]

    @router.get("/trends", responses=schemas.errors(400, 409, 422, 504), summary="Trends by group")
    async def trends(
        by: By = Query("source"),
        signal: Signal = Query("category"),
        plots: bool = Query(False, description="Also return the plots as base64 PNGs by name."),
    ) -> dict[str, Any]:
        result = await call(state, tables, by, signal, what="trends")
        chi = result.chi_square
        out_plots = await call(state, plot_pngs, by, signal, what="trends plots") if plots else None
        return {
            "status": "success",
            "by": by,
            "signal": signal,
            "groups": {str(g): int(n) for g, n in result.totals.items()},
            "multi_valued": bool(result.multi),
            "shares": records(result.shares),
            "pairwise": records(result.pairwise),
            "adoption_gap": records(result.gaps),
            "chi_square": None
            if chi is None
            else {
                "statistic": chi.statistic,
                "dof": chi.dof,
                "p_value": chi.p_value,
                "cramers_v": chi.cramers_v,
            },
            "notes": list(result.notes),
            "plots": out_plots,
            "report_url": f"/v1/trends/report?by={by}&signal={signal}",
        }

    @router.get(
        "/trends/report",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}}, **schemas.errors(400, 409, 422, 504)},
        summary="The trends report (one self-contained HTML page)",
    )
    async def report(by: By = Query("source"), signal: Signal = Query("category")) -> Any:
        path = await call(state, report_file, by, signal, what="trends report")
        return FileResponse(path, media_type="text/html")

    return router
