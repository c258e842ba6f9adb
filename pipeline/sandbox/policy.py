"""Static checks run on a program's syntax tree BEFORE it is sent to the sandbox.

Two policies, because two kinds of code reach the sandbox:

- `MODEL` (strict, for anything a model wrote: reference programs of code variants, student
  programs): imports only from an allowlist of pure-computation modules, no `open`/`eval`/`exec`/
  `compile`/`__import__`/`getattr`-family builtins, and no dunder attribute access (the usual route
  from any object to `object.__subclasses__()` and out of Python-level guards).
- `GOALPOST` (a denylist, for user-supplied goalposts and their reference solutions, which a team
  chose to trust enough to ship): HumanEval's canonical solutions use `math`, `random`, `hashlib`,
  `collections`, `re`, `string`, `copy` and one `eval`; all must pass. Process, thread, socket,
  ctypes and similar modules and `os.system`-like calls are still refused.

Both policies run under the same runtime isolation (server.py): the static check is a cheap first
filter with a clear reason, not the security boundary.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from pipeline.records import Rejected

SYNTAX_ERROR = "syntax_error"
BANNED_IMPORT = "banned_import"
BANNED_CALL = "banned_call"
BANNED_ATTRIBUTE = "banned_attribute"

DENIED_MODULES = frozenset({
    "subprocess", "multiprocessing", "threading", "_thread", "ctypes", "_ctypes", "socket", "_socket",
    "ssl", "asyncio", "signal", "pty", "fcntl", "mmap", "resource", "shutil", "importlib", "pickle",
    "marshal", "http", "urllib", "ftplib", "smtplib", "telnetlib", "requests", "httpx", "concurrent",
    "sys_monitoring", "gc", "inspect", "code", "codeop", "pdb", "builtins", "posix", "os",
    "pathlib", "tempfile", "glob", "io", "webbrowser", "selectors", "select", "cffi",
})
ALLOWED_MODULES = frozenset({
    "math", "cmath", "random", "itertools", "functools", "collections", "heapq", "bisect", "re",
    "string", "fractions", "decimal", "statistics", "typing", "dataclasses", "copy", "operator",
    "hashlib", "json", "sys", "array", "enum", "numbers", "datetime", "textwrap", "unicodedata",
})
DENIED_OS_CALLS = frozenset({
    "system", "popen", "fork", "forkpty", "kill", "killpg", "spawnl", "spawnv", "spawnve", "spawnvp",
    "execl", "execle", "execlp", "execv", "execve", "execvp", "execvpe", "posix_spawn", "posix_spawnp",
    "remove", "unlink", "rmdir", "removedirs", "rename", "replace", "chmod", "chown", "setuid",
})
DENIED_BUILTINS_GOALPOST = frozenset({"__import__", "breakpoint"})
DENIED_BUILTINS_MODEL = DENIED_BUILTINS_GOALPOST | frozenset({
    "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "memoryview", "help", "exit", "quit",
})
ALLOWED_DUNDERS = frozenset({"__init__", "__name__"})


@dataclass(frozen=True, slots=True)
class Policy:
    """Which static checks apply: `strict` is the model-code allowlist, else the goalpost denylist."""

    name: str
    strict: bool
    static: bool = True  # False only for tests of the runtime layer behind the static check

    def module_ok(self, module: str) -> bool:
        root = module.split(".")[0]
        if self.strict:
            return root in ALLOWED_MODULES
        return root not in DENIED_MODULES or module in ("os", "os.path")  # os itself: calls checked


MODEL = Policy("model", strict=True)
GOALPOST = Policy("goalpost", strict=False)
RUNTIME_ONLY = Policy("runtime_only", strict=False, static=False)  # tests: exercise the runtime guard


def check_program(source: str, policy: Policy) -> None:
    """Raise `Rejected` (syntax_error, banned_import, banned_call, banned_attribute) or return."""
    if not policy.static:
        return
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        raise Rejected(SYNTAX_ERROR, f"line {getattr(error, 'lineno', '?')}: {error}") from None
    denied_builtins = DENIED_BUILTINS_MODEL if policy.strict else DENIED_BUILTINS_GOALPOST
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not policy.module_ok(alias.name):
                    raise Rejected(BANNED_IMPORT, f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or not policy.module_ok(module):
                raise Rejected(BANNED_IMPORT, f"line {node.lineno}: from {'.' * node.level}{module} import")
        elif isinstance(node, ast.Call):
            _check_call(node, denied_builtins)
        elif isinstance(node, ast.Attribute) and policy.strict:
            if node.attr.startswith("__") and node.attr not in ALLOWED_DUNDERS:
                raise Rejected(BANNED_ATTRIBUTE, f"line {node.lineno}: .{node.attr}")


def _check_call(node: ast.Call, denied_builtins: frozenset[str]) -> None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in denied_builtins:
        raise Rejected(BANNED_CALL, f"line {node.lineno}: {func.id}()")
    if isinstance(func, ast.Attribute) and func.attr in DENIED_OS_CALLS:
        owner = func.value
        if isinstance(owner, ast.Name) and owner.id in ("os", "posix", "shutil"):
            raise Rejected(BANNED_CALL, f"line {node.lineno}: {owner.id}.{func.attr}()")
