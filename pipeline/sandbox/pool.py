"""The host side of the sandbox: a pool of pre-started fork servers, one run in flight on each.

`SandboxPool.run_many(jobs)` statically checks each job (policy.py), sends it to an idle server
(server.py forks an isolated child per run), and judges the reply (verdict.py). A server that dies or
hangs is killed and restarted, and only its run is recorded as `sandbox_crash`: a crash of one run
never stops the build. Servers start in an empty network namespace when `unshare -n` works here
(root on Linux), and otherwise rely on the audit hook to refuse sockets; `isolation` says which.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from pipeline.records import Rejected
from pipeline.sandbox.policy import check_program
from pipeline.sandbox.verdict import SANDBOX_CRASH, Job, RunResult, judge

log = logging.getLogger(__name__)

SERVER_PATH = Path(__file__).with_name("server.py")
SANDBOX_UID_BASE = 61000  # uids of runs when the host is root: one per server slot, no login, no files
SERVER_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # the whole environment a server sees
REPLY_MARGIN_S = 10.0  # time over a run's wall limit before the host gives up on its server


@lru_cache(maxsize=1)
def network_isolation() -> str:
    """'netns' when `unshare -n` works here (an empty network namespace), else 'audit-hook'."""
    unshare = shutil.which("unshare")
    if unshare:
        try:
            done = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10)
            if done.returncode == 0:
                return "netns"
        except (OSError, subprocess.SubprocessError):
            pass
    return "audit-hook"


class _Server:
    """One fork server process and its pipes."""

    def __init__(self, slot: int) -> None:
        self.uid = SANDBOX_UID_BASE + slot if os.geteuid() == 0 else None
        command = [sys.executable, "-I", "-S", str(SERVER_PATH), str(self.uid) if self.uid is not None else "-"]
        if network_isolation() == "netns":
            command = [shutil.which("unshare") or "unshare", "-n", *command]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=SERVER_ENV, cwd="/",
                                        start_new_session=True)
        self.buffer = b""

    def call(self, request: dict, timeout_s: float) -> dict | None:
        """Send one request and wait for its reply line; None when the server died or hung."""
        import json

        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        deadline, fd = time.monotonic() + timeout_s, self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                if time.monotonic() >= deadline:
                    return None
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


class SandboxPool:
    """`workers` fork servers; `run_many` keeps all of them busy. Use as a context manager."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)
        self._idle: queue.Queue[_Server] = queue.Queue()
        self._servers: list[_Server] = []
        self._next_slot = 0

    @property
    def isolation(self) -> dict[str, str]:
        return {"network": network_isolation(), "uid": "dropped" if os.geteuid() == 0 else "unchanged",
                "guard": "audit-hook", "limits": "rlimit cpu/as/fsize/nproc/nofile + wall kill"}

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for server in self._servers:
            try:
                server.process.stdin.close()
                server.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                server.kill()
        self._servers.clear()
        self._idle = queue.Queue()

    def run(self, job: Job) -> RunResult:
        return self.run_many([job])[0]

    def run_many(self, jobs: Sequence[Job]) -> list[RunResult]:
        """Run jobs on all servers at once; results in the order of `jobs`."""
        while len(self._servers) < min(self.workers, max(1, len(jobs))):
            self._start()
        if len(jobs) == 1:
            return [self._run_one(jobs[0])]
        with ThreadPoolExecutor(max_workers=len(self._servers)) as executor:
            return list(executor.map(self._run_one, jobs))

    def _start(self) -> None:
        server = _Server(self._next_slot % 64)
        self._next_slot += 1
        self._servers.append(server)
        self._idle.put(server)

    def _run_one(self, job: Job) -> RunResult:
        try:
            check_program(job.program, job.policy)
        except Rejected as rejected:
            return RunResult(status="rejected", reason=rejected.reason, detail=rejected.detail,
                             outputs=[None] * len(job.tests), tests_total=len(job.tests))
        request = {"program": job.program, "tests": [t.to_wire() for t in job.tests],
                   "limits": {"cpu_s": job.limits.cpu_s, "wall_s": job.limits.wall_s,
                              "memory_mb": job.limits.memory_mb, "fsize_mb": job.limits.fsize_mb,
                              "nproc": job.limits.nproc, "output_chars": job.limits.output_chars}}
        server = self._idle.get()
        reply = server.call(request, job.limits.wall_s + REPLY_MARGIN_S)
        if reply is None:  # the server died or hung: replace it, record only this run
            log.warning("sandbox server %s failed; restarting it", server.process.pid)
            server.kill()
            self._servers.remove(server)
            replacement = _Server(self._next_slot % 64)
            self._next_slot += 1
            self._servers.append(replacement)
            self._idle.put(replacement)
            return RunResult(status="failed", reason=SANDBOX_CRASH, detail="the sandbox server died or hung",
                             outputs=[None] * len(job.tests), tests_total=len(job.tests))
        self._idle.put(server)
        return judge(job, reply)
