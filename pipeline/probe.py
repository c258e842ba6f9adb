"""GASP probe: the student attempts each goalpost k times; pass@k; those never solved are targets.

Math attempts are judged by the DARC core's answer equivalence against the goalpost's answer; code
attempts run in the sandbox (strict model-code policy) against the goalpost's own tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb

from pipeline.answers import fits_type, normalize
from pipeline.backends import Backend, Sampling, usage
from pipeline.config import GoalpostConfig, SamplingConfig
from pipeline.difficulty import count_correct
from pipeline.gasp_prompts import code_chat, extract_program, probe_chat
from pipeline.goalposts import Goalpost
from pipeline.sandbox import MODEL, Job, SandboxPool

ANSWER_TYPE_ORDER = ("integer", "float", "boolean", "expression", "string")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"pass_at_k: k={k} exceeds the {n} samples drawn")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def answer_type_of(answer: str) -> str:
    """The narrowest DARC answer type a goalpost's answer fits (integer before float ...)."""
    for kind in ANSWER_TYPE_ORDER:
        normalized = normalize(answer, kind)
        if normalized is not None and fits_type(normalized, kind):
            return kind
    return "string"


@dataclass(slots=True)
class Probe:
    goalpost_id: str
    domain: str
    n: int  # attempts drawn
    correct: int
    k: int
    pass_at_k: float
    pass_at_1: float


@dataclass(slots=True)
class ProbeResult:
    probes: list[Probe]
    targets: list[Goalpost]  # goalposts with no success in n attempts
    usage: dict[str, int] = field(default_factory=dict)


def probe_goalposts(goalposts: list[Goalpost], student: Backend, gasp_cfg: GoalpostConfig, seed: int,
                    pool: SandboxPool | None = None, sampling: SamplingConfig | None = None) -> ProbeResult:
    """Draw `probe_k` student attempts per goalpost in one batch; count successes; pick targets."""
    settings = sampling or SamplingConfig()
    k = gasp_cfg.probe_k
    chats = [probe_chat(g.question) if g.domain == "math" else code_chat(g.question, g.entry_point)
             for g in goalposts]
    call = Sampling.of(settings, k, seed)
    generations = student.generate(chats, call) if chats else []
    correct = _count_code(goalposts, generations, pool)
    probes, targets = [], []
    for index, (goalpost, completions) in enumerate(zip(goalposts, generations, strict=True)):
        if goalpost.domain == "math":
            hits = count_correct(completions, goalpost.answer, answer_type_of(goalpost.answer))
        else:
            hits = correct[index]
        n = len(completions)
        probes.append(Probe(goalpost.goalpost_id, goalpost.domain, n, hits, k,
                            pass_at_k(n, hits, min(k, n)), pass_at_k(n, hits, 1)))
        if hits == 0:
            targets.append(goalpost)
    return ProbeResult(probes, targets, usage(generations))


def _count_code(goalposts, generations, pool: SandboxPool | None) -> dict[int, int]:
    jobs, owners = [], []
    for index, (goalpost, completions) in enumerate(zip(goalposts, generations, strict=True)):
        if goalpost.domain != "code":
            continue
        for completion in completions:
            if completion.finish_reason == "stop":
                jobs.append(Job(extract_program(completion.text), goalpost.tests, MODEL))
                owners.append(index)
    counts = {i: 0 for i, g in enumerate(goalposts) if g.domain == "code"}
    if not jobs:
        return counts
    own = pool is None
    pool = pool or SandboxPool()
    try:
        for owner, result in zip(owners, pool.run_many(jobs), strict=True):
            counts[owner] += result.ok
    finally:
        if own:
            pool.close()
    return counts
