"""The build flow end to end on the sim backend: publish, rerun, new version, GASP, artifact, progress."""

from __future__ import annotations

import json

import pytest

from tests.flows_support import cache_calls, make_config, use_counting_sim

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_build_publishes_then_a_rerun_is_up_to_date_without_model_calls(tmp_path, monkeypatch):
    from flows import progress
    from flows.build import build_curriculum
    from pipeline.store import read_version

    sim = use_counting_sim(monkeypatch)
    config, _ = make_config(tmp_path, goalposts=True)
    seen = []
    unsubscribe = progress.subscribe(seen.append)
    try:
        first = build_curriculum(config)
    finally:
        unsubscribe()
    assert first["version"] == "v0001" and first["rows"] > 0
    stored = read_version(config.output_root, "toy")
    assert stored.curriculum().num_rows == first["rows"]
    assert stored.manifest["extra"]["build_key"]
    assert {"questions", "dedup", "labels", "difficulty", "probe", "ladders"} <= {s.step for s in seen}
    assert any(s.eta_s is not None for s in seen) and "ETA" in seen[-2].line()
    # Nothing is lost: each step's input is what it kept plus what it rejected, and the rejects table
    # holds exactly the rejections each step counted.
    steps = stored.manifest["counts"]["steps"]
    assert steps["questions"]["kept"] + steps["questions"]["rejected"] == 8 * 3 * 2  # docs x levels x types
    for before, after in (("questions", "dedup"), ("dedup", "labels"), ("labels", "difficulty")):
        assert steps[before]["kept"] == steps[after]["kept"] + steps[after]["rejected"], (before, after)
    assert first["rows"] == steps["difficulty"]["kept"] + steps["ladders"]["kept"]
    by_step: dict[str, int] = {}
    for step in stored.rejects().column("step").to_pylist():
        by_step[step] = by_step.get(step, 0) + 1
    assert by_step == {step: c["rejected"] for step, c in steps.items() if c["rejected"]}
    # every prompt the sim answered is accounted for in the persisted step results
    assert cache_calls(tmp_path / "store" / "toy" / ".work" / "cache") == sim.prompts > 0

    calls_before = sim.prompts
    again = build_curriculum(config)
    assert again["up_to_date"] and again["version"] == "v0001"
    assert sim.prompts == calls_before  # no model call at all


def test_new_version_uses_other_documents_and_names_its_parent(tmp_path, monkeypatch):
    from flows.build import build_curriculum
    from pipeline.store import read_version

    use_counting_sim(monkeypatch)
    config, _ = make_config(tmp_path, n_docs=12, docs_per_build=5)
    build_curriculum(config)
    second = build_curriculum(config, new_version=True)
    assert second["version"] == "v0002"
    one, two = (read_version(config.output_root, "toy", v) for v in ("v0001", "v0002"))
    docs_one = set(one.documents(["doc_id"]).column("doc_id").to_pylist())
    docs_two = set(two.documents(["doc_id"]).column("doc_id").to_pylist())
    assert docs_one and docs_two and not docs_one & docs_two
    assert two.manifest["parent"] == "v0001"


def test_each_run_leaves_a_markdown_artifact_with_counts_and_calibration(tmp_path, monkeypatch):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.build import build_curriculum

    use_counting_sim(monkeypatch)
    config, _ = make_config(tmp_path)
    result = build_curriculum(config)

    async def artifacts_of_this_run():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["build-toy"])))
            return [a for a in found if result["path"] in a.data]

    found = asyncio.run(artifacts_of_this_run())
    assert len(found) == 1
    artifact = found[0]
    assert artifact.type == "markdown"
    assert result["path"] in artifact.data and "| level |" in artifact.data and "| labels |" in artifact.data


def test_step_results_are_json_files_keyed_by_content(tmp_path, monkeypatch):
    from flows.build import build_curriculum

    use_counting_sim(monkeypatch)
    config, _ = make_config(tmp_path, docs_per_build=6, shard_size=3)
    build_curriculum(config)
    cache = tmp_path / "store" / "toy" / ".work" / "cache"
    assert len(list((cache / "questions").glob("*.json"))) == 2  # 6 documents in shards of 3
    saved = json.loads(next((cache / "labels").glob("*.json")).read_text())
    assert saved["output"]["__type__"] == "pipeline.records:StepOutput"
    assert saved["meta"]["model_calls"]["samples"] > 0


def test_dedup_streams_across_shards_and_names_the_question_kept_in_an_earlier_shard(tmp_path, monkeypatch):
    """Documents 00 and 03 carry the same text and fall in different shards: shard 1's questions on
    03 are duplicates of shard 0's questions on 00, rejected with reason `duplicate` naming them."""
    from flows.build import build_curriculum
    from pipeline.store import read_version

    use_counting_sim(monkeypatch)
    config, _ = make_config(tmp_path, n_docs=6, docs_per_build=6, shard_size=3)
    corpus = tmp_path / "corpus"
    (corpus / "doc-03.md").write_text((corpus / "doc-00.md").read_text())
    build_curriculum(config)
    cache = tmp_path / "store" / "toy" / ".work" / "cache"
    assert len(list((cache / "dedup").glob("*.json"))) == 2  # one dedup per shard
    stored = read_version(config.output_root, "toy")
    duplicates = [r for r in stored.rejects().to_pylist() if r["reason"] == "duplicate"]
    questions = {r["question_id"]: r["doc_id"] for r in stored.curriculum(["question_id", "doc_id"]).to_pylist()}
    assert len(duplicates) >= 2, "the cross-shard duplicates were not rejected"
    for reject in duplicates:
        named = reject["detail"].split("near-duplicate of ")[1].split()[0]
        assert reject["record_id"] not in questions and named != reject["record_id"]
        # the question kept in its place is on the other copy of the text (shard 0), not its own document
        assert named not in questions or questions[named] != reject["doc_id"]
