"""Prometheus exposition: counters, cumulative histograms, label escaping, the middleware."""

from __future__ import annotations

import re

from fashionlens.server.metrics import Histogram, Metrics, MetricsMiddleware


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert match, f"{series} not in:\n{text}"
    return float(match.group(1))


def test_histogram_buckets_are_cumulative() -> None:
    h = Histogram((1, 2, 4))
    for v in (0.5, 1, 3, 10):
        h.observe(v)
    lines = h.lines("x", {})
    assert lines[:4] == [
        'x_bucket{le="1"} 2',
        'x_bucket{le="2"} 2',
        'x_bucket{le="4"} 3',
        'x_bucket{le="+Inf"} 4',
    ]
    assert lines[4:] == ["x_sum 14.5", "x_count 4"]


def test_render_requests_batches_models_and_jobs() -> None:
    m = Metrics()
    m.observe_request("/predict", "POST", 200, 0.02)
    m.observe_request("/predict", "POST", 200, 0.3)
    m.observe_request("/predict", "POST", 415, 0.001)
    m.observe_batch(16, 0.05)
    m.observe_batch(3, 0.01)
    text = m.render({"backbone": (True, 1.5), "text": (False, 0.0)}, {"done": 2, "running": 1})
    assert _value(text, 'fashionlens_http_requests_total{route="/predict",method="POST",status="200"}') == 2
    assert _value(text, 'fashionlens_http_requests_total{route="/predict",method="POST",status="415"}') == 1
    assert _value(text, 'fashionlens_http_request_duration_seconds_count{route="/predict"}') == 3
    assert _value(text, 'fashionlens_http_request_duration_seconds_bucket{route="/predict",le="0.025"}') == 2
    assert _value(text, "fashionlens_batch_size_sum") == 19
    assert _value(text, 'fashionlens_batch_size_bucket{le="4"}') == 1
    assert _value(text, 'fashionlens_model_loaded{model="backbone"}') == 1
    assert _value(text, 'fashionlens_model_loaded{model="text"}') == 0
    assert _value(text, 'fashionlens_jobs{state="running"}') == 1
    assert "# TYPE fashionlens_batch_size histogram" in text
    assert text.endswith("\n")


def test_label_values_are_escaped() -> None:
    m = Metrics()
    m.observe_request('/a"b\\c\nd', "GET", 200, 0.1)
    text = m.render({})
    assert 'route="/a\\"b\\\\c\\nd"' in text


def test_middleware_labels_by_route_template() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def item(request):  # type: ignore[no-untyped-def]
        return PlainTextResponse(request.path_params["item_id"])

    metrics = Metrics()
    app = MetricsMiddleware(Starlette(routes=[Route("/items/{item_id}", item)]), metrics)
    client = TestClient(app)
    client.get("/items/1")
    client.get("/items/2")
    client.get("/nowhere")
    text = metrics.render({})
    assert (
        _value(text, 'fashionlens_http_requests_total{route="/items/{item_id}",method="GET",status="200"}')
        == 2
    )
    assert _value(text, 'fashionlens_http_requests_total{route="unmatched",method="GET",status="404"}') == 1
