"""``GET /v1/trends``: shares per group with Wilson intervals and the chi-square test, from the
catalogue as it is (`fashionlens.jobs.trends`; segmenting new photos is the CLI's job), and
``GET /v1/trends/report``: the self-contained HTML report of the same run."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from fashionlens.server import schemas
from fashionlens.server.routes.common import call
from fashionlens.server.state import ServerState

By = Literal["source", "season", "year", "designer", "dataset"]
Signal = Literal["category", "garment", "colour", "articleType", "silhouette"]


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["trends"])

    def run(by: str, signal: str) -> Any:
        from fashionlens.analysis.trends.analyse import TrendConfig
        from fashionlens.jobs.trends import run_trends

        key = hashlib.sha256(f"{by}|{signal}".encode()).hexdigest()[:12]
        out = state.settings.cache_dir / "server-trends" / key
        return run_trends(state.settings, out, TrendConfig(by=by, signal=signal), segment=False)

    @router.get("/trends", responses=schemas.errors(400, 409, 422, 504), summary="Trends by group")
    async def trends(by: By = Query("source"), signal: Signal = Query("category")) -> dict[str, Any]:
        result = await call(state, run, by, signal, what="trends")
        tables = result.tables
        chi = tables.chi_square
        shares = tables.shares.to_dict(orient="records") if not tables.shares.empty else []
        return {
            "status": "success",
            "by": by,
            "signal": signal,
            "shares": shares,
            "chi_square": None
            if chi is None
            else {
                "statistic": chi.statistic,
                "dof": chi.dof,
                "p_value": chi.p_value,
                "cramers_v": chi.cramers_v,
            },
            "notes": list(tables.notes),
            "report_url": f"/v1/trends/report?by={by}&signal={signal}",
        }

    @router.get(
        "/trends/report",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}}, **schemas.errors(400, 409, 422, 504)},
        summary="The trends report (one self-contained HTML page)",
    )
    async def report(by: By = Query("source"), signal: Signal = Query("category")) -> Any:
        result = await call(state, run, by, signal, what="trends")
        return FileResponse(result.report.html_path, media_type="text/html")

    return router
