"""Faults: flaky backend, garbage shard, vanished corpus file, disk full at publish, Ctrl-C.

Each ends with a clear message, leaves no partial version visible, and a rerun completes.
"""

from __future__ import annotations

import errno

import pytest

from tests.flows_support import make_config, use_counting_sim
from tests.test_flows_resume import interrupt, start_build, wait_for_files

pytestmark = pytest.mark.usefixtures("prefect_harness")


def versions(store_dataset) -> list[str]:
    return sorted(p.name for p in store_dataset.iterdir() if p.name.startswith("v")) if store_dataset.exists() else []


def test_a_backend_failing_a_third_of_requests_transiently_still_builds(tmp_path, monkeypatch):
    import flows.steps
    from flows.build import build_curriculum

    monkeypatch.setattr(flows.steps, "RETRY_DELAYS_S", [0.0] * 5)
    sim = use_counting_sim(monkeypatch)
    sim.fail_every = 3
    config, _ = make_config(tmp_path, docs_per_build=6, shard_size=2)
    result = build_curriculum(config)
    assert sim.failures >= 3 and result["version"] == "v0001" and result["rows"] > 0


def test_garbage_for_a_whole_shard_is_rejected_with_reasons_and_the_rest_publishes(tmp_path, monkeypatch):
    from flows.build import build_curriculum
    from pipeline.store import read_version

    sim = use_counting_sim(monkeypatch)
    sim.garbage_when = "It opened in 1951."  # the one document of one shard (shard_size 1)
    config, _ = make_config(tmp_path, n_docs=4, docs_per_build=4, shard_size=1)
    result = build_curriculum(config)
    stored = read_version(config.output_root, "toy")
    docs = stored.documents().to_pylist()
    bad = next(d["doc_id"] for d in docs if "1951" in d["text"])
    rejects = [r for r in stored.rejects().to_pylist() if r["doc_id"] == bad]
    assert len(rejects) == 3 * 2  # every level x answer type of that document, none silently dropped
    assert all(r["step"] == "questions" and r["reason"] and "garbage" in r["raw_text"] for r in rejects)
    assert bad not in stored.curriculum(["doc_id"]).column("doc_id").to_pylist()
    assert result["rows"] > 0


def test_a_corpus_file_vanishing_between_runs_does_not_stop_the_resumed_build(tmp_path, monkeypatch):
    from flows.build import build_curriculum

    sim = use_counting_sim(monkeypatch)
    config, _ = make_config(tmp_path, n_docs=10, docs_per_build=5, shard_size=2)

    from pipeline.prompts import TEACHER_MARKER

    real = sim.generate

    def broken(self, prompts, sampling):
        if TEACHER_MARKER in prompts[0][-1]["content"]:
            raise RuntimeError("node lost")  # not transient: the build stops
        return real(self, prompts, sampling)

    monkeypatch.setattr(sim, "generate", broken)
    with pytest.raises(RuntimeError, match="node lost"):
        build_curriculum(config)
    assert versions(tmp_path / "store" / "toy") == []
    for doc in (tmp_path / "corpus").glob("*.md"):  # delete one of the pinned documents' files
        if doc.read_text().strip() in {d["text"].strip() for d in _pinned(tmp_path)}:
            doc.unlink()
            break
    else:
        raise AssertionError("no pinned document found on disk")
    monkeypatch.setattr(sim, "generate", real)
    result = build_curriculum(config)
    assert result["version"] == "v0001" and result["computed"].get("questions", 0) == 0
    again = build_curriculum(config, new_version=True)  # the next build reads the smaller corpus
    assert again["version"] == "v0002"


def test_disk_full_while_publishing_leaves_no_version_and_a_rerun_publishes(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import pipeline.store.publish
    from flows.cli import app

    sim = use_counting_sim(monkeypatch)
    _, path = make_config(tmp_path, docs_per_build=4)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline.store.publish, "write_parquet", full)
        failed = CliRunner().invoke(app, ["build", str(path), "-q"])
    assert failed.exit_code == 1
    assert "No space left on device" in failed.output and "Nothing was published" in failed.output
    dataset = tmp_path / "store" / "toy"
    assert versions(dataset) == [] and not (dataset / "LATEST").exists()
    assert not [p for p in dataset.iterdir() if p.name.startswith(".incoming")]

    calls = sim.prompts
    ok = CliRunner().invoke(app, ["build", str(path), "-q"])
    assert ok.exit_code == 0, ok.output
    assert "Published toy@v0001" in ok.output and "load_dataset" in ok.output
    assert sim.prompts == calls  # every step's result was saved before the disk filled


def test_ctrl_c_stops_with_a_message_and_a_rerun_completes(tmp_path, monkeypatch):
    from flows.build import build_curriculum
    from pipeline.config import load_config
    from tests.test_flows_resume import SLOW

    _, path = make_config(tmp_path, n_docs=16, docs_per_build=16, shard_size=2)
    proc = start_build(path, tmp_path / "prefect-home")
    wait_for_files(tmp_path / "store" / "toy" / ".work" / "cache", "questions/*.json", 1, proc)
    output = interrupt(proc)
    assert proc.returncode == 130, output
    assert "interrupted: nothing was published" in output and "rerun the same command" in output
    assert versions(tmp_path / "store" / "toy") == []

    use_counting_sim(monkeypatch)
    result = build_curriculum(load_config(path, SLOW))
    assert result["version"] == "v0001" and result["rows"] > 0


def _pinned(tmp_path):
    import json

    builds = list((tmp_path / "store" / "toy" / ".work" / "builds").glob("*.json"))
    return json.loads(builds[0].read_text())["documents"]
