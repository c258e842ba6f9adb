"""Benchmark: the `openai` backend against the loopback test server with 200 ms latency.

With a cap of 64 requests in flight and 0.2 s a request, the ideal throughput is 64 / 0.2 = 320
requests a second; the target is at least 90% of it. The reference is the way the DARC reference
scripts call a server: a thread pool of 32 workers, each with its own synchronous httpx client,
one request at a time. The server runs in its own process so it does not share a GIL with the client.

    python bench/backends.py            # 2,560 requests per run, best of 3; writes bench/results/backends.md
    python bench/backends.py --quick    # 320 requests, one run, prints only
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.backends import Sampling  # noqa: E402
from pipeline.backends.openai_server import OpenAIBackend  # noqa: E402
from pipeline.config import OpenAIModel  # noqa: E402

LATENCY_S = 0.2
CAP = 64
REFERENCE_THREADS = 32


def start_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_test_server.py"), "--port", str(port),
                               "--latency-s", str(LATENCY_S)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("test server did not start")


def prompts(count: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"Document {i % 50}. Question {i}: how many apples?"}] for i in range(count)]


def run_backend(base_url: str, count: int) -> float:
    """Requests a second through OpenAIBackend.generate (one call for the whole batch)."""
    config = OpenAIModel(backend="openai", model="bench", base_url=base_url, max_concurrency=CAP)
    backend = OpenAIBackend(config)
    start = time.perf_counter()
    out = backend.generate(prompts(count), Sampling(n=1, max_tokens=64, seed=0))
    elapsed = time.perf_counter() - start
    assert len(out) == count and all(len(group) == 1 for group in out)
    return count / elapsed


def run_thread_pool(base_url: str, count: int) -> float:
    """Requests a second with 32 threads, each posting with its own synchronous httpx client."""
    local = threading.local()

    def post(chat: list[dict[str, str]]) -> str:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
        body = {"model": "bench", "messages": chat, "n": 1, "max_tokens": 64, "seed": 0}
        response = local.client.post(f"{base_url}/chat/completions", json=body)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(REFERENCE_THREADS) as pool:
        texts = list(pool.map(post, prompts(count)))
    elapsed = time.perf_counter() - start
    assert len(texts) == count
    return count / elapsed


def measured(run, server: subprocess.Popen, base_url: str, count: int) -> tuple[float, float, float]:
    """(requests/s, client CPU ms a request, server CPU ms a request) of one run."""
    client_s, server_s = time.process_time(), process_cpu_s(server.pid)
    rps = run(base_url, count)
    return rps, (time.process_time() - client_s) * 1000 / count, (process_cpu_s(server.pid) - server_s) * 1000 / count


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="320 requests, one run, print only")
    parser.add_argument("--port", type=int, default=8017)
    args = parser.parse_args()
    count, runs = (320, 1) if args.quick else (2560, 3)
    server = start_server(args.port)
    base_url = f"http://127.0.0.1:{args.port}/v1"
    try:
        backend = [measured(run_backend, server, base_url, count) for _ in range(runs)]
        pool = [measured(run_thread_pool, server, base_url, count) for _ in range(runs)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    ideal = CAP / LATENCY_S
    best, pool_best = max(backend), max(pool)
    median, pool_median = statistics.median(r[0] for r in backend), statistics.median(r[0] for r in pool)
    rows = [("openai backend, cap 64 (best run)", best, best[0] / pool_best[0]),
            ("thread pool, 32 sync clients (best run)", pool_best, 1.0)]
    load = os.getloadavg()[0]
    table = ["| path | requests/s | fraction of ideal 320/s | vs thread pool | client CPU ms/request "
             "| server CPU ms/request |", "|---|---|---|---|---|---|"]
    table += [f"| {name} | {rps:.0f} | {rps / ideal:.2f} | {ratio:.2f}x | {client_ms:.2f} | {server_ms:.2f} |"
              for name, (rps, client_ms, server_ms), ratio in rows]
    command = "python bench/backends.py" + (" --quick" if args.quick else "")
    report = "\n".join([
        "# Backends benchmark: openai backend vs a thread pool", "",
        f"`{command}`: {count} requests per run, {runs} run(s) of each path, server latency "
        f"{LATENCY_S * 1000:.0f} ms, test server in its own process on loopback; {os.cpu_count()} CPUs, "
        f"1-minute load average {load:.1f} at the end.", "", *table, "",
        f"Medians: backend {median:.0f} requests/s ({median / ideal:.2f} of ideal), thread pool {pool_median:.0f} "
        f"requests/s; backend / thread pool {median / pool_median:.2f}x.", "",
        f"Target: >= 0.90 of the ideal {ideal:.0f} requests/s. Best run: {best[0] / ideal:.2f} "
        f"({'met' if best[0] / ideal >= 0.9 else 'NOT met'}). At {best[1]:.2f} ms of client CPU a request, "
        f"one free core sustains about {1000 / best[1]:.0f} requests/s through the backend.", ""])
    print(report)
    if not args.quick:
        (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
        (ROOT / "bench" / "results" / "backends.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
