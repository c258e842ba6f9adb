"""Thin Prefect tasks around the pipeline steps: one task per shard-and-step, persisted and retried.

Each task computes its cache key (shard content + the config the step reads + model identity +
seed), returns the saved StepOutput when there is one, and otherwise runs the step, saves its
output atomically and reports progress. Transient backend errors (`BackendError`) are retried by
Prefect; anything else (a bug, an I/O error) fails the task and the build, and what was saved so
far is reused by the next run. The pipeline functions are imported inside the tasks, so this module
imports quickly.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.cache import StepCache, model_identity, step_key
from flows.engines import CallStats, Engines, RoleBackend
from flows.progress import Progress
from pipeline.backends import BackendError
from pipeline.config import BuildConfig
from pipeline.records import StepOutput

# Fields of `darc` that only later steps read: left out of earlier steps' keys, so that changing,
# say, student_samples recomputes student difficulty and nothing before it.
_LATER = {
    "questions": {"teacher_votes", "majority_threshold", "student_samples", "dedup_cosine",
                  "learnability_band", "monotone_margin"},
    "dedup": set(),  # dedup's settings are listed explicitly below
    "labels": {"student_samples", "dedup_cosine", "learnability_band", "monotone_margin"},
    "difficulty": {"teacher_votes", "majority_threshold", "dedup_cosine", "copy_ratio_max",
                   "max_question_chars"},
}
RETRY_DELAYS_S = [0.5, 2.0, 5.0, 10.0, 20.0]


class BuildContext:
    """What every task of one build needs. A plain class, so Prefect does not walk into it."""

    def __init__(self, config: BuildConfig, cache: StepCache, engines: Engines, progress: Progress,
                 index: Any = None) -> None:
        self.config = config
        self.cache = cache
        self.engines = engines
        self.progress = progress
        self.index = index
        self.model_calls = CallStats()  # calls made by this run (cache hits make none)
        self.computed: dict[str, list[str]] = {}  # step -> keys computed by this run
        self.step_seconds: dict[str, float] = {}
        self.lock = threading.Lock()
        self.grounding_documents: list = []  # GASP passages rows may cite, for the published documents

    def darc_settings(self, step: str) -> dict[str, Any]:
        data = self.config.darc.model_dump(mode="json")
        return {k: v for k, v in data.items() if k not in _LATER[step]}


def _is_transient(task: Any, task_run: Any, state: Any) -> bool:
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        try:
            error = state.result(raise_on_failure=False)
        except Exception:  # an unreadable state is not something to retry
            return False
    return isinstance(error, BackendError)


def _cached_step(ctx: BuildContext, step: str, key: str, roles: list[RoleBackend],
                 run: Callable[[], StepOutput]) -> StepOutput:
    """Load the saved output of `key`, or run the step, save it and count what it cost."""
    logger = get_run_logger()
    saved = ctx.cache.load(step, key)
    if saved is not None:
        output, _meta = saved
        logger.debug("%s %s: reused saved result", step, key)
        ctx.progress.advance(step, kept=len(output.kept), rejected=len(output.rejected), cached=True)
        return output
    start = time.perf_counter()
    with contextlib.ExitStack() as counting:
        stats = [counting.enter_context(role.counting()) for role in roles]
        output = run()
    seconds = time.perf_counter() - start
    spent = CallStats()
    for s in stats:
        spent.add(s)
    ctx.cache.save(step, key, output, {"model_calls": spent.as_dict(), "seconds": round(seconds, 3)})
    with ctx.lock:
        ctx.model_calls.add(spent)
        ctx.computed.setdefault(step, []).append(key)
        ctx.step_seconds[step] = ctx.step_seconds.get(step, 0.0) + seconds
    ctx.progress.advance(step, kept=len(output.kept), rejected=len(output.rejected), cached=False,
                         samples=spent.samples, tokens=spent.prompt_tokens + spent.completion_tokens,
                         seconds=seconds)
    logger.info("%s %s: kept %d, rejected %d, %d samples in %.1f s", step, key[:8],
                len(output.kept), len(output.rejected), spent.samples, seconds)
    return output


_TASK = dict(retries=len(RETRY_DELAYS_S), retry_delay_seconds=RETRY_DELAYS_S,
             retry_condition_fn=_is_transient, cache_policy=NO_CACHE, persist_result=False)


@task(name="questions", **_TASK)
def questions_task(ctx: BuildContext, documents: list) -> StepOutput:
    from pipeline.questions import write_questions

    role = ctx.engines["questioner"]
    key = step_key("questions", documents, {"darc": ctx.darc_settings("questions"),
                                             "model": model_identity(role.config)}, ctx.config.seed)
    return _cached_step(ctx, "questions", key, [role],
                        lambda: write_questions(documents, ctx.config.darc, role, ctx.config.seed,
                                                sampling=role.config.sampling))


def dedup_key(ctx: BuildContext, questions: list, earlier_key: str) -> str:
    """The key of one shard's dedup: its questions, and through `earlier_key` (the previous shard's
    dedup key, "" for the first) every question of the shards before it, which it is checked against."""
    settings = {"dedup_cosine": ctx.config.darc.dedup_cosine,
                "embedding_model": ctx.config.corpus.embedding_model,
                "embedding_backend": ctx.config.corpus.embedding_backend}
    inputs = {"earlier": earlier_key, "questions": [(q.question_id, q.question) for q in questions]}
    return step_key("dedup", inputs, settings, ctx.config.seed)


@task(name="dedup", **_TASK)
def dedup_task(ctx: BuildContext, questions: list, earlier: list, key: str, embed: Any) -> StepOutput:
    """Drop near-duplicates among `questions` and of any question kept from earlier shards (`earlier`).

    The earlier questions go first and stay kept (they were checked against everything before
    them), so the shard-by-shard result is the one a single dedup over all shards in order gives.
    Each dropped question's rejection names the question kept in its place, earlier shard or not.
    """
    from pipeline.dedup import dedup_questions

    def run() -> StepOutput:
        out = dedup_questions(list(earlier) + list(questions), ctx.config.darc, embed)
        ours = {q.question_id for q in questions}
        dropped_earlier = [r.record_id for r in out.rejected if r.record_id not in ours]
        if dropped_earlier:  # only if embeddings of the same text differ between batches
            get_run_logger().warning("dedup %s: %d earlier questions matched each other this time; they stay "
                                     "kept", key[:8], len(dropped_earlier))
        return StepOutput(kept=[q for q in out.kept if q.question_id in ours],
                          rejected=[r for r in out.rejected if r.record_id in ours], usage=dict(out.usage or {}))

    return _cached_step(ctx, "dedup", key, [], run)


@task(name="labels", **_TASK)
def labels_task(ctx: BuildContext, questions: list, documents_by_id: dict) -> StepOutput:
    from pipeline.labels import label_questions

    role = ctx.engines["teacher"]
    docs = sorted({q.doc_id for q in questions})
    key = step_key("labels", (questions, [documents_by_id[d] for d in docs if d in documents_by_id]),
                   {"darc": ctx.darc_settings("labels"), "model": model_identity(role.config)},
                   ctx.config.seed)
    return _cached_step(ctx, "labels", key, [role], lambda: label_questions(
        questions, documents_by_id, role, ctx.config.darc, ctx.config.seed, sampling=role.config.sampling))


@task(name="difficulty", **_TASK)
def difficulty_task(ctx: BuildContext, labelled: StepOutput) -> StepOutput:
    from pipeline.difficulty import measure_difficulty

    role = ctx.engines["student"]
    rows = labelled.kept
    key = step_key("difficulty", rows, {"darc": ctx.darc_settings("difficulty"),
                                        "model": model_identity(role.config)}, ctx.config.seed)
    return _cached_step(ctx, "difficulty", key, [role],
                        lambda: measure_difficulty(rows, role, ctx.config.darc, ctx.config.seed,
                                                   sampling=role.config.sampling))


@task(name="probe", **_TASK)
def probe_task(ctx: BuildContext, goalposts: list) -> StepOutput:
    """Student pass@k on a shard of goalposts; kept = [ProbeResult] so it caches like any step."""
    from pipeline.probe import probe_goalposts

    role = ctx.engines["student"]
    gasp = ctx.config.goalposts
    key = step_key("probe", goalposts, {"probe_k": gasp.probe_k, "model": model_identity(role.config)},
                   ctx.config.seed)

    def run() -> StepOutput:
        result = probe_goalposts(goalposts, role, gasp, ctx.config.seed, sampling=role.config.sampling)
        return StepOutput(kept=[result], usage=dict(result.usage))

    return _cached_step(ctx, "probe", key, [role], run)


@task(name="ladders", **_TASK)
def ladders_task(ctx: BuildContext, targets: list, grounding: dict) -> StepOutput:
    from pipeline.ladder import build_ladders

    teacher, student = ctx.engines["teacher"], ctx.engines["student"]
    settings = {"gasp": ctx.config.goalposts.model_dump(mode="json"),
                "darc": ctx.config.darc.model_dump(mode="json"),
                "teacher": model_identity(teacher.config), "student": model_identity(student.config)}
    key = step_key("ladders", (targets, grounding), settings, ctx.config.seed)
    return _cached_step(ctx, "ladders", key, [teacher, student], lambda: build_ladders(
        targets, grounding, teacher, student, ctx.config.goalposts, ctx.config.darc, ctx.config.seed,
        sampling=teacher.config.sampling, student_sampling=student.config.sampling))
