"""Whole builds through the `openai` backend, against the loopback `SimServer` (answers as `sim` would)."""

from __future__ import annotations

import pytest
from openai_test_server import SimServer, serve

from tests.flows_support import make_config
from tests.test_flows_resume import interrupt, start_build, wait_for_files

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROLES = {"questioner": "sim-writer", "teacher": "sim-writer", "student": "sim-student"}


def through(server, cap: int = 8) -> list[str]:
    """Overrides that send every role to `server` under the model name it has on the sim backend."""
    return [f"models.{role}={{backend: openai, model: {model}, base_url: '{server.base_url}', "
            f"max_concurrency: {cap}, max_retries: 2, timeout_s: 30}}" for role, model in ROLES.items()]


def published_rows(config) -> list[tuple]:
    from pipeline.store import read_version

    table = read_version(config.output_root, "toy").curriculum(["question", "label_answer", "solve_rate", "level"])
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def test_an_openai_build_publishes_exactly_what_the_same_model_publishes_on_sim(tmp_path):
    from flows.build import build_curriculum

    sim_config, _ = make_config(tmp_path / "sim", docs_per_build=6, shard_size=2)
    on_sim = build_curriculum(sim_config)
    with serve(SimServer, latency_s=0.05) as server:  # latency, so that requests overlap
        config, _ = make_config(tmp_path / "openai", docs_per_build=6, shard_size=2, extra=through(server, cap=8))
        result = build_curriculum(config)
    assert config.models.teacher.backend == "openai" and result["rows"] == on_sim["rows"] > 0
    assert published_rows(config) == published_rows(sim_config)
    # Every prompt went over HTTP, and the build's steps, running at once, kept to each engine's cap:
    # two engines (writer and student models), 8 requests each.
    assert len(server.requests) == result["model_calls"]["prompts"] == on_sim["model_calls"]["prompts"]
    assert 8 <= server.max_in_flight <= 16 and server.connections <= 16


def test_ctrl_c_during_an_openai_build_ends_promptly_and_a_rerun_completes(tmp_path):
    from flows.build import build_curriculum

    with serve(SimServer, latency_s=0.3) as server:
        config, path = make_config(tmp_path, n_docs=16, docs_per_build=16, shard_size=2, extra=through(server))
        proc = start_build(path, tmp_path / "prefect-home", overrides=through(server))
        wait_for_files(tmp_path / "store" / "toy" / ".work" / "cache", "questions/*.json", 1, proc)
        output = interrupt(proc)
        assert proc.returncode == 130, output
        assert "interrupted: nothing was published" in output
        assert not (tmp_path / "store" / "toy" / "LATEST").exists()

        result = build_curriculum(config)
    assert result["version"] == "v0001" and result["rows"] > 0
