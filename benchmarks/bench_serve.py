"""Load test of ``POST /predict`` against a real uvicorn on 127.0.0.1: batching on vs off.

Starts ``fashionlens serve`` twice in a subprocess (``--max-batch 16 --max-wait-ms 10``, then
``--max-batch 1``: one model call per request), on the same scratch home (the int8 model built once),
and drives each with an asyncio load generator (httpx, one keep-alive connection per client)
that posts real product photos at concurrency 1, 8 and 32. Per run: a warm-up, then
``--seconds`` of closed-loop load; prints requests/s, p50 / p95 / p99 latency, errors and the mean
model batch size (from ``/metrics``), and the batching on/off throughput ratio per concurrency.

The load generator runs on the same machine, so it takes some of the CPU the server could use.

    .venv/bin/python benchmarks/bench_serve.py --images ../shared/data/products/images
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, max_batch: int, max_wait_ms: float, log: Path) -> subprocess.Popen:
    env = {**os.environ, "FASHIONLENS_SERVE_MODELS": "backbone,attributes"}
    cmd = [
        sys.executable, "-c", "from fashionlens.cli.app import main; main()",
        "--home", str(home), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms), "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 300.0) -> float:
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server did not become ready")


async def load(port: int, images: list[bytes], concurrency: int, seconds: float, warmup: float) -> dict:
    import httpx

    url = f"http://127.0.0.1:{port}/predict"
    latencies: list[float] = []
    errors = 0
    stop_at = 0.0
    measure_from = 0.0
    counter = 0

    async def client(index: int) -> None:
        nonlocal errors, counter
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(limits=limits, timeout=60) as http:
            i = index
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    return
                data = images[i % len(images)]
                i += concurrency
                t0 = time.perf_counter()
                try:
                    r = await http.post(url, files={"image": ("p.jpg", data, "image/jpeg")})
                    ok = r.status_code == 200 and r.json().get("status") == "success"
                except httpx.HTTPError:
                    ok = False
                t1 = time.perf_counter()
                if t0 >= measure_from and t1 <= stop_at:
                    if ok:
                        latencies.append(t1 - t0)
                        counter += 1
                    else:
                        errors += 1

    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, round(p * (len(lat) - 1)))] * 1000 if lat else float("nan")

    return {
        "concurrency": concurrency,
        "requests": len(lat),
        "errors": errors,
        "req_per_s": len(lat) / seconds,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(lat) * 1000 if lat else float("nan"),
    }


def batch_stats(port: int) -> tuple[float, float]:
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    total = float(re.search(r"^fashionlens_batch_size_sum (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    count = float(re.search(r"^fashionlens_batch_size_count (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    return total, count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "data" / "products" / "images")
    ap.add_argument("--n-images", type=int, default=64, help="Distinct photos the clients cycle through.")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=15.0, help="Measured seconds per run.")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--max-batch", type=int, default=16)
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    ap.add_argument("--home", type=Path, default=None, help="Scratch home (default: a temporary folder).")
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()

    files = sorted(args.images.glob("*.jpg"))[: args.n_images]
    if not files:
        print(f"no .jpg files in {args.images}", file=sys.stderr)
        return 1
    images = [f.read_bytes() for f in files]
    home_ctx = tempfile.TemporaryDirectory(prefix="bench_serve_") if args.home is None else None
    home = Path(home_ctx.name) if home_ctx else args.home
    results: dict[str, list[dict]] = {}
    try:
        for label, max_batch in (("batching on", args.max_batch), ("batching off", 1)):
            port = free_port()
            log = home / f"server_{max_batch}.log"
            home.mkdir(parents=True, exist_ok=True)
            proc = start_server(home, port, max_batch, args.max_wait_ms, log)
            try:
                ready_s = wait_ready(port, proc)
                print(f"{label}: max_batch={max_batch}, max_wait_ms={args.max_wait_ms}; ready in {ready_s:.1f}s")
                runs = []
                for c in args.concurrency:
                    before = batch_stats(port)
                    run = asyncio.run(load(port, images, c, args.seconds, args.warmup))
                    after = batch_stats(port)
                    batches = after[1] - before[1]
                    run["mean_batch"] = (after[0] - before[0]) / batches if batches else float("nan")
                    runs.append(run)
                    print(
                        f"  c={c:>3}: {run['req_per_s']:7.1f} req/s  p50 {run['p50_ms']:7.1f} ms  "
                        f"p95 {run['p95_ms']:7.1f} ms  p99 {run['p99_ms']:7.1f} ms  "
                        f"mean batch {run['mean_batch']:5.2f}  errors {run['errors']}",
                        flush=True,
                    )
                results[label] = runs
            finally:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    finally:
        if home_ctx is not None:
            home_ctx.cleanup()
    print("\nbatching on / off, requests per second (same run):")
    for on, off in zip(results["batching on"], results["batching off"], strict=True):
        print(f"  c={on['concurrency']:>3}: {on['req_per_s']:.1f} / {off['req_per_s']:.1f} = "
              f"{on['req_per_s'] / max(off['req_per_s'], 1e-9):.2f}x")  # fmt: skip
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
