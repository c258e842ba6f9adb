"""The sandbox fork server: a pre-started, pre-imported Python that forks one isolated child per run.

Run as a script (`python -I -S server.py UID`), standard library only, so nothing of the host
(site-packages, torch, threads, open sockets, secrets in the environment) is in the process the
untrusted code is forked from. The host (`pool.py`) starts it in an empty network namespace when
it can (`unshare -n`), with a scrubbed environment, and talks to it one JSON line per run on
stdin/stdout.

Each run is forked fresh (interpreter start-up is paid once per server, not per run) and, before
any untrusted code runs, the child: starts a new session (so the whole group can be killed), sets
CPU/memory/file-size/process/open-file limits, drops to an unprivileged uid of its own when the
server runs as root, clears the environment, moves into an empty temporary directory, points fds
0-2 at /dev/null, reseeds `random`, forgets the modules untrusted code must not reach, and installs
an audit hook that refuses process creation, sockets, ctypes, banned imports and writes outside its
directory. Results stream back one JSON line per test over a pipe, so a run killed half-way still
reports the tests it finished. The verdict (does an output match) is made by the host, not here.
"""

import io
import json
import os
import random
import resource
import select
import shutil
import signal
import sys
import tempfile
import time

# Modules untrusted code commonly and harmlessly uses: imported once here so runs never pay for them
# (and so they import even when the interpreter's own folder is not readable by the dropped uid).
PRELOADED = ("array", "bisect", "cmath", "collections", "copy", "dataclasses", "datetime", "decimal", "enum",
             "fractions", "functools", "hashlib", "heapq", "itertools", "math", "numbers", "operator", "re",
             "statistics", "string", "textwrap", "typing", "unicodedata")
for _name in PRELOADED:
    __import__(_name)

BANNED_MODULES = frozenset({
    "subprocess", "multiprocessing", "threading", "_thread", "ctypes", "_ctypes", "socket", "_socket",
    "ssl", "_ssl", "asyncio", "signal", "_signal", "pty", "fcntl", "mmap", "resource", "select",
    "selectors", "shutil", "tempfile", "_posixsubprocess", "importlib.util",
})
BLOCKED_EVENTS = ("os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
                  "os.kill", "os.killpg", "subprocess.", "socket.", "ctypes.", "os.setuid",
                  "os.setgid", "os.chroot", "pty.", "os.startfile")
PATH_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink",
               "os.link", "os.truncate", "os.utime", "shutil.")
MESSAGE_BYTES_MAX = 1 << 22  # bytes the server accepts back from one run before it kills it


class OutputLimit(Exception):
    """Raised inside the child when a test prints more than its output limit."""


class CappedText(io.StringIO):
    """A stdout that refuses to grow past `limit` characters (a huge print must not eat memory)."""

    def __init__(self, limit):
        super().__init__()
        self.limit, self.exceeded = limit, False

    def write(self, text):
        if self.tell() + len(text) > self.limit:
            self.exceeded = True
            raise OutputLimit(f"more than {self.limit} characters of output")
        return super().write(text)


def _apply_limits(limits, uid):
    mb = 1 << 20
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize_mb"] * mb, limits["fsize_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid is not None:  # root: a uid of our own, so RLIMIT_NPROC counts only this run's processes
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))


def _install_guard(work_dir, report):
    """Audit hook: refuse what no test needs, and say so on the result pipe before raising."""
    def inside(path):
        try:
            real = os.path.realpath(os.fsdecode(path) if not isinstance(path, int) else work_dir)
        except (TypeError, ValueError):
            return False
        return real == work_dir or real.startswith(work_dir + os.sep)

    def refuse(event, detail):
        report({"violation": f"{event} {detail}"[:300]})
        raise PermissionError(f"sandbox: {event} is not allowed")

    def hook(event, args):
        if event.startswith(BLOCKED_EVENTS):
            refuse(event, "")
        elif event == "import" and (args[0] in BANNED_MODULES or args[0].split(".")[0] in BANNED_MODULES):
            refuse(event, args[0])
        elif event == "open" and args[0] is not None:
            mode, flags = args[1], args[2] or 0
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or flags & (
                os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC)
            if writes and not inside(args[0]):
                refuse(event, str(args[0]))
        elif event.startswith(PATH_EVENTS) and args and not inside(args[0]):
            refuse(event, str(args[0]))

    sys.addaudithook(hook)


def _run_tests(program, tests, limits, report):
    """Run every test in a fresh namespace; report raw outputs (the host judges them)."""
    for index, test in enumerate(tests):
        out = CappedText(limits["output_chars"])
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(test.get("input") or ""), out, io.StringIO()
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        status, error, started = "ok", "", time.perf_counter()
        try:
            try:
                exec(compile(program, "<program>", "exec"), namespace)
            except SystemExit as stop:
                if stop.code not in (None, 0):
                    raise
            if test["kind"] == "assert":
                exec(compile(test["source"], "<test>", "exec"), namespace)
        except OutputLimit as error_:
            status, error = "output_limit", str(error_)
        except MemoryError:
            status, error = "memory_limit", "MemoryError"
        except BaseException as error_:  # noqa: BLE001 - the program's own failure is the result
            status, error = "error", f"{type(error_).__name__}: {error_}"[:500]
        if out.exceeded:
            status = "output_limit"
        report({"test": index, "status": status, "error": error, "stdout": out.getvalue(),
                "seconds": round(time.perf_counter() - started, 4)})


def _child(request, work_dir, write_fd, uid):
    os.setsid()
    result = os.fdopen(write_fd, "w", buffering=1)

    def report(message):
        result.write(json.dumps(message) + "\n")

    _apply_limits(request["limits"], uid)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": work_dir, "LANG": "C.UTF-8"})
    os.chdir(work_dir)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, write_fd)
    os.closerange(write_fd + 1, 1 << 16)
    random.seed(os.urandom(16))  # a fork inherits the server's state: nondeterminism must show
    for name in list(sys.modules):
        if name in BANNED_MODULES or name.split(".")[0] in BANNED_MODULES:
            del sys.modules[name]
    _install_guard(work_dir, report)
    _run_tests(request["program"], request["tests"], request["limits"], report)


def _collect(pid, read_fd, wall_s):
    """Read the child's lines until it exits or its wall time runs out; kill its whole group."""
    deadline, chunks, size, timed_out, overflow = time.monotonic() + wall_s, [], 0, False, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MESSAGE_BYTES_MAX:
            overflow = True
            break
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _, status = os.waitpid(pid, 0)
    os.close(read_fd)
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    messages = []
    for line in lines:
        try:
            messages.append(json.loads(line))
        except ValueError:
            break  # a half-written last line of a killed child
    exit_signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return {"messages": messages, "timed_out": timed_out, "overflow": overflow,
            "exit_signal": exit_signal, "exit_code": exit_code}


def serve(uid):
    root = tempfile.mkdtemp(prefix="curriculum-sandbox-")
    os.chmod(root, 0o711)
    for line in sys.stdin:
        request = json.loads(line)
        work_dir = os.path.realpath(tempfile.mkdtemp(dir=root))
        if uid is not None:
            os.chown(work_dir, uid, uid)
        read_fd, write_fd = os.pipe()
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(read_fd)
                _child(request, work_dir, write_fd, uid)
            except BaseException:  # noqa: BLE001 - a child never returns into the server loop
                code = 70
            os._exit(code)
        os.close(write_fd)
        reply = _collect(pid, read_fd, request["limits"]["wall_s"])
        reply["seconds"] = round(time.perf_counter() - started, 4)
        shutil.rmtree(work_dir, ignore_errors=True)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "-" else None)
