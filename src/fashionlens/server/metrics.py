"""Prometheus metrics in the text exposition format (0.0.4), written by hand (no dependency).

- ``fashionlens_http_requests_total{route,method,status}``: counter;
- ``fashionlens_http_request_duration_seconds{route}``: histogram;
- ``fashionlens_batch_size`` and ``fashionlens_batch_duration_seconds``: histograms of the model
  batches the dynamic batcher ran;
- ``fashionlens_model_loaded{model}`` (1 ready, 0 not) and ``fashionlens_model_load_seconds{model}``;
- ``fashionlens_jobs{state}``: video jobs by state.

Routes are labelled by their template (``/v1/images/{image_id}``), never the raw path, so the
number of series stays bounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


@dataclass
class Histogram:
    buckets: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: Mapping[str, str]) -> list[str]:
        out = []
        for bound, n in zip(self.buckets, self.counts, strict=True):
            out.append(f"{name}_bucket{_labels({**labels, 'le': _number(bound)})} {n}")
        out.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {self.count}")
        out.append(f"{name}_sum{_labels(labels)} {_number(self.total)}")
        out.append(f"{name}_count{_labels(labels)} {self.count}")
        return out


class Metrics:
    """Thread-safe counters and histograms; `render` writes the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.batch_seconds = Histogram(BATCH_SECONDS_BUCKETS)
        self.started = time.time()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (route, method, str(status))
            self.requests[key] = self.requests.get(key, 0) + 1
            hist = self.latency.get(route)
            if hist is None:
                hist = self.latency[route] = Histogram(LATENCY_BUCKETS)
            hist.observe(seconds)

    def observe_batch(self, size: int, seconds: float) -> None:
        with self._lock:
            self.batch_size.observe(size)
            self.batch_seconds.observe(seconds)

    def render(self, models: Mapping[str, tuple[bool, float]], jobs: Mapping[str, int] | None = None) -> str:
        """``models``: name -> (ready, load seconds); ``jobs``: state -> count."""
        with self._lock:
            lines = [
                "# HELP fashionlens_http_requests_total HTTP requests by route template, method and status.",
                "# TYPE fashionlens_http_requests_total counter",
            ]
            for (route, method, status), n in sorted(self.requests.items()):
                labels = {"route": route, "method": method, "status": status}
                lines.append(f"fashionlens_http_requests_total{_labels(labels)} {n}")
            lines += [
                "# HELP fashionlens_http_request_duration_seconds Request latency by route template.",
                "# TYPE fashionlens_http_request_duration_seconds histogram",
            ]
            for route, hist in sorted(self.latency.items()):
                lines += hist.lines("fashionlens_http_request_duration_seconds", {"route": route})
            lines += [
                "# HELP fashionlens_batch_size Images per backbone batch (dynamic batching).",
                "# TYPE fashionlens_batch_size histogram",
                *self.batch_size.lines("fashionlens_batch_size", {}),
                "# HELP fashionlens_batch_duration_seconds Seconds per backbone batch.",
                "# TYPE fashionlens_batch_duration_seconds histogram",
                *self.batch_seconds.lines("fashionlens_batch_duration_seconds", {}),
            ]
        lines += [
            "# HELP fashionlens_model_loaded 1 when the model answered its probe, else 0.",
            "# TYPE fashionlens_model_loaded gauge",
        ]
        for name, (ready, _) in sorted(models.items()):
            lines.append(f"fashionlens_model_loaded{_labels({'model': name})} {int(ready)}")
        lines += [
            "# HELP fashionlens_model_load_seconds Seconds the model took to load and answer its probe.",
            "# TYPE fashionlens_model_load_seconds gauge",
        ]
        for name, (_, seconds) in sorted(models.items()):
            lines.append(
                f"fashionlens_model_load_seconds{_labels({'model': name})} {_number(round(seconds, 4))}"
            )
        if jobs is not None:
            lines += ["# HELP fashionlens_jobs Video jobs by state.", "# TYPE fashionlens_jobs gauge"]
            for state, n in sorted(jobs.items()):
                lines.append(f"fashionlens_jobs{_labels({'state': state})} {n}")
        lines += [
            "# HELP fashionlens_uptime_seconds Seconds since the app was created.",
            "# TYPE fashionlens_uptime_seconds gauge",
            f"fashionlens_uptime_seconds {_number(round(time.time() - self.started, 3))}",
        ]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """ASGI middleware: count and time every HTTP request by its route template."""

    def __init__(self, app: Any, metrics: Metrics, skip: Callable[[str], bool] | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.skip = skip

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path", "") or "unmatched")
            if self.skip is None or not self.skip(template):
                self.metrics.observe_request(
                    template, str(scope.get("method", "")), status["code"], time.perf_counter() - started
                )
