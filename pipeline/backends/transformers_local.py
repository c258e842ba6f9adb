"""The `transformers` backend: small models on CPU or one GPU, without vLLM.

For a laptop, a CI box, or a GPU box where vLLM is not installed. Prompts go through the tokenizer's
chat template, are left-padded into batches of `batch_size`, and each batch is one `generate` call
with `num_return_sequences=n`. A sample that ends without an end-of-turn token hit `max_tokens` and is
reported as `finish_reason="length"`. `seed` seeds torch's generator before the call, so the same seed
and prompts give the same output on the same device. Guided JSON is not available here: the schema
is ignored and the parsers downstream reject what does not parse.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pipeline.backends import BackendUnavailable, Chat, Completion, Sampling
from pipeline.config import TransformersModel

log = logging.getLogger(__name__)


class TransformersBackend:
    name = "transformers"

    def __init__(self, config: TransformersModel) -> None:
        self.config = config
        self.model = config.model
        self._loaded: tuple[Any, Any] | None = None  # (tokenizer, model), loaded on first use

    def generate(self, prompts: Sequence[Chat], sampling: Sampling) -> list[list[Completion]]:
        import torch

        tokenizer, model = self._load()
        if sampling.json_schema is not None:
            log.debug("transformers backend: no guided JSON; the schema is not enforced")
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        size = self.config.batch_size
        out: list[list[Completion]] = []
        for start in range(0, len(prompts), size):
            out += self._generate_batch(tokenizer, model, prompts[start:start + size], sampling)
        return out

    def _generate_batch(self, tokenizer: Any, model: Any, chats: Sequence[Chat],
                        sampling: Sampling) -> list[list[Completion]]:
        import torch

        texts = [tokenizer.apply_chat_template(list(chat), add_generation_prompt=True, tokenize=False)
                 for chat in chats]
        # The template already holds the special tokens; adding BOS again would double it.
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        sampled = sampling.temperature > 0
        # Greedy decoding cannot return several sequences; its n samples are all the same one.
        per_prompt = sampling.n if sampled else 1
        options: dict[str, Any] = {"max_new_tokens": sampling.max_tokens, "num_return_sequences": per_prompt,
                                   "pad_token_id": tokenizer.pad_token_id, "eos_token_id": sorted(eos_ids(tokenizer, model))}
        if sampled:  # top_k=0: no top-k cut, as in vLLM and the OpenAI API
            options.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            sequences = model.generate(**inputs, **options)
        new_tokens = sequences[:, inputs["input_ids"].shape[1]:].tolist()
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        stops = eos_ids(tokenizer, model)
        out = []
        for i in range(len(chats)):
            rows = new_tokens[i * per_prompt:(i + 1) * per_prompt]
            group = [to_completion(row, stops, tokenizer, int(prompt_tokens[i])) for row in rows]
            out.append(group * (sampling.n // per_prompt))
        return out

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_model(self.config)
        return self._loaded


def to_completion(tokens: list[int], stops: set[int], tokenizer: Any, prompt_tokens: int) -> Completion:
    """One generated row: text up to the first end-of-turn token; no such token means truncated."""
    end = next((i for i, token in enumerate(tokens) if token in stops), None)
    if end is None:
        return Completion(tokenizer.decode(tokens, skip_special_tokens=True), "length", prompt_tokens, len(tokens))
    # The end-of-turn token counts as generated, as in vLLM's token_ids.
    return Completion(tokenizer.decode(tokens[:end], skip_special_tokens=True), "stop", prompt_tokens, end + 1)


def eos_ids(tokenizer: Any, model: Any) -> set[int]:
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def pick_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"transformers backend: device {requested!r} asked for, but no CUDA GPU is "
                                 "visible; use device: cpu or auto")
    return requested


def pick_dtype(requested: str, device: str) -> Any:
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32  # half precision on CPU is slow and poorly supported


def load_model(config: TransformersModel) -> tuple[Any, Any]:
    """Tokenizer (left padding, with a pad token) and model in eval mode on the chosen device."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise BackendUnavailable(f"transformers backend: transformers is not installed ({error})") from None
    device = pick_device(config.device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.model)
        model = AutoModelForCausalLM.from_pretrained(config.model, dtype=pick_dtype(config.dtype, device))
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BackendUnavailable(f"transformers backend: cannot load model {config.model!r}: {first_line}") from None
    if tokenizer.chat_template is None:
        raise BackendUnavailable(f"transformers backend: {config.model!r} has no chat template in its tokenizer")
    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device).eval()
    log.info("transformers backend: loaded %s on %s", config.model, device)
    return tokenizer, model
