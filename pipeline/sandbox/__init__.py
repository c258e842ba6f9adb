"""Isolated execution of untrusted Python against tests, with limits, behind a pool of fork servers.

    with SandboxPool(workers=2) as pool:
        result = pool.run(Job(program, (TestCase("stdio", input="3\\n", expected="6"),)))
        result.ok, result.reason, result.outputs

Layers, outermost first: a static check of the syntax tree (policy.py: strict allowlist for model
code, denylist for user goalposts); a fork server started with an empty environment, in an empty
network namespace where possible (pool.py); per run a fresh forked child with rlimits on CPU,
address space, file size, processes and open files, its own unprivileged uid when root, an empty
temporary working directory, and an audit hook refusing processes, sockets, ctypes and writes
outside that directory (server.py); a wall-time SIGKILL of the child's whole process group.
"""

from pipeline.sandbox.policy import GOALPOST, MODEL, RUNTIME_ONLY, Policy, check_program
from pipeline.sandbox.pool import SandboxPool, network_isolation
from pipeline.sandbox.verdict import Job, Limits, RunResult, TestCase, normalize_output

__all__ = ["GOALPOST", "MODEL", "Job", "Limits", "Policy", "RUNTIME_ONLY", "RunResult", "SandboxPool", "TestCase",
           "check_program", "network_isolation", "normalize_output"]
