"""The order of a build's shard-steps: each one is submitted the moment its inputs are ready.

    questions[i, b] (all b) -> dedup[i] (after dedup[i-1]) -> labels[i, b'] -> difficulty[i, b']
    probe[j] -> ladders[j]

(i: shard of `config.shard_size` documents; b, b': its smaller batches, each its own task and
cache entry, see PARTS_PER_SHARD.)

Dedup streams in shard order: shard i's questions are checked against themselves and against every
question kept from shards 0..i-1, so shard i's labels start while later shards are still writing
questions, and the kept set is the one a single dedup over all questions in shard order keeps.
No step waits for all shards of the step before it, so the model is never left idle while the
CPU deduplicates or parses one shard: other shards' requests are in flight meanwhile.

The loop runs in the flow's thread: it waits for whichever submitted task finishes first and
submits what that unblocks (a worker thread never sits waiting on another task's future). Dedup,
cheap and sequential by nature, runs in this thread too. Results are kept per shard and merged in
shard order, so the build's output does not depend on which task happened to finish first.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from flows import corpus as corpus_io
from flows.steps import (
    BuildContext,
    dedup_key,
    dedup_task,
    difficulty_task,
    labels_task,
    ladders_task,
    probe_task,
    questions_task,
)
from pipeline.backends import add_usage
from pipeline.records import Document, StepOutput

# Each step of a shard runs as up to PARTS_PER_SHARD tasks, so that tasks end at different times:
# while some parse on the CPU, others have requests in flight, and the last shard's tail is short.
# Parts are no smaller than the minimums below, so a part still fills an engine's batch, and the
# number of tasks stays small (every task costs the Prefect API a run record and state changes).
PARTS_PER_SHARD = 4
MIN_DOCUMENTS_PER_TASK = 8  # questions tasks
MIN_QUESTIONS_PER_TASK = 32  # labels and difficulty tasks


def shards_of(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def batches_of(items: list, smallest: int) -> list[list]:
    """`items` in order, as up to PARTS_PER_SHARD near-equal parts of at least `smallest` items
    (a single part when there are fewer; one empty part when there are none)."""
    parts = max(1, min(PARTS_PER_SHARD, len(items) // smallest))
    bounds = [len(items) * k // parts for k in range(parts + 1)]
    return [items[bounds[k]:bounds[k + 1]] for k in range(parts)]


class _Waiting:
    """Submitted tasks and what to do with each one's result."""

    def __init__(self) -> None:
        self.then: dict[PrefectFuture, Callable[[Any], None]] = {}
        self.order: list[PrefectFuture] = []  # submission order, to hand results on deterministically

    def add(self, future: PrefectFuture, then: Callable[[Any], None]) -> None:
        self.then[future] = then
        self.order.append(future)

    def drain(self) -> None:
        """Until nothing is pending: wait for any task, hand on its result (raising its error)."""
        while self.then:
            pending = [f for f in self.order if f in self.then]
            done, _ = concurrent.futures.wait([f.wrapped_future for f in pending],
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            for future in pending:
                if future.wrapped_future in done:
                    self.then.pop(future)(future.result())
            self.order = [f for f in self.order if f in self.then]


class ShardRun:
    """One build's shard-steps: submits, chains and collects them."""

    def __init__(self, ctx: BuildContext, documents: list[Document], goalposts: list) -> None:
        self.ctx = ctx
        self.doc_shards = shards_of(documents, ctx.config.shard_size)
        self.goal_shards = shards_of(goalposts, ctx.config.shard_size)
        self.by_id = {d.doc_id: d for d in documents}
        # step -> {(shard, batch): output}; merged in key order, whatever order tasks finished in
        self.done: dict[str, dict[tuple[int, int], StepOutput]] = {
            step: {} for step in ("questions", "dedup", "labels", "difficulty", "probe", "ladders")}
        self.grounding: dict[int, list[Document]] = {}
        self.waiting = _Waiting()
        self.next_dedup = 0  # the first shard not yet deduplicated
        self.kept_before: list = []  # questions kept by dedup of shards < next_dedup
        self.chain_key = ""  # dedup key of shard next_dedup - 1
        self.embed: Any = None
        self.parts: dict[int, int] = {}  # shard -> its number of questions tasks

    def run(self) -> dict[str, StepOutput]:
        self.ctx.progress.plan("dedup", len(self.doc_shards))
        for step in ("probe", "ladders") if self.goal_shards else ():
            self.ctx.progress.plan(step, len(self.goal_shards))
        for i, shard in enumerate(self.doc_shards):
            batches = batches_of(shard, MIN_DOCUMENTS_PER_TASK)
            self.ctx.progress.plan("questions", len(batches))
            self.parts[i] = len(batches)
            for b, batch in enumerate(batches):
                future = questions_task.submit(self.ctx, quote(batch))
                self.waiting.add(future, lambda out, at=(i, b): self._questions(at, out))
        for j, shard in enumerate(self.goal_shards):
            self.waiting.add(probe_task.submit(self.ctx, quote(shard)), lambda out, j=j: self._probe(j, out))
        self.waiting.drain()
        self.ctx.grounding_documents.extend(doc for j in sorted(self.grounding) for doc in self.grounding[j])
        return {step: merge([outputs[at] for at in sorted(outputs)]) for step, outputs in self.done.items()}

    def _questions(self, at: tuple[int, int], out: StepOutput) -> None:
        self.done["questions"][at] = out
        while self.next_dedup < len(self.doc_shards) and self._written(self.next_dedup):
            self._dedup(self.next_dedup)
            self.next_dedup += 1

    def _written(self, i: int) -> bool:
        return all((i, b) in self.done["questions"] for b in range(self.parts[i]))

    def _dedup(self, i: int) -> None:
        questions = [q for b in range(self.parts[i]) for q in self.done["questions"][i, b].kept]
        key = dedup_key(self.ctx, questions, self.chain_key)
        if self.embed is None:
            self.embed = corpus_io.embed_function(self.ctx)
        deduped = dedup_task(self.ctx, quote(questions), quote(self.kept_before), key, quote(self.embed))
        self.done["dedup"][i, 0] = deduped
        self.kept_before = self.kept_before + deduped.kept
        self.chain_key = key
        batches = batches_of(deduped.kept, MIN_QUESTIONS_PER_TASK)
        for step in ("labels", "difficulty"):
            self.ctx.progress.plan(step, len(batches))
        for b, batch in enumerate(batches):
            docs = {q.doc_id: self.by_id[q.doc_id] for q in batch}
            future = labels_task.submit(self.ctx, quote(batch), quote(docs))
            self.waiting.add(future, lambda out, at=(i, b): self._labels(at, out))

    def _labels(self, at: tuple[int, int], out: StepOutput) -> None:
        self.done["labels"][at] = out
        future = difficulty_task.submit(self.ctx, quote(out))
        self.waiting.add(future, lambda done: self.done["difficulty"].__setitem__(at, done))

    def _probe(self, j: int, out: StepOutput) -> None:
        self.done["probe"][j, 0] = out
        for k, result in enumerate(out.kept):  # one ProbeResult per goalpost shard
            targets = list(getattr(result, "targets", []))
            grounding = corpus_io.grounding(self.ctx, targets)
            self.grounding.setdefault(j, []).extend(corpus_io.merged_grounding(targets, grounding))
            future = ladders_task.submit(self.ctx, quote(targets), quote(grounding))
            self.waiting.add(future, lambda done, at=(j, k): self.done["ladders"].__setitem__(at, done))


def merge(outputs: list[StepOutput]) -> StepOutput:
    """Shard outputs of one step, in shard order, as one StepOutput (usage summed)."""
    merged: StepOutput = StepOutput(kept=[], rejected=[], usage={})
    for out in outputs:
        merged.kept.extend(out.kept)
        merged.rejected.extend(out.rejected)
        add_usage(merged.usage, out.usage or {})
    return merged
