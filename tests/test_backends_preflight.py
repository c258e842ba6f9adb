"""Preflight: an unreachable server or an engine that cannot run fails in one line before any work."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from pipeline.backends import BackendUnavailable, preflight
from pipeline.config import Models, OpenAIModel, SimModel, VLLMModel
from tests.openai_test_server import serve


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def models(teacher) -> Models:
    return Models(questioner=SimModel(backend="sim"), teacher=teacher, student=SimModel(backend="sim"))


def test_unreachable_server_is_named_with_its_role_at_once():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    started = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=rf"models\.teacher: openai backend: cannot reach {url}"):
        preflight(models(OpenAIModel(backend="openai", model="m", base_url=url)))
    assert time.perf_counter() - started < 5


def test_reachable_server_passes_and_needs_no_generation():
    with serve() as server:
        preflight(models(OpenAIModel(backend="openai", model="m", base_url=server.base_url)))
        assert server.requests == []  # GET /models only: no chat completion was asked for


def test_vllm_without_vllm_or_gpu_is_refused_before_loading_anything():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
        pytest.skip("vLLM is installed here")
    except ImportError:
        pass
    with pytest.raises(BackendUnavailable, match=r"models\.teacher: vllm backend: vLLM is not installed"):
        preflight(models(VLLMModel(backend="vllm", model="m")))


def test_build_against_an_unreachable_server_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"text": "The bridge is 1,280 metres long."}\n')
    url = f"http://127.0.0.1:{closed_port()}/v1"
    (tmp_path / "b.yaml").write_text(
        "dataset: x\ncorpus: {paths: [c.jsonl]}\nmodels:\n"
        f"  questioner: {{backend: openai, model: m, base_url: '{url}'}}\n"
        "  teacher: {backend: sim}\n  student: {backend: sim}\n")
    result = subprocess.run([sys.executable, "-c", "from flows.cli import main; main()", "build",
                             str(tmp_path / "b.yaml"), "--out", str(tmp_path / "store")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: models.questioner: openai backend: cannot reach {url}: "
                                                  + result.stderr.split(f"{url}: ", 1)[1].strip()]
