"""The model engines of one build: one per distinct model, shared by the roles that name it.

The same model often plays questioner, teacher and student (as in the papers); loading it three
times would triple GPU memory, so roles whose model configs differ only in sampling share one
engine. Each role still gets its own `RoleBackend` view carrying that role's config, so a step
that reads `backend.config.sampling` sees its own settings. The view also counts prompts, samples
and tokens and the seconds spent inside the engine: the progress line, the bench's busy share and
the resume test read them. In-process engines (vLLM, transformers) are not safe to call from two
threads at once, so their calls are serialised by a lock; while one shard generates, another
parses on the CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.backends import Backend, Chat, Completion, Sampling, make_backend

# Backends that manage their own concurrency and may be called from several threads.
_THREAD_SAFE = {"sim", "openai"}


@dataclass(slots=True)
class CallStats:
    """What a role (or one task) asked of its model."""

    calls: int = 0  # generate() calls
    prompts: int = 0
    samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    busy_s: float = 0.0  # wall time inside generate(), summed over calls (overlapping calls add up)
    cpu_s: float = 0.0  # CPU time of the calling threads inside generate() (in-process engines' own cost)

    def add(self, other: CallStats) -> None:
        for name in ("calls", "prompts", "samples", "prompt_tokens", "completion_tokens", "busy_s", "cpu_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "prompts": self.prompts, "samples": self.samples,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "busy_s": round(self.busy_s, 3), "cpu_s": round(self.cpu_s, 3)}


class RoleBackend:
    """One role's view of a shared engine: its own config, counters and the engine's lock."""

    def __init__(self, role: str, engine: Backend, config: Any, lock: threading.Lock | None) -> None:
        self.role = role
        self.engine = engine
        self.config = config
        self.name = engine.name
        self.model = engine.model
        self.stats = CallStats()
        self._lock = lock
        self._stats_lock = threading.Lock()
        self._local = threading.local()  # per-task counters, since shards run in threads

    def generate(self, prompts: Sequence[Chat], sampling: Sampling) -> list[list[Completion]]:
        start, cpu = time.perf_counter(), time.thread_time()
        if self._lock is None:
            out = self.engine.generate(prompts, sampling)
        else:
            with self._lock:
                out = self.engine.generate(prompts, sampling)
        call = CallStats(1, len(prompts), sum(len(g) for g in out),
                         sum(g[0].prompt_tokens for g in out if g),
                         sum(c.completion_tokens for g in out for c in g), time.perf_counter() - start,
                         time.thread_time() - cpu)
        with self._stats_lock:
            self.stats.add(call)
        for counter in getattr(self._local, "counters", []):
            counter.add(call)
        return out

    def counting(self) -> _TaskCounter:
        """Count what the current thread asks of this role until the `with` block ends."""
        return _TaskCounter(self)

    def __getattr__(self, name: str) -> Any:  # anything else a step may use (e.g. tokenizer)
        return getattr(self.engine, name)


class _TaskCounter:
    def __init__(self, backend: RoleBackend) -> None:
        self.backend = backend
        self.stats = CallStats()

    def __enter__(self) -> CallStats:
        counters = getattr(self.backend._local, "counters", None)
        if counters is None:
            counters = self.backend._local.counters = []
        counters.append(self.stats)
        return self.stats

    def __exit__(self, *exc: object) -> None:
        self.backend._local.counters.remove(self.stats)


@dataclass
class Engines:
    """The role views of one build, keyed by role name."""

    roles: dict[str, RoleBackend] = field(default_factory=dict)

    def __getitem__(self, role: str) -> RoleBackend:
        return self.roles[role]

    def stats(self) -> dict[str, dict[str, Any]]:
        return {role: backend.stats.as_dict() for role, backend in self.roles.items()}

    def close(self) -> None:
        seen: set[int] = set()
        for backend in self.roles.values():
            closer = getattr(backend.engine, "close", None)
            if closer is not None and id(backend.engine) not in seen:
                seen.add(id(backend.engine))
                closer()


def open_engines(models: Any, factory: Callable[[Any], Backend] | None = None) -> Engines:
    """Build one engine per distinct model config (sampling aside) and a view per role."""
    factory = factory or make_backend  # looked up at call time, so tests can wrap the real backend
    engines: dict[str, tuple[Backend, threading.Lock | None]] = {}
    roles: dict[str, RoleBackend] = {}
    for role in ("questioner", "teacher", "student"):
        config = getattr(models, role)
        share_key = config.model_dump_json(exclude={"sampling"})
        if share_key not in engines:
            engine = factory(config)
            engines[share_key] = (engine, None if config.backend in _THREAD_SAFE else threading.Lock())
        engine, lock = engines[share_key]
        roles[role] = RoleBackend(role, engine, config, lock)
    return Engines(roles)
