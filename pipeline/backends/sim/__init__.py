"""The deterministic simulated model: plays questioner, teacher and student from the prompt alone.

It recognises which task a prompt asks for (each task module offers `matches(chat)` and
`respond(chat, rng, config) -> (text, finish_reason)`), and answers with a random generator seeded by
(seed, model, prompt, sample index): same seed and prompt, same output. It knows the true answer of
every question it writes, so tests can measure label accuracy. Malformed output (broken JSON,
missing keys, truncation, no box) appears at `malformed_rate`.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence

from pipeline.backends import Chat, Completion, Sampling
from pipeline.backends.sim import darc, gasp
from pipeline.config import SimModel

TASKS = (*darc.TASKS, *gasp.TASKS)


def count_tokens(text: str) -> int:
    """A rough token count (4 characters a token), enough for usage accounting."""
    return max(1, len(text) // 4)


def prompt_text(chat: Chat) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in chat)


class SimBackend:
    name = "sim"

    def __init__(self, config: SimModel) -> None:
        self.config = config
        self.model = config.model

    def generate(self, prompts: Sequence[Chat], sampling: Sampling) -> list[list[Completion]]:
        if self.config.latency_s:
            time.sleep(self.config.latency_s)
        return [self._answer(chat, sampling) for chat in prompts]

    def _answer(self, chat: Chat, sampling: Sampling) -> list[Completion]:
        text = prompt_text(chat)
        task = next((t for t in TASKS if t.matches(chat)), None)
        prompt_tokens = count_tokens(text)
        completions = []
        for index in range(sampling.n):
            rng = random.Random(_seed(sampling.seed, self.model, text, index))
            if task is None:
                answer, finish = "I am a simulated model and do not know this task.", "stop"
            else:
                answer, finish = task.respond(chat, rng, self.config)
            if count_tokens(answer) > sampling.max_tokens:
                answer, finish = answer[: sampling.max_tokens * 4], "length"
            completions.append(Completion(answer, finish, prompt_tokens, count_tokens(answer)))
        return completions


def _seed(seed: int | None, model: str, text: str, index: int) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{model}\x1f{index}\x1f{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
