"""Crash-safe resume: kill -9 mid-build, rerun, same version, no persisted model call repeated.

Model calls are counted on the real sim backend (a counting subclass), and every persisted step
result records the prompts it cost, so the test can check the exact accounting:
    prompts of the rerun + prompts saved by the killed run == prompts of an uninterrupted build.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.flows_support import cache_calls, make_config, use_counting_sim

pytestmark = pytest.mark.usefixtures("prefect_harness")

REPO = Path(__file__).resolve().parents[1]
SLOW = ["models.questioner.latency_s=0.4", "models.teacher.latency_s=0.4", "models.student.latency_s=0.4"]


def start_build(config_path: Path, home: Path, *extra: str, overrides: list[str] = SLOW) -> subprocess.Popen:
    """`curriculum build` in its own process group (its ephemeral Prefect server included)."""
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("PREFECT_API_URL", None)
    args = [sys.executable, "-c", "from flows.cli import main; main()", "build", str(config_path), *extra]
    for assignment in overrides:
        args += ["--set", assignment]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def interrupt(proc: subprocess.Popen) -> str:
    """SIGINT to the build's process group, as a terminal sends it; the build's output once it ended."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return output


def wait_for_files(folder: Path, pattern: str, count: int, proc: subprocess.Popen, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while len(list(folder.glob(pattern))) < count:
        if proc.poll() is not None:
            raise AssertionError(f"build ended before it could be interrupted:\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("build made no progress")
        time.sleep(0.05)


def test_kill_9_then_rerun_finishes_the_same_version_without_repeating_saved_calls(tmp_path, monkeypatch):
    from flows.build import build_curriculum
    from pipeline.config import load_config
    from pipeline.store import read_version

    sim = use_counting_sim(monkeypatch)
    clean_config, _ = make_config(tmp_path / "clean", docs_per_build=9, shard_size=3)
    clean = build_curriculum(clean_config)
    clean_prompts = sim.prompts
    clean_ids = set(read_version(clean_config.output_root, "toy").curriculum(["question_id"])
                    .column("question_id").to_pylist())

    _, config_path = make_config(tmp_path / "killed", docs_per_build=9, shard_size=3)
    cache = tmp_path / "killed" / "store" / "toy" / ".work" / "cache"
    proc = start_build(config_path, tmp_path / "prefect-home")
    wait_for_files(cache, "labels/*.json", 1, proc)  # labelling under way (dedup streams, so later
    os.killpg(proc.pid, signal.SIGKILL)              # shards may still be writing questions)
    proc.wait(timeout=30)
    saved = cache_calls(cache)
    saved_files = {step: len(list(cache.glob(f"{step}/*.json"))) for step in ("questions", "dedup")}
    assert not (tmp_path / "killed" / "store" / "toy" / "v0001").exists()
    assert 0 < saved < clean_prompts

    sim.reset()
    config = load_config(config_path, SLOW)
    resumed = build_curriculum(config)
    assert resumed["version"] == "v0001" and not resumed["up_to_date"]
    # of 3 shards, only the shard-steps the killed run had not saved are computed again
    assert resumed["computed"].get("questions", 0) == 3 - saved_files["questions"]
    assert resumed["computed"].get("dedup", 0) == 3 - saved_files["dedup"]
    assert sim.prompts > 0 and sim.prompts + saved == clean_prompts
    store = tmp_path / "killed" / "store" / "toy"
    assert sorted(p.name for p in store.iterdir() if p.name.startswith("v")) == ["v0001"]  # published once
    ids = set(read_version(config.output_root, "toy").curriculum(["question_id"]).column("question_id").to_pylist())
    assert ids == clean_ids and resumed["rows"] == clean["rows"]

    again = build_curriculum(config)
    assert again["up_to_date"] and again["version"] == "v0001"


def test_a_changed_config_recomputes_only_the_steps_that_read_it(tmp_path, monkeypatch):
    from flows.build import build_curriculum

    sim = use_counting_sim(monkeypatch)
    config, path = make_config(tmp_path, docs_per_build=6, shard_size=3)
    build_curriculum(config)
    before = sim.prompts

    from pipeline.config import load_config

    changed = load_config(path, ["darc.student_samples=6", "corpus.exclude_used=false"])
    result = build_curriculum(changed)
    assert result["version"] == "v0002"
    assert result["computed"] == {"difficulty": 2}  # questions, dedup and labels all reused
    assert sim.prompts - before == result["model_calls"]["prompts"] > 0


def test_publish_is_not_repeated_when_the_crash_came_after_the_store_renamed(tmp_path, monkeypatch):
    """A kill between the store's rename and the work dir's record: the rerun finds its version."""
    import flows.workdir
    from flows.build import build_curriculum

    use_counting_sim(monkeypatch)
    config, _ = make_config(tmp_path, docs_per_build=3)

    def crash(self, state, version):
        raise KeyboardInterrupt  # as if killed right after publish_version returned

    with monkeypatch.context() as patch:
        patch.setattr(flows.workdir.WorkDir, "finish", crash)
        with pytest.raises(KeyboardInterrupt):
            build_curriculum(config)
    result = build_curriculum(config)
    assert result["version"] == "v0001"
    assert sorted(p.name for p in (tmp_path / "store" / "toy").iterdir() if p.name.startswith("v")) == ["v0001"]
