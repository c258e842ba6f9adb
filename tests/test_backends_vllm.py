"""The code around vLLM's engine, tested without vLLM; the engine itself only where a GPU and vLLM are.

Stand-ins shaped like vLLM's `RequestOutput`/`CompletionOutput`/`StructuredOutputsParams` test our
conversion code, not the engine.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from pipeline.backends import BackendError, BackendUnavailable, Completion, Sampling, make_backend
from pipeline.backends.vllm_engine import (
    availability_problem,
    engine_kwargs,
    restore_order,
    sampling_kwargs,
    shared_prefix_order,
    to_completions,
)
from pipeline.config import VLLMModel

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@dataclass
class StructuredOutputsParams:  # vLLM 0.32's field name for a JSON schema is `json`
    json: dict | None = None


def sample(text: str, finish: str = "stop", tokens: int = 3):
    return SimpleNamespace(index=0, text=text, token_ids=list(range(tokens)), finish_reason=finish)


def request_output(*samples, prompt_tokens: int = 11):
    return SimpleNamespace(request_id="7", prompt_token_ids=list(range(prompt_tokens)), outputs=list(samples))


def chat(document: str, question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer in \\boxed{}."},
            {"role": "user", "content": f"Document:\n{document}\n\nQuestion: {question}"}]


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_is_one_clear_line_from_make_backend():
    with pytest.raises(BackendUnavailable, match="vLLM is not installed") as caught:
        make_backend(VLLMModel(backend="vllm", model="Qwen/Qwen2.5-0.5B-Instruct"))
    assert "\n" not in str(caught.value) and "curriculum[vllm]" in str(caught.value)


def test_availability_names_what_is_missing():
    assert "not installed" in availability_problem(vllm_installed=False, cuda_devices=1)
    assert "no CUDA GPU" in availability_problem(vllm_installed=True, cuda_devices=0)
    assert availability_problem(vllm_installed=True, cuda_devices=2) is None


def test_sampling_params_mapping():
    assert sampling_kwargs(Sampling(n=10, temperature=0.6, top_p=0.95, max_tokens=512, seed=3)) == {
        "n": 10, "temperature": 0.6, "top_p": 0.95, "max_tokens": 512, "seed": 3}
    # vLLM refuses n > 1 when greedy: one sample is asked for (and repeated n times by the backend)
    assert sampling_kwargs(Sampling(n=4, temperature=0.0))["n"] == 1
    schema = {"type": "object", "properties": {"question": {"type": "string"}}}
    guided = sampling_kwargs(Sampling(json_schema=schema), StructuredOutputsParams)
    assert guided["structured_outputs"] == StructuredOutputsParams(json=schema)
    assert "structured_outputs" not in sampling_kwargs(Sampling(), StructuredOutputsParams)
    with pytest.raises(ValueError, match="StructuredOutputsParams"):
        sampling_kwargs(Sampling(json_schema=schema))


def test_engine_arguments_from_config():
    config = VLLMModel(backend="vllm", model="m", tensor_parallel_size=2, gpu_memory_utilization=0.8, dtype="bfloat16")
    assert engine_kwargs(config) == {"model": "m", "tensor_parallel_size": 2, "gpu_memory_utilization": 0.8,
                                     "dtype": "bfloat16", "enable_prefix_caching": True, "seed": 0}
    assert engine_kwargs(config.model_copy(update={"max_model_len": 4096}))["max_model_len"] == 4096


def test_prompts_sharing_a_document_are_sent_together_and_answers_come_back_in_input_order():
    prompts = [chat("Doc B", "q1"), chat("Doc A", "q1"), chat("Doc B", "q2"), chat("Doc A", "q2"), chat("Doc B", "q1")]
    order = shared_prefix_order(prompts)
    documents = [prompts[i][1]["content"].split("\n")[1] for i in order]
    assert documents == ["Doc A", "Doc A", "Doc B", "Doc B", "Doc B"]
    assert order == [1, 3, 0, 4, 2]  # stable: the two identical "Doc B, q1" prompts keep their order
    answers = [f"answer to {i}" for i in order]  # what the engine returns, in sorted order
    assert restore_order(order, answers) == [f"answer to {i}" for i in range(5)]


def test_request_output_becomes_completions_with_token_counts():
    output = request_output(sample("\\boxed{12}", "stop", 4), sample("The answer is", "length", 16))
    assert to_completions(output, n=2) == [Completion("\\boxed{12}", "stop", 11, 4),
                                           Completion("The answer is", "length", 11, 16)]


def test_missing_samples_are_backend_errors_and_aborted_samples_are_data():
    with pytest.raises(BackendError, match="returned 1 samples, not 2"):
        to_completions(request_output(sample("x")), n=2)
    [aborted] = to_completions(request_output(sample('{"question": "How m', "abort")), n=1)
    assert aborted.finish_reason == "abort"
    from pipeline.config import DarcConfig
    from pipeline.questions import TRUNCATED, parse_question
    from pipeline.records import Document, Rejected

    with pytest.raises(Rejected) as rejected:  # the questioner step rejects it like a truncated sample
        parse_question(aborted.text, aborted.finish_reason, Document("d", "text"), 1, "integer", DarcConfig())
    assert rejected.value.reason == TRUNCATED and "'abort'" in rejected.value.detail


@pytest.mark.gpu
@pytest.mark.skipif(not (HAS_VLLM and cuda()), reason="needs vLLM and a CUDA GPU")
def test_real_engine_on_the_tiny_model(tiny_model_dir):
    backend = make_backend(VLLMModel(backend="vllm", model=str(tiny_model_dir), gpu_memory_utilization=0.3,
                                     max_model_len=512))
    prompts = [chat("Doc B", "q1"), chat("Doc A", "q1"), chat("Doc B", "q2")]
    out = backend.generate(prompts, Sampling(n=3, max_tokens=8, seed=0))
    assert [len(group) for group in out] == [3, 3, 3]
    assert all(c.finish_reason in ("stop", "length") and c.completion_tokens <= 8 for g in out for c in g)
    guided = backend.generate(prompts[:1], Sampling(max_tokens=64, json_schema={"type": "object"}))
    assert guided[0][0].text.lstrip().startswith("{")
