"""Video jobs, the API key, the request timeout, readiness while loading, CORS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VIDEO = "video/one-by-one-person-detection.mp4"


@contextmanager
def app_client(home: Path, **config) -> Iterator:
    from fastapi.testclient import TestClient

    from fashionlens.core.settings import Settings
    from fashionlens.server.app import create_app
    from fashionlens.server.config import ServerConfig

    app = create_app(Settings(home=home), ServerConfig(**{"load_in_background": False, **config}))
    with TestClient(app) as client:
        yield client


def test_a_video_runs_as_a_job_with_progress_and_a_report(client, shared_data: Path) -> None:
    data = (shared_data / VIDEO).read_bytes()
    r = client.post(
        "/v1/video",
        files={"video": ("clip.mp4", data, "video/mp4")},
        data={"every": "100", "k": "3", "source": "product"},
    )
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    assert job["state"] in ("queued", "running", "done")
    seen_running = False
    deadline = time.perf_counter() + 300
    while time.perf_counter() < deadline:
        job = client.get(job["status_url"]).json()["job"]
        seen_running |= job["state"] == "running" and (job["progress"]["total"] or 0) > 0
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["state"] == "done", job
    assert job["progress"]["done"] == job["progress"]["total"] == 14  # 1,394 frames, every 100th
    report = client.get(job["report_url"]).json()
    assert report["status"] == "success"
    frames = report["report"]["frames"]
    assert report["report"]["sampled_frames"] == len(frames) == 14
    assert report["report"]["people"] > 0
    person = next(p for f in frames for p in f["people"])
    assert len(person["matches"]) == 3
    assert job["id"] in {j["id"] for j in client.get("/v1/jobs").json()["jobs"]}
    assert client.get("/v1/jobs/0123456789abcdef").status_code == 404


def test_a_non_video_upload_is_415(client) -> None:
    r = client.post("/v1/video", files={"video": ("clip.mp4", b"\xff\xd8\xff\xe0 a jpeg", "video/mp4")})
    assert r.status_code == 415 and r.json()["status"] == "error"


def test_the_api_key_guards_writing_routes(server_home: Path, shared_data: Path, product_jpeg: bytes) -> None:
    data = (shared_data / VIDEO).read_bytes()[:200_000]
    with app_client(server_home, api_key="s3cret", models=("backbone",)) as client:
        files = {"video": ("clip.mp4", data, "video/mp4")}
        assert client.post("/v1/video", files=files).status_code == 401
        assert client.post("/v1/video", files=files, headers={"X-API-Key": "wrong"}).status_code == 401
        ok = client.post("/v1/video", files=files, data={"every": "500"}, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 202
        assert client.get("/health").status_code == 200  # reading routes need no key
        schema = client.get("/openapi.json").json()
        assert schema["paths"]["/v1/video"]["post"]["security"]
        assert "security" not in schema["paths"]["/predict"]["post"]
        # only the backbone is loaded here: routes needing other models say so
        r = client.post("/predict", files={"image": ("p.jpg", product_jpeg, "image/jpeg")})
        assert r.status_code == 503 and "attributes" in r.json()["error"]


def test_the_request_timeout_answers_504(server_home: Path, product_jpeg: bytes) -> None:
    with app_client(server_home, models=("backbone", "attributes"), request_timeout_s=0.000001) as client:
        r = client.post("/predict", files={"image": ("p.jpg", product_jpeg, "image/jpeg")})
        assert r.status_code == 504
        assert "timeout" in r.json()["error"]


def test_ready_is_503_and_lists_what_is_loading(server_home: Path) -> None:
    with app_client(server_home, models=("backbone", "text"), load_in_background=True) as client:
        first = client.get("/ready")
        assert first.status_code == 503
        assert first.json()["status"] == "loading" and first.json()["loading"]
        assert client.get("/health").status_code == 200
        deadline = time.perf_counter() + 300
        while client.get("/ready").status_code != 200 and time.perf_counter() < deadline:
            time.sleep(0.2)
        assert client.get("/ready").json()["status"] == "ready"


def test_cors_is_off_unless_configured(client, server_home: Path) -> None:
    origin = {"Origin": "http://elsewhere.test"}
    assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers
    with app_client(server_home, models=(), cors_origins=("http://elsewhere.test",)) as cors:
        assert (
            cors.get("/health", headers=origin).headers["access-control-allow-origin"]
            == "http://elsewhere.test"
        )


def test_the_shipped_mask_rcnn_segments_beside_the_unet(server_home: Path, street_jpeg: bytes) -> None:
    from fashionlens.models.segmenters.maskrcnn import SHIPPED_ID

    # `serve --maskrcnn shipped`: the flag arrives as a Path; offline, the package's own model loads
    with app_client(server_home, models=("unet",), maskrcnn_checkpoint=Path("shipped")) as client:
        info = client.get("/v1/models").json()
        assert info["maskrcnn"] is True and info["models"]["maskrcnn"]["state"] == "ready"
        files = {"image": ("s.jpg", street_jpeg, "image/jpeg")}
        unet = client.post("/v1/segment", files=files).json()
        mrcnn = client.post("/v1/segment", files=files, data={"model": "maskrcnn"}).json()
        assert unet["segmenter_id"] == "unet_mobilenet_v2.ccp"
        assert mrcnn["status"] == "success" and mrcnn["segmenter_id"] == SHIPPED_ID
        assert (mrcnn["width"], mrcnn["height"]) == (unet["width"], unet["height"])
        assert len(mrcnn["people"]) == len(unet["people"]) == 1  # people always come from the U-Net
        # a trained model: on a street photo it finds garments, and some of the U-Net's classes
        found = {g["category"] for g in mrcnn["garments"]}
        assert found and found & {g["category"] for g in unet["garments"]}
