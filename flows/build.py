"""The build flow: index -> sample -> questions -> dedup -> labels -> difficulty (+ GASP) -> order -> publish.

`build_curriculum(config)` is a Prefect flow over shards of `config.shard_size` documents (or
goalposts). Each shard-and-step is a task (`flows.steps`) whose result is saved under the work dir;
tasks of different shards run at once on a thread pool, so one shard's CPU parsing overlaps another
shard's generation. A run that finds an unfinished build of the same config resumes it: same pinned
documents, same parent, saved results reused, published once. A run whose config was already built
and published, with an unchanged corpus, returns that version without any model call unless
`new_version=True` (the nightly schedule asks for a new version each night).
"""

# No `from __future__ import annotations` here: Prefect validates the flow's parameters against
# its signature, and a deployment run (loaded by entrypoint) must resolve `BuildConfig` at runtime.
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows import corpus as corpus_io
from flows.cache import build_identity
from flows.engines import open_engines
from flows.progress import Progress
from flows.steps import (
    BuildContext,
    dedup_task,
    difficulty_task,
    labels_task,
    ladders_task,
    probe_task,
    questions_task,
)
from flows.summary import build_info, publish_once, write_artifact
from flows.workdir import WorkDir, work_root
from pipeline.config import BuildConfig
from pipeline.records import Document, StepOutput

TASK_WORKERS = 8


def shards_of(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@flow(name="build-curriculum", task_runner=ThreadPoolTaskRunner(max_workers=TASK_WORKERS),
      persist_result=False, validate_parameters=True)
def build_curriculum(config: BuildConfig, new_version: bool = False) -> dict[str, Any]:
    """Build one version of `config.dataset` and publish it; returns where it is and what it cost."""
    logger = get_run_logger()
    started = time.perf_counter()
    progress = Progress()
    work = WorkDir(work_root(config))
    config_hash = build_identity(config)
    wall: dict[str, float] = {}

    clock = time.perf_counter()
    progress.note("index", "indexing the corpus")
    index = corpus_io.open_index(config)
    wall["index"] = time.perf_counter() - clock

    state = work.pending(config_hash)
    if state is None and not new_version:
        done = work.last_published(config_hash)
        if done is not None and corpus_io.still_current(config, done, index):
            logger.info("config %s already built as %s; nothing to do", config_hash, done.published["version"])
            progress.note("publish", f"up to date: {done.published['path']}")
            return {**done.published, "up_to_date": True, "model_calls": {}, "computed": {}}
    if state is None:
        clock = time.perf_counter()
        parent = corpus_io.latest_version(config)
        documents = corpus_io.sample(config, index)
        state = work.start(config_hash, parent, corpus_io.corpus_key(index), documents)
        wall["sample"] = time.perf_counter() - clock
        logger.info("new build %s: %d documents, parent %s", state.build_key, len(documents), parent)
    else:
        logger.info("resuming build %s (%d documents pinned)", state.build_key, len(state.documents))
    progress.note("sample", f"{len(state.documents)} documents")

    engines = open_engines(config.models)
    ctx = BuildContext(config, work.cache, engines, progress, index)
    try:
        outputs = _run_steps(ctx, [Document(**d) for d in state.documents], wall)
    finally:
        engines.close()

    clock = time.perf_counter()
    from pipeline.curriculum import calibration_summary, order_curriculum

    rows = outputs["difficulty"].kept + outputs["ladders"].kept
    items = order_curriculum(rows, config.darc, config.curriculum_batch_size)
    calibration = calibration_summary(items, config.darc)
    rejects = [r for out in outputs.values() for r in out.rejected]
    wall["order"] = time.perf_counter() - clock

    clock = time.perf_counter()
    progress.note("publish", f"{len(items)} questions, {len(rejects)} rejects")
    info = build_info(config, state, outputs, calibration, ctx, wall)
    ref = publish_once(config, work, state, items, rejects, info)
    wall["publish"] = time.perf_counter() - clock
    result = {**ref, "up_to_date": False, "rows": len(items), "rejects": len(rejects),
              "model_calls": ctx.model_calls.as_dict(), "computed": {k: len(v) for k, v in ctx.computed.items()},
              "wall_time_s": {k: round(v, 3) for k, v in wall.items()},
              "seconds": round(time.perf_counter() - started, 3)}
    write_artifact(result, info, calibration)
    progress.note("publish", f"published {ref['dataset']}@{ref['version']} at {ref['path']}")
    return result


def _run_steps(ctx: BuildContext, documents: list[Document], wall: dict[str, float]) -> dict[str, StepOutput]:
    """Submit every shard-and-step; gather each step's outputs into one StepOutput."""
    config = ctx.config
    doc_shards = shards_of(documents, config.shard_size)
    goalposts = corpus_io.read_goalposts(config)
    goal_shards = shards_of(goalposts, config.shard_size)
    for step in ("questions", "labels", "difficulty"):
        ctx.progress.plan(step, len(doc_shards))
    ctx.progress.plan("dedup", 1)
    if goal_shards:
        ctx.progress.plan("probe", len(goal_shards))
        ctx.progress.plan("ladders", len(goal_shards))

    clock = time.perf_counter()
    question_futures = [questions_task.submit(ctx, quote(shard)) for shard in doc_shards]
    probe_futures = [probe_task.submit(ctx, quote(shard)) for shard in goal_shards]
    questions = merge([f.result() for f in question_futures])
    deduped = dedup_task(ctx, quote(questions.kept), quote(corpus_io.embed_function(ctx)))
    wall["questions+dedup"] = time.perf_counter() - clock

    by_id = {d.doc_id: d for d in documents}
    shard_of = {d.doc_id: i for i, shard in enumerate(doc_shards) for d in shard}
    grouped: list[list] = [[] for _ in doc_shards]
    for question in deduped.kept:
        grouped[shard_of[question.doc_id]].append(question)
    label_futures = [labels_task.submit(ctx, quote(qs), quote({q.doc_id: by_id[q.doc_id] for q in qs}))
                     for qs in grouped]
    difficulty_futures = [difficulty_task.submit(ctx, future) for future in label_futures]

    ladder_futures = []
    probes = merge([f.result() for f in probe_futures])
    for result in probes.kept:
        targets = list(getattr(result, "targets", []))
        grounding = corpus_io.grounding(ctx, targets)
        ctx.grounding_documents.extend(corpus_io.merged_grounding(targets, grounding))
        ladder_futures.append(ladders_task.submit(ctx, quote(targets), quote(grounding)))

    labels = merge([f.result() for f in label_futures])
    difficulty = merge([f.result() for f in difficulty_futures])
    ladders = merge([f.result() for f in ladder_futures])
    wall["labels+difficulty+ladders"] = time.perf_counter() - clock - wall["questions+dedup"]
    return {"questions": questions, "dedup": deduped, "labels": labels, "difficulty": difficulty,
            "probe": probes, "ladders": ladders}


def merge(outputs: list[StepOutput]) -> StepOutput:
    """Shard outputs of one step, in shard order, as one StepOutput (usage summed)."""
    merged: StepOutput = StepOutput(kept=[], rejected=[], usage={})
    for out in outputs:
        merged.kept.extend(out.kept)
        merged.rejected.extend(out.rejected)
        for key, value in (out.usage or {}).items():
            merged.usage[key] = merged.usage.get(key, 0) + value
    return merged
