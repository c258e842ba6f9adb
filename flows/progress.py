"""Progress of a running build: shards done per step, records, votes, tokens and an ETA.

Tasks report here as each shard-and-step finishes; whoever wants to show it (the CLI) subscribes
with `subscribe(callback)` and receives one `Snapshot` per event. Library code never prints. The
ETA assumes the remaining shard-steps cost what the finished, recomputed ones cost on average
(cached ones cost nothing and are not counted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_listeners: list[Callable[[Snapshot], None]] = []


def subscribe(callback: Callable[[Snapshot], None]) -> Callable[[], None]:
    """Receive progress snapshots; returns a function that unsubscribes."""
    _listeners.append(callback)
    return lambda: _listeners.remove(callback) if callback in _listeners else None


@dataclass(slots=True)
class StepProgress:
    shards: int = 0
    done: int = 0
    cached: int = 0
    kept: int = 0
    rejected: int = 0
    samples: int = 0
    tokens: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class Snapshot:
    step: str
    message: str
    steps: dict[str, StepProgress]
    elapsed_s: float
    eta_s: float | None

    def line(self) -> str:
        s = self.steps.get(self.step)
        parts = [f"[{self.step}]"]
        if s is not None and s.shards:
            parts.append(f"shard {s.done}/{s.shards}" + (f" ({s.cached} cached)" if s.cached else ""))
            parts.append(f"kept {s.kept:,} rejected {s.rejected:,}")
            if s.samples:
                parts.append(f"samples {s.samples:,}")
            if s.tokens:
                parts.append(f"tokens {s.tokens:,}")
        if self.message:
            parts.append(self.message)
        parts.append(f"elapsed {_clock(self.elapsed_s)}")
        if self.eta_s is not None:
            parts.append(f"ETA {_clock(self.eta_s)}")
        return " · ".join(parts)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class Progress:
    """Thread-safe counters for one build."""

    steps: dict[str, StepProgress] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, step: str, shards: int) -> None:
        with self._lock:
            self.steps.setdefault(step, StepProgress()).shards += shards

    def advance(self, step: str, *, kept: int, rejected: int, cached: bool, samples: int = 0,
                tokens: int = 0, seconds: float = 0.0) -> None:
        with self._lock:
            s = self.steps.setdefault(step, StepProgress())
            s.done += 1
            s.cached += int(cached)
            s.kept += kept
            s.rejected += rejected
            s.samples += samples
            s.tokens += tokens
            s.seconds += seconds
        self.emit(step)

    def note(self, step: str, message: str) -> None:
        self.emit(step, message)

    def emit(self, step: str, message: str = "") -> None:
        with self._lock:
            snapshot = Snapshot(step, message, {k: StepProgress(**{f: getattr(v, f) for f in v.__slots__})
                                                for k, v in self.steps.items()},
                                time.perf_counter() - self.started, self._eta())
        for callback in list(_listeners):
            callback(snapshot)

    def _eta(self) -> float | None:
        computed = [(s.seconds, s.done - s.cached) for s in self.steps.values() if s.done > s.cached]
        if not computed:
            return None
        mean = sum(sec for sec, _ in computed) / sum(n for _, n in computed)
        remaining = sum(s.shards - s.done for s in self.steps.values())
        return mean * remaining
