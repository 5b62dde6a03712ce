"""Load test of ``POST /predict`` against a real uvicorn on 127.0.0.1: batching on vs off.

Starts ``fashionlens serve`` twice, as subprocesses side by side (``--max-batch 16 --max-wait-ms 10``,
and ``--max-batch 1``: one model call per request), on one scratch home (the int8 model built once),
and drives each with an asyncio load generator (pre-built requests on raw keep-alive sockets, one
connection per client) that posts real product photos at concurrency 1, 8 and 32. Per run: a warm-up, then
``--seconds`` of closed-loop load, the two servers' runs interleaved ``--repeats`` times; prints the
medians of requests/s, p50 / p95 / p99 latency, the mean model batch size and model time per image
(from ``/metrics``), errors, the load average, and the batching on/off throughput ratio.

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


def multipart_request(port: int, data: bytes) -> bytes:
    """One complete HTTP/1.1 ``POST /predict`` (multipart field ``image``), keep-alive."""
    boundary = b"fashionlensbenchboundary7f3a"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n"
    )
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary.decode()}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()
    return head + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def load(port: int, images: list[bytes], concurrency: int, seconds: float, warmup: float) -> dict:
    """Closed loop: ``concurrency`` clients, each on its own keep-alive connection, send the next
    request as soon as the last one is answered. A lean client (pre-built requests on raw sockets)
    so the load generator takes as little of the shared CPU as it can."""
    requests = [multipart_request(port, data) for data in images]
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def client(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = index
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                writer.write(requests[i % len(requests)])
                i += concurrency
                try:
                    status, body = await read_response(reader)
                    ok = status == 200 and b'"status":"success"' in body
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    ok = False
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                t1 = time.perf_counter()
                if t0 >= measure_from and t1 <= stop_at:
                    if ok:
                        latencies.append(t1 - t0)
                    else:
                        errors += 1
        finally:
            writer.close()

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


def batch_stats(port: int) -> tuple[float, float, float]:
    """``(images, batches, model seconds)`` so far, from the server's /metrics."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text

    def value(name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(match.group(1)) if match else float("nan")

    return (
        value("fashionlens_batch_size_sum"),
        value("fashionlens_batch_size_count"),
        value("fashionlens_batch_duration_seconds_sum"),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "data" / "products" / "images")
    ap.add_argument("--n-images", type=int, default=64, help="Distinct photos the clients cycle through.")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per run.")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3, help="Interleaved runs per configuration.")
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
    home.mkdir(parents=True, exist_ok=True)
    configs = {"batching on": args.max_batch, "batching off": 1}
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    runs: dict[tuple[str, int], list[dict]] = {}
    try:
        for label, max_batch in configs.items():  # one after the other: the first builds the int8 model
            port = free_port()
            proc = start_server(home, port, max_batch, args.max_wait_ms, home / f"server_{max_batch}.log")
            servers[label] = (proc, port)
            ready_s = wait_ready(port, proc)
            print(f"{label}: max_batch={max_batch}, max_wait_ms={args.max_wait_ms}; ready in {ready_s:.1f}s")
        for c in args.concurrency:
            for repeat in range(args.repeats):
                order = list(configs) if repeat % 2 == 0 else list(reversed(configs))
                for label in order:  # interleaved, so drifting load on the machine hits both alike
                    _, port = servers[label]
                    before = batch_stats(port)
                    run = asyncio.run(load(port, images, c, args.seconds, args.warmup))
                    after = batch_stats(port)
                    n_images, batches = after[0] - before[0], after[1] - before[1]
                    run["mean_batch"] = n_images / batches if batches else float("nan")
                    run["model_ms_per_image"] = (
                        1000 * (after[2] - before[2]) / n_images if n_images else float("nan")
                    )
                    run["load_average_1m"] = os.getloadavg()[0]
                    runs.setdefault((label, c), []).append(run)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if home_ctx is not None:
            home_ctx.cleanup()

    def med(label: str, c: int, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[(label, c)]))

    loads = [r["load_average_1m"] for v in runs.values() for r in v]
    print(
        f"\nmedian of {args.repeats} interleaved runs of {args.seconds:g} s each; 1-minute load average "
        f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores during the runs"
    )
    header = ("", "c", "req/s", "p50 ms", "p95 ms", "p99 ms", "batch", "ms/img", "errors")
    print("{:14} {:>3} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>6}".format(*header))
    for c in args.concurrency:
        for label in configs:
            keys = ("req_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_batch", "model_ms_per_image")
            values = [med(label, c, k) for k in keys]
            errors = sum(r["errors"] for r in runs[(label, c)])
            print(
                "{:14} {:>3} {:7.1f} {:7.1f} {:7.1f} {:7.1f} {:6.2f} {:7.1f} {:>6}".format(
                    label, c, *values, errors
                )
            )
    print("\nbatching on / off, requests per second:")
    for c in args.concurrency:
        on, off = med("batching on", c, "req_per_s"), med("batching off", c, "req_per_s")
        print(f"  c={c:>3}: {on:.1f} / {off:.1f} = {on / max(off, 1e-9):.2f}x")
    results = {f"{label} c={c}": v for (label, c), v in runs.items()}
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
