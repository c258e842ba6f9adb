"""The one interface every model role goes through, and the factory that picks a backend.

A backend takes a batch of chat prompts and sampling settings and returns, for each prompt, `n`
completions with their text, finish reason and token counts. Backends:

- `sim`: deterministic simulated model for tests, quickstart and CPU benchmarks (never chosen silently);
- `openai`: any OpenAI-compatible server, async with bounded concurrency and retries;
- `transformers`: small models on CPU or one GPU without vLLM;
- `vllm`: the in-process offline engine, the production path on GPUs.

Heavy libraries are imported inside each backend module, so importing this package is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pipeline.config import ModelConfig

Chat = list[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": "..."}]


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling settings for one call. `json_schema` asks for guided JSON where the backend can."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    json_schema: dict[str, Any] | None = None

    @classmethod
    def of(cls, settings: Any, n: int, seed: int | None, json_schema: dict[str, Any] | None = None) -> Sampling:
        """One call's sampling from a role's `SamplingConfig` (temperature, top_p, max_tokens)."""
        return cls(n=n, temperature=settings.temperature, top_p=settings.top_p, max_tokens=settings.max_tokens,
                   seed=seed, json_schema=json_schema)


@dataclass(frozen=True, slots=True)
class Completion:
    """One sampled answer. `finish_reason` is "stop" for a complete answer; anything else ("length",
    "abort", ...) is incomplete output, which the steps reject rather than parse."""

    text: str
    finish_reason: str
    prompt_tokens: int  # tokens of the prompt it answers (repeated across its n siblings)
    completion_tokens: int


def repeat_greedy(sample: Completion, n: int) -> list[Completion]:
    """One greedy answer standing in for `n` samples (servers refuse n > 1 without sampling); the
    copies carry no completion tokens, so token usage counts what the model generated, once."""
    return [sample] + [replace(sample, completion_tokens=0)] * (n - 1)


class Backend(Protocol):
    """A model behind one role. `generate` returns one list of `sampling.n` completions per prompt."""

    name: str
    model: str

    def generate(self, prompts: Sequence[Chat], sampling: Sampling) -> list[list[Completion]]: ...


class BackendError(RuntimeError):
    """A transient failure after the backend's own retries: the orchestrator may retry the task."""


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (missing package, no GPU, server unreachable): a clear, final error."""


def usage(generations: Sequence[Sequence[Completion]]) -> dict[str, int]:
    """Token usage of a batch: prompt tokens once per prompt, completion tokens per sample."""
    prompt = sum(g[0].prompt_tokens for g in generations if g)
    completion = sum(c.completion_tokens for g in generations for c in g)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "calls": len(generations)}


def add_usage(total: dict[str, int], more: dict[str, int]) -> None:
    """Add one usage dict into another, key by key."""
    for key, value in more.items():
        total[key] = total.get(key, 0) + value


def for_role(role: str, counts: dict[str, int]) -> dict[str, int]:
    """Usage keys booked to a role (`teacher.prompt_tokens`), for steps that call several roles."""
    return {f"{role}.{key}": value for key, value in counts.items()}


def preflight(models: Any) -> None:
    """Cheap checks before a build spends time: each distinct server is reachable, vLLM can run here.

    Raises `BackendUnavailable` with one line naming the role and what is missing. Loads no weights.
    """
    for role in ("questioner", "teacher", "student"):
        config = getattr(models, role)
        problem = None
        if config.backend == "openai":
            from pipeline.backends.openai_server import reachability_problem

            problem = reachability_problem(config)
        elif config.backend == "vllm":
            import importlib.util

            from pipeline.backends.vllm_engine import availability_problem, cuda_device_count

            problem = availability_problem(importlib.util.find_spec("vllm") is not None, cuda_device_count())
        if problem:
            raise BackendUnavailable(f"models.{role}: {problem}")


def make_backend(config: ModelConfig) -> Backend:
    """Build the backend a role's config names; imports only that backend's module."""
    if config.backend == "sim":
        from pipeline.backends.sim import SimBackend

        return SimBackend(config)
    if config.backend == "openai":
        from pipeline.backends.openai_server import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "transformers":
        from pipeline.backends.transformers_local import TransformersBackend

        return TransformersBackend(config)
    if config.backend == "vllm":
        from pipeline.backends.vllm_engine import VLLMBackend

        return VLLMBackend(config)
    raise BackendUnavailable(f"unknown backend {config.backend!r}")
