"""The `vllm` backend: vLLM's in-process offline engine, the production path on GPUs.

Written against vLLM 0.32 (the `vllm` extra pins it). One `LLM` per model and engine settings per
process (built on first use, then cached), and the whole batch in one `LLM.chat` call so the engine
schedules it; `n` samples per prompt come from `SamplingParams(n=...)`, not repeated prompts. Prompts
are sorted so those sharing a document sit next to each other, which keeps their common prefix hot in
the prefix cache, and the answers are put back in input order. Guided JSON uses
`SamplingParams(structured_outputs=StructuredOutputsParams(json=schema))`, the name since vLLM 0.12
(`guided_decoding` before). vLLM needs a CUDA GPU: where it or the GPU is missing, constructing the
backend raises `BackendUnavailable` with one line saying which. Nothing here runs on the CPU-only CI
except the code around the engine, which is plain functions tested without vLLM.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from pipeline.backends import BackendError, BackendUnavailable, Chat, Completion, Sampling, repeat_greedy
from pipeline.config import VLLMModel

log = logging.getLogger(__name__)

T = TypeVar("T")
GREEDY_BELOW = 1e-5  # vLLM decodes greedily below this temperature (its _SAMPLING_EPS)
ENGINE_SEED = 0  # the engine's own seed; per-request seeds come from Sampling.seed
_ENGINES: dict[tuple[tuple[str, Any], ...], Any] = {}  # one LLM per model + engine settings per process


class VLLMBackend:
    name = "vllm"

    def __init__(self, config: VLLMModel) -> None:
        self.config = config
        self.model = config.model
        problem = availability_problem(importlib.util.find_spec("vllm") is not None, cuda_device_count())
        if problem:
            raise BackendUnavailable(problem)

    def generate(self, prompts: Sequence[Chat], sampling: Sampling) -> list[list[Completion]]:
        if not prompts:
            return []
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        llm = engine(self.config)
        params = SamplingParams(**sampling_kwargs(sampling, StructuredOutputsParams))
        order = shared_prefix_order(prompts)
        outputs = llm.chat([list(prompts[i]) for i in order], params, use_tqdm=False)
        if len(outputs) != len(prompts):
            raise BackendError(f"vllm backend: {len(outputs)} outputs for {len(prompts)} prompts")
        samples = samples_per_prompt(sampling)
        completions = [to_completions(output, samples) for output in outputs]
        if samples < sampling.n:
            completions = [repeat_greedy(one, sampling.n) for [one] in completions]
        return restore_order(order, completions)


def availability_problem(vllm_installed: bool, cuda_devices: int) -> str | None:
    """Why the engine cannot run here, in one line, or None when it can."""
    if not vllm_installed:
        return ("vllm backend: vLLM is not installed; install the extra on a CUDA machine "
                "(pip install 'curriculum[vllm]') or use backend: transformers or openai")
    if cuda_devices == 0:
        return ("vllm backend: no CUDA GPU is visible, and vLLM needs one; "
                "use backend: transformers (CPU) or openai (a remote server)")
    return None


def cuda_device_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def engine_kwargs(config: VLLMModel) -> dict[str, Any]:
    """`LLM(...)` arguments from the role's config; `max_model_len` only when set (else the model's)."""
    kwargs: dict[str, Any] = {"model": config.model, "tensor_parallel_size": config.tensor_parallel_size,
                              "gpu_memory_utilization": config.gpu_memory_utilization, "dtype": config.dtype,
                              "enable_prefix_caching": config.enable_prefix_caching, "seed": ENGINE_SEED}
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    return kwargs


def engine(config: VLLMModel) -> Any:
    """The process's engine for this model and settings, built on first use (minutes for big models)."""
    kwargs = engine_kwargs(config)
    key = tuple(sorted(kwargs.items()))
    if key not in _ENGINES:
        from vllm import LLM

        log.info("vllm backend: starting an engine for %s", config.model)
        _ENGINES[key] = LLM(**kwargs)
    return _ENGINES[key]


def samples_per_prompt(sampling: Sampling) -> int:
    """vLLM refuses n > 1 with greedy decoding: then one sample is drawn and repeated n times."""
    return sampling.n if sampling.temperature >= GREEDY_BELOW else 1


def sampling_kwargs(sampling: Sampling, structured_outputs_params: type | None = None) -> dict[str, Any]:
    """`SamplingParams(...)` arguments; pass vLLM's `StructuredOutputsParams` class for guided JSON."""
    kwargs: dict[str, Any] = {"n": samples_per_prompt(sampling), "temperature": sampling.temperature,
                              "top_p": sampling.top_p, "max_tokens": sampling.max_tokens, "seed": sampling.seed}
    if sampling.json_schema is not None:
        if structured_outputs_params is None:
            raise ValueError("a JSON schema needs vLLM's StructuredOutputsParams class")
        kwargs["structured_outputs"] = structured_outputs_params(json=sampling.json_schema)
    return kwargs


def shared_prefix_order(prompts: Sequence[Chat]) -> list[int]:
    """Prompt indices sorted by their messages, so prompts with a common prefix (the same system
    prompt and document) are adjacent; stable, so equal prompts keep their input order."""
    return sorted(range(len(prompts)), key=lambda i: [(m["role"], m["content"]) for m in prompts[i]])


def restore_order(order: Sequence[int], items: Sequence[T]) -> list[T]:
    """Undo `shared_prefix_order`: `items[k]` answers prompt `order[k]`."""
    restored: list[Any] = [None] * len(order)
    for position, index in enumerate(order):
        restored[index] = items[position]
    return restored


def to_completions(output: Any, n: int) -> list[Completion]:
    """A vLLM `RequestOutput` as our completions: text, finish reason and token counts of each sample."""
    prompt_tokens = len(output.prompt_token_ids or [])
    if len(output.outputs) != n:
        raise BackendError(f"vllm backend: request {output.request_id} returned {len(output.outputs)} samples, not {n}")
    completions = []
    for sample in output.outputs:
        # An aborted or unfinished sample is bad output, not a transient fault: it flows on as data and
        # the steps reject it ("truncated"), instead of failing and retrying the whole shard.
        finish = sample.finish_reason or "unfinished"
        completions.append(Completion(sample.text, finish, prompt_tokens, len(sample.token_ids)))
    return completions
