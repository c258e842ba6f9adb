"""The nightly schedule against a real Prefect server on loopback: serve, trigger, find the version.

Everything Prefect here runs in subprocesses (server, `curriculum schedule`, `prefect deployment
run`) pointed at the server by PREFECT_API_URL, so the session's test harness is not involved.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.flows_support import make_config

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_until(check, timeout_s: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def test_schedule_serves_a_deployment_and_a_triggered_run_publishes(tmp_path):
    config, config_path = make_config(tmp_path, docs_per_build=4)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": api,
           "PYTHONPATH": str(REPO), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    logs = [tmp_path / "server.log", tmp_path / "serve.log", tmp_path / "trigger.log"]
    procs = []
    try:
        procs.append(spawn([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                           env, logs[0]))

        def healthy() -> bool:
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 120, "the Prefect server", logs)
        procs.append(spawn([sys.executable, "-c", "from flows.cli import main; main()", "schedule",
                            str(config_path), "--cron", "0 2 * * *"], env, logs[1]))

        def deployed() -> bool:
            reply = httpx.get(f"{api}/deployments/name/build-curriculum/nightly-toy", timeout=5)
            return reply.status_code == 200

        wait_until(deployed, 120, "the deployment", logs)
        schedules = httpx.get(f"{api}/deployments/name/build-curriculum/nightly-toy").json()["schedules"]
        assert schedules[0]["schedule"]["cron"] == "0 2 * * *"
        trigger = subprocess.run([str(BIN / "prefect"), "deployment", "run", "build-curriculum/nightly-toy"],
                                 cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert trigger.returncode == 0, trigger.stdout + trigger.stderr
        latest = Path(config.output_root) / "toy" / "LATEST"
        wait_until(latest.exists, 240, "the triggered build to publish", logs)
        assert latest.read_text().strip() == "v0001"
        assert (Path(config.output_root) / "toy" / "v0001" / "manifest.json").exists()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
