"""Helpers for the flows tests: a tiny corpus, build configs, and counting/faulty sim backends."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pipeline.backends import BackendError
from pipeline.backends.sim import SimBackend
from pipeline.config import load_config

FACTS = [
    "The Greyport ferry crosses the bay {a} times each weekday; each crossing carries up to {b} passengers.",
    "Marta's bakery bakes {a} loaves every morning, and each loaf uses {b} grams of flour.",
    "The cycling club has {a} members, and its Sunday ride is {b} kilometres long.",
    "The library owns {a} books and recorded {b} loans last year.",
    "The solar farm holds {a} panels, each rated at {b} watts.",
    "The orchard grows {a} trees per hectare, each yielding {b} kilograms of fruit.",
]


def write_corpus(folder: Path, n_docs: int = 12) -> Path:
    """A folder of `n_docs` short markdown documents with numbers in them."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        text = FACTS[i % len(FACTS)].format(a=12 + 7 * i, b=30 + 11 * i) + f" It opened in {1950 + i}."
        (folder / f"doc-{i:02d}.md").write_text(text + "\n")
    return folder


def write_goalposts(path: Path) -> Path:
    rows = [{"id": "gp-ferry", "domain": "math", "answer": "102960",
             "question": "A ferry makes 14 crossings each weekday and 9 each weekend day; every crossing carries "
                         "180 adults paying 6.50 euros. What is one week's ticket revenue in euros?"},
            {"id": "gp-rle", "domain": "code", "entry_point": "rle",
             "question": "Write rle(s) returning a list of (char, count) tuples for runs of equal characters.",
             "tests": ["assert rle('aab') == [('a', 2), ('b', 1)]", "assert rle('') == []"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_config(tmp_path: Path, *, n_docs: int = 12, docs_per_build: int = 8, shard_size: int = 3,
                goalposts: bool = False, extra: list[str] | None = None):
    corpus = write_corpus(tmp_path / "corpus", n_docs)
    lines = [
        "dataset: toy",
        "corpus:",
        f"  paths: [{corpus}]",
        "  embedding_model: hash-384",
        "  chunk_tokens: 200",
        f"  documents_per_build: {docs_per_build}",
        "models:",
        "  questioner: {backend: sim, model: sim-writer}",
        "  teacher: {backend: sim, model: sim-writer}",
        "  student: {backend: sim, model: sim-student}",
        "darc: {teacher_votes: 4, student_samples: 4, answer_types: [integer, categorical]}",
        f"shard_size: {shard_size}",
        f"output_root: {tmp_path / 'store'}",
    ]
    if goalposts:
        gp = write_goalposts(tmp_path / "goalposts.jsonl")
        lines += ["goalposts:", f"  path: {gp}", "  probe_k: 4", "  rounds: 1", "  attempts: 2",
                  "  student_samples: 4", "  grounding_k: 1"]
    path = tmp_path / "build.yaml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, extra), path


class CountingSim(SimBackend):
    """The real sim, counting prompts and samples; `fail_every` raises BackendError on every k-th call;
    `garbage_when` returns junk text for prompts whose text contains the given marker."""

    prompts = 0
    samples = 0
    _lock = threading.Lock()
    fail_every = 0
    garbage_when: str | None = None
    _calls = 0
    failures = 0

    def generate(self, prompts, sampling):
        cls = type(self)
        with cls._lock:
            cls._calls += 1
            if cls.fail_every and cls._calls % cls.fail_every == 0:
                cls.failures += 1
                raise BackendError("simulated transient failure (503)")
            cls.prompts += len(prompts)
            cls.samples += len(prompts) * sampling.n
        out = super().generate(prompts, sampling)
        if cls.garbage_when:
            from pipeline.backends import Completion

            out = [[Completion("%%% garbage \x00 ###", "stop", c.prompt_tokens, 3) for c in row]
                   if cls.garbage_when in chat[-1]["content"] else row for chat, row in zip(prompts, out, strict=True)]
        return out

    @classmethod
    def reset(cls) -> None:
        cls.prompts = cls.samples = cls._calls = cls.failures = cls.fail_every = 0
        cls.garbage_when = None


def use_counting_sim(monkeypatch) -> type[CountingSim]:
    import flows.engines

    CountingSim.reset()
    monkeypatch.setattr(flows.engines, "make_backend", lambda config: CountingSim(config))
    return CountingSim


def cache_calls(work_cache: Path) -> int:
    """Prompts recorded in every persisted step result's metadata."""
    total = 0
    for path in work_cache.glob("*/*.json"):
        total += json.loads(path.read_text())["meta"]["model_calls"]["prompts"]
    return total
