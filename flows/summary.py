"""What a finished build hands on: the manifest's build_info, one publish, and the run's artifact.

`publish_once` makes publishing idempotent across crashes: the build key travels in build_info
(the manifest keeps it under "extra"), so a build killed after the store renamed its version but
before the work dir recorded it finds its own version on the rerun instead of publishing twice.
"""

from __future__ import annotations

import time
from typing import Any

from flows.cache import model_identity
from flows.workdir import BuildState, WorkDir
from pipeline.config import BuildConfig
from pipeline.records import Document

_ROLE_OF_STEP = {"questions": ("questioner",), "labels": ("teacher",), "difficulty": ("student",),
                 "probe": ("student",), "ladders": ("teacher", "student")}


def build_info(config: BuildConfig, state: BuildState, outputs: dict[str, Any], calibration: list[dict],
               ctx: Any, wall: dict[str, float]) -> dict[str, Any]:
    """The manifest's view of the build (keys as `pipeline.store.manifest.BUILD_INFO_KEYS`)."""
    counts = {step: {"kept": len(out.kept), "rejected": len(out.rejected)} for step, out in outputs.items()}
    tokens: dict[str, dict[str, int]] = {}
    for step, out in outputs.items():
        for role in _ROLE_OF_STEP.get(step, ()):
            bucket = tokens.setdefault(role, {})
            for key, value in (out.usage or {}).items():
                # Steps that call several roles book keys as "role.metric"; plain keys are the step's role.
                owner, _, metric = key.rpartition(".")
                if (owner or _ROLE_OF_STEP[step][0]) == role:
                    bucket[metric] = bucket.get(metric, 0) + int(value)
    probes = outputs["probe"].kept
    info: dict[str, Any] = {
        "config": config.model_dump(mode="json"),
        "config_hash": config.config_hash(),
        "models": {role: model_identity(getattr(config.models, role))
                   for role in ("questioner", "teacher", "student")},
        "seeds": {"seed": config.seed},
        "step_counts": counts,
        "token_usage": tokens,
        # Stages in order (index, sample, shard steps, order), then each step's task seconds this run,
        # summed over its shards: steps of different shards overlap, so these add up to more than the stage.
        "wall_time_s": {**{k: round(v, 3) for k, v in wall.items()},
                        **{f"step.{k}": round(v, 3) for k, v in sorted(ctx.step_seconds.items())}},
        "calibration": calibration,
        "build_key": state.build_key,
        "corpus_key": state.corpus_key,
        "documents": _documents(state, outputs, ctx.grounding_documents),
    }
    if state.parent is not None:
        info["parent_version"] = state.parent
    if probes:
        from pipeline.ladder import goalpost_progress

        info["goalposts"] = [row for result in probes
                             for row in goalpost_progress(result, outputs["ladders"].kept)]
        info["ladders"] = _ladder_summary(outputs["ladders"].kept)
    return info


def _documents(state: BuildState, outputs: dict[str, Any], grounding: list[Document]) -> list[Document]:
    """Every document a row may cite: the pinned sample plus GASP grounding documents."""
    docs = {d["doc_id"]: Document(**d) for d in state.documents}
    for doc in grounding:
        docs.setdefault(doc.doc_id, doc)
    missing = {row[0].doc_id for row in outputs["ladders"].kept if row[0].doc_id and row[0].doc_id not in docs}
    if missing:  # a bug, not bad data: a published row must never lose the passage it was written from
        raise RuntimeError(f"ladder rows cite documents the build does not have: {sorted(missing)[:5]}")
    return list(docs.values())


def _ladder_summary(rows: list) -> list[dict[str, Any]]:
    deepest: dict[str, int] = {}
    for question, *_ in rows:
        deepest[question.goalpost_id] = max(deepest.get(question.goalpost_id, 0), question.depth)
    return [{"goalpost_id": g, "deepest": d} for g, d in sorted(deepest.items())]


def publish_once(config: BuildConfig, work: WorkDir, state: BuildState, items: list, rejects: list,
                 info: dict[str, Any]) -> dict[str, Any]:
    """Publish the build's version unless this build already did; record it in the work dir."""
    from pipeline.store import publish_version

    ref = _already_published(config, state.build_key)
    if ref is None:
        version = publish_version(config.output_root, config.dataset, items, rejects, info)
        ref = {"dataset": version.dataset, "version": version.version, "path": str(version.path)}
    ref["corpus_key"] = state.corpus_key
    ref["published_at"] = time.time()
    work.finish(state, ref)
    return ref


def _already_published(config: BuildConfig, build_key: str) -> dict[str, Any] | None:
    """Scan the store (newest first) for a version whose manifest names this build key."""
    from pipeline.store import StoreError
    from pipeline.store.layout import list_versions, open_store, resolve_version
    from pipeline.store.manifest import read_manifest

    store = open_store(config.output_root)
    try:
        versions = list_versions(store, config.dataset)
    except StoreError:
        return None
    for version in reversed(versions[-20:]):  # a rerun follows its crash closely: look at the newest
        ref = resolve_version(store, config.dataset, version)
        manifest = read_manifest(store, ref.path)
        if (manifest.get("extra") or {}).get("build_key") == build_key:
            return {"dataset": ref.dataset, "version": ref.version, "path": str(ref.path)}
    return None


def calibration_table(calibration: list[dict]) -> str:
    lines = ["| level | questions | target solve rate | measured mean | std | label agreement |",
             "|---|---|---|---|---|---|"]

    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    for row in calibration:
        lines.append(f"| {row.get('level')} | {row.get('count')} "
                     f"| {fmt(row.get('target_solve_rate'))} "
                     f"| {fmt(row.get('measured_mean'))} | {fmt(row.get('measured_std'))} "
                     f"| {fmt(row.get('label_agreement'))} |")
    return "\n".join(lines)


def summary_markdown(result: dict[str, Any], info: dict[str, Any], calibration: list[dict]) -> str:
    counts = "\n".join(f"| {step} | {c['kept']} | {c['rejected']} |" for step, c in info["step_counts"].items())
    calls = result.get("model_calls") or {}
    return "\n".join([
        f"# {result['dataset']}@{result['version']}", "",
        f"Published at `{result['path']}` ({result['rows']} questions, {result['rejects']} rejects).", "",
        "## Steps", "", "| step | kept | rejected |", "|---|---|---|", counts, "",
        "## Calibration", "", calibration_table(calibration), "",
        f"Model calls this run: {calls.get('prompts', 0)} prompts, {calls.get('samples', 0)} samples, "
        f"{calls.get('prompt_tokens', 0) + calls.get('completion_tokens', 0)} tokens; "
        f"shard-steps computed: {result.get('computed')}.",
    ])


def write_artifact(result: dict[str, Any], info: dict[str, Any], calibration: list[dict]) -> None:
    """Leave the run's summary as a Prefect markdown artifact (shown in the UI)."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(markdown=summary_markdown(result, info, calibration),
                             key=f"build-{result['dataset'].lower().replace('_', '-').replace('.', '-')}",
                             description=f"{result['dataset']}@{result['version']}")
