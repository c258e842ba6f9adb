"""Hostile programs: each is contained, ends within its limits, leaves the host unharmed, and is
recorded with its reason. Each runs twice: against the static check (what model code meets) and
straight at the runtime layer (`RUNTIME_ONLY`), so both layers are shown to hold on their own."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from pipeline.sandbox import MODEL, RUNTIME_ONLY, Job, Limits, SandboxPool, TestCase

LIMITS = Limits(cpu_s=1, wall_s=2.0, memory_mb=256, fsize_mb=1, output_chars=100_000)
ONE_TEST = (TestCase("stdio", input="", expected="ok"),)


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2) as sandbox:
        yield sandbox


def run(pool, program, policy=RUNTIME_ONLY, limits=LIMITS):
    started = time.monotonic()
    result = pool.run(Job(program, ONE_TEST, policy, limits))
    elapsed = time.monotonic() - started
    assert elapsed < limits.wall_s + 3, f"run took {elapsed:.1f} s"
    assert not result.ok
    return result


def test_fork_bomb_is_refused(pool):
    bomb = "import os\nwhile True:\n    os.fork()\n"
    assert run(pool, bomb).reason == "sandbox_violation"
    assert run(pool, bomb, MODEL).reason == "banned_import"


def test_fork_bomb_through_posix_is_refused(pool):
    assert run(pool, "import posix\nwhile True:\n    posix.fork()\n").reason == "sandbox_violation"


def test_memory_bomb_hits_the_memory_limit(pool):
    result = run(pool, "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))\n")
    assert result.reason == "memory_limit"


def test_infinite_loop_is_killed(pool):
    result = run(pool, "while True:\n    pass\n")
    assert result.reason in ("cpu_limit", "timeout")


def test_sleeping_program_is_killed_at_wall_time(pool):
    assert run(pool, "import time\ntime.sleep(60)\n").reason == "timeout"


def test_busy_loop_ignoring_signals_is_killed(pool):
    program = ("import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):\n"
               "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n")
    assert run(pool, program, MODEL).reason == "banned_import"
    # the runtime layer refuses the import; the loop alone dies by RLIMIT_CPU's SIGKILL or the wall kill
    assert run(pool, program).reason == "sandbox_violation"
    assert run(pool, "x = 0\nwhile True:\n    x += 1\n").reason in ("cpu_limit", "timeout")


def test_huge_stdout_is_cut(pool):
    result = run(pool, "while True:\n    print('x' * 10000)\n")
    assert result.reason == "output_limit"
    assert len(result.outputs[0]) <= LIMITS.output_chars


def test_huge_raw_write_to_fd1_goes_nowhere(pool):
    result = run(pool, "import os\nfor _ in range(1000):\n    os.write(1, b'x' * 65536)\nprint('done')\n")
    assert result.reason == "wrong_answer" and result.outputs[0] == "done\n"


def test_writing_outside_the_work_dir_is_refused(pool, tmp_path):
    target = tmp_path / "escaped.txt"
    os.chmod(tmp_path, 0o777)
    result = run(pool, f"open({str(target)!r}, 'w').write('pwned')\n")
    assert result.reason == "sandbox_violation"
    assert not target.exists()
    assert run(pool, f"open({str(target)!r}, 'w')\n", MODEL).reason == "banned_call"


def test_writing_inside_the_work_dir_is_allowed_and_gone_after(pool):
    program = "open('scratch.txt', 'w').write('hi')\nprint(open('scratch.txt').read() == 'hi' and 'ok')\n"
    result = pool.run(Job(program, ONE_TEST, RUNTIME_ONLY, LIMITS))
    assert result.ok, result


def test_environment_secrets_are_not_visible(pool, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    fresh = SandboxPool(workers=1)  # started after the secret is set, like a real build
    try:
        result = fresh.run(Job("import os\nprint(os.environ.get('HF_TOKEN', 'absent'), dict(os.environ))\n",
                               ONE_TEST, RUNTIME_ONLY, LIMITS))
    finally:
        fresh.close()
    assert result.reason == "wrong_answer"
    assert "hf_secret_value_123" not in result.outputs[0] and result.outputs[0].startswith("absent")
    assert run(pool, "import os\nprint(os.environ['HF_TOKEN'])\n", MODEL).reason == "banned_import"


def test_opening_a_socket_is_refused(pool):
    program = "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 9))\n"
    assert run(pool, program).reason == "sandbox_violation"
    assert run(pool, program, MODEL).reason == "banned_import"


def test_importing_ctypes_to_escape_is_refused(pool):
    program = "import ctypes\nctypes.CDLL(None).system(b'touch /tmp/curriculum-pwned')\n"
    assert run(pool, program).reason == "sandbox_violation"
    assert run(pool, program, MODEL).reason == "banned_import"
    assert not Path("/tmp/curriculum-pwned").exists()


def test_dunder_escape_is_refused_statically(pool):
    program = "print([c for c in ().__class__.__base__.__subclasses__()])\n"
    assert run(pool, program, MODEL).reason == "banned_attribute"


def test_host_is_unharmed_and_pool_keeps_working(pool):
    run(pool, "import os\nos._exit(9)\n")
    probe = socket.socket()  # the host still has its network and its processes
    probe.close()
    result = pool.run(Job("print(input())\n", (TestCase("stdio", input="ok\n", expected="ok"),), MODEL, LIMITS))
    assert result.ok
