"""The `transformers` backend, for real, with the tiny random-weight model built offline (conftest)."""

from __future__ import annotations

import pytest

from pipeline.backends import BackendUnavailable, Sampling, make_backend
from pipeline.backends.transformers_local import TransformersBackend, eos_ids, to_completion
from pipeline.config import TransformersModel

CHATS = [
    [{"role": "system", "content": "Answer in \\boxed{}."}, {"role": "user", "content": "A farmer has 12 apples."}],
    [{"role": "user", "content": "How long is the bridge?"}],
    [{"role": "user", "content": "The train leaves at 9 and arrives at 12, so how long is the trip in hours?"}],
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> TransformersBackend:
    return TransformersBackend(TransformersModel(backend="transformers", model=str(tiny_model_dir), device="cpu",
                                                 batch_size=2))


def test_n_samples_per_prompt_with_token_counts(tiny):
    out = tiny.generate(CHATS, Sampling(n=3, max_tokens=6, seed=1))
    assert [len(group) for group in out] == [3, 3, 3]
    tokenizer, _ = tiny._load()
    for chat, group in zip(CHATS, out, strict=True):
        # prompt tokens: the templated prompt without the left padding of its batch
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        assert {c.prompt_tokens for c in group} == {len(tokenizer(text, add_special_tokens=False)["input_ids"])}
        for completion in group:
            assert completion.finish_reason in ("stop", "length") and isinstance(completion.text, str)
            assert 1 <= completion.completion_tokens <= 6
            if completion.finish_reason == "length":
                assert completion.completion_tokens == 6
    assert len({c.text for group in out for c in group}) > 1  # sampled noise, not one repeated string


def test_same_seed_same_output_other_seed_other_output(tiny):
    sampling = Sampling(n=2, max_tokens=8, seed=5)
    first = tiny.generate(CHATS, sampling)
    assert tiny.generate(CHATS, sampling) == first
    assert tiny.generate(CHATS, Sampling(n=2, max_tokens=8, seed=6)) != first


def test_left_padding_does_not_change_greedy_output(tiny):
    greedy = Sampling(n=2, temperature=0.0, max_tokens=5)
    alone = tiny.generate(CHATS[1:2], greedy)[0]
    batched = tiny.generate(CHATS, greedy)[1]  # batched with longer prompts: padded on the left
    assert alone == batched and alone[0] == alone[1]


def test_end_of_turn_token_stops_and_its_absence_means_length(tiny):
    tokenizer, model = tiny._load()
    stops = eos_ids(tokenizer, model)
    assert stops == {tokenizer.convert_tokens_to_ids("<|im_end|>")}
    words = tokenizer.encode("12 apples", add_special_tokens=False)
    end, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.pad_token_id
    stopped = to_completion(words + [end, pad, pad], stops, tokenizer, prompt_tokens=9)
    assert (stopped.text, stopped.finish_reason, stopped.completion_tokens) == ("12 apples", "stop", len(words) + 1)
    cut = to_completion(words, stops, tokenizer, prompt_tokens=9)
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("12 apples", "length", len(words))


def test_make_backend_builds_it_and_a_missing_model_is_one_clear_error(tmp_path):
    missing = TransformersModel(backend="transformers", model=str(tmp_path / "nope"), device="cpu")
    backend = make_backend(missing)
    assert isinstance(backend, TransformersBackend)
    with pytest.raises(BackendUnavailable, match="cannot load model") as caught:
        backend.generate(CHATS[:1], Sampling())
    assert "\n" not in str(caught.value)


def test_cuda_without_a_gpu_is_refused(tiny_model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    backend = TransformersBackend(TransformersModel(backend="transformers", model=str(tiny_model_dir), device="cuda"))
    with pytest.raises(BackendUnavailable, match="no CUDA GPU"):
        backend.generate(CHATS[:1], Sampling())


@pytest.mark.gpu
def test_runs_on_the_gpu(tiny_model_dir):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    backend = TransformersBackend(TransformersModel(backend="transformers", model=str(tiny_model_dir), device="cuda"))
    out = backend.generate(CHATS, Sampling(n=2, max_tokens=4, seed=0))
    assert [len(group) for group in out] == [2, 2, 2]
