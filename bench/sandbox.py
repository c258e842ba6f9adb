"""Sandbox throughput: runs per second of a trivial program with 10 stdin/stdout tests, 2 cores.

Reference paths, in the same run: the naive way (a fresh `python` subprocess per test, two at a time)
and the same with `-I -S` (no site-packages: the cheapest fresh interpreter). Ours: `SandboxPool`
with 2 fork servers, every run still a fresh forked child with its limits, uid, temp dir and guard.

    python bench/sandbox.py            # 400 sandbox runs, 40 naive runs
    python bench/sandbox.py --quick    # seconds
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.sandbox import MODEL, Job, SandboxPool, TestCase, normalize_output  # noqa: E402

PROGRAM = "n = int(input())\nprint(n * 2)\n"
TESTS = tuple(TestCase("stdio", input=f"{i}\n", expected=str(2 * i)) for i in range(10))
CORES = 2


def naive_run(path: str, flags: tuple[str, ...]) -> bool:
    """One run the naive way: a fresh interpreter per test."""
    for test in TESTS:
        done = subprocess.run([sys.executable, *flags, path], input=test.input, capture_output=True,
                              text=True, timeout=10)
        if normalize_output(done.stdout) != normalize_output(test.expected):
            return False
    return True


def rate_naive(runs: int, flags: tuple[str, ...]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(PROGRAM)
    started = time.perf_counter()
    with ThreadPoolExecutor(CORES) as executor:
        assert all(executor.map(lambda _: naive_run(handle.name, flags), range(runs)))
    elapsed = time.perf_counter() - started
    Path(handle.name).unlink()
    return runs / elapsed


def rate_sandbox(runs: int) -> float:
    with SandboxPool(workers=CORES) as pool:
        pool.run_many([Job(PROGRAM, TESTS, MODEL)] * CORES)  # start the servers outside the timing
        started = time.perf_counter()
        results = pool.run_many([Job(PROGRAM, TESTS, MODEL)] * runs)
        elapsed = time.perf_counter() - started
    assert all(r.ok for r in results), results[0]
    return runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run that takes seconds")
    parser.add_argument("--out", default=None, help="write the markdown table here")
    args = parser.parse_args()
    sandbox_runs, naive_runs = (60, 6) if args.quick else (400, 40)
    naive = rate_naive(naive_runs, ())
    naive_bare = rate_naive(naive_runs, ("-I", "-S"))
    ours = rate_sandbox(sandbox_runs)
    command = "python bench/sandbox.py" + (" --quick" if args.quick else "")
    table = "\n".join([
        "| path | runs/s (10 tests each, 2 cores) | vs naive |",
        "|---|---|---|",
        f"| naive: fresh `python` subprocess per test | {naive:.1f} | 1.0x |",
        f"| naive, `python -I -S` per test | {naive_bare:.1f} | {naive_bare / naive:.1f}x |",
        f"| `SandboxPool(workers=2)`: fork server, isolated child per run | {ours:.1f} | {ours / naive:.1f}x |",
    ])
    print(table)
    if args.out:
        Path(args.out).write_text(f"# Sandbox throughput\n\nCommand: `{command}` ({sandbox_runs} sandbox runs, "
                                  f"{naive_runs} naive runs; trivial program, 10 stdin/stdout tests per run).\n\n"
                                  f"{table}\n\nTarget: >= 5x the naive rate.\n")


if __name__ == "__main__":
    main()
