"""The build flow: index -> sample -> questions -> dedup -> labels -> difficulty (+ GASP) -> order -> publish.

`build_curriculum(config)` is a Prefect flow over shards of `config.shard_size` documents (or
goalposts). Each shard-and-step is a task (`flows.steps`) whose result is saved under the work dir;
`flows.shards` submits each one as soon as its inputs are ready (dedup streams in shard order), and
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

from flows import corpus as corpus_io
from flows.cache import build_identity
from flows.engines import open_engines
from flows.progress import Progress
from flows.shards import ShardRun
from flows.steps import BuildContext
from flows.summary import build_info, publish_once, write_artifact
from flows.workdir import WorkDir, work_root
from pipeline.config import BuildConfig
from pipeline.records import Document, StepOutput

TASK_WORKERS = 16  # tasks at once: batches smaller than shards, so more of them overlap


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
    """Every shard-and-step, each submitted as soon as its inputs are ready (`flows.shards`)."""
    clock = time.perf_counter()
    outputs = ShardRun(ctx, documents, corpus_io.read_goalposts(ctx.config)).run()
    # Steps of different shards overlap, so the model phase is timed as one stage.
    wall["shard steps"] = time.perf_counter() - clock
    return outputs
