"""`curriculum datasets ...`, `export` and `push` against a real store in a temp folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_curriculum_build
from typer.testing import CliRunner

from flows.cli import app
from pipeline.store import publish_version

runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, list(args))


def _main(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real entry point (user errors -> one line, exit 2), in a fresh process."""
    code = "import sys; from flows.cli import main; sys.argv = ['curriculum'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, *args, "--root", str(root)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    for seed, per_doc in ((0, 3), (1, 3), (2, 2)):
        items, rejects, documents, info = make_curriculum_build(seed=seed, per_doc=per_doc, gasp=seed == 2)
        publish_version(str(root), "toy", items, rejects, info, documents=documents)
    return root


def test_list_shows_versions_rows_created_and_parent(store):
    result = _cli("datasets", "list", "--root", str(store))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["dataset", "version", "rows", "rejects", "created", "parent"]
    assert lines[2].split()[:3] == ["toy", "v0002", "9"] and lines[2].split()[-1] == "v0001"
    assert "v0003 *" in result.output


def test_show_prints_summary_calibration_and_rejections(store):
    result = _cli("datasets", "show", "toy@v0001", "--root", str(store))
    assert result.exit_code == 0, result.output
    assert "toy@v0001" in result.output and "rows 9  rejects 2" in result.output
    assert "| 2 | 3 | 0.500 | 0.500 ± 0.000 | 0.000 |" in result.output
    assert "no_majority" in result.output and "schema_mismatch" in result.output


def test_show_goalpost_prints_its_history(store):
    result = _cli("datasets", "show", "toy", "--goalpost", "gp1", "--root", str(store))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split() == ["v0003", "0.000", "4", "2", "2"]
    assert _cli("datasets", "show", "toy", "--goalpost", "nope", "--root", str(store)).exit_code == 2
    assert _cli("datasets", "list", "nosuch", "--root", str(store)).exit_code == 2


def test_diff_reports_counts_ids_level_mix_and_agreement(store):
    result = _cli("datasets", "diff", "toy@v0001", "v0002", "--root", str(store))
    assert result.exit_code == 0, result.output
    assert "rows: 9 -> 9" in result.output
    assert "added: 9 question ids" in result.output and "removed: 9 question ids" in result.output
    assert "label agreement: 0.667 -> 0.667 (+0.000)" in result.output


def test_export_and_push_dry_run_plan(store, tmp_path):
    out = tmp_path / "rl.parquet"
    result = _cli("export", "toy@v0001", "--view", "rl", "--out", str(out), "--root", str(store))
    assert result.exit_code == 0 and out.is_file(), result.output
    result = _cli("push", "toy@v0002", "--repo-id", "my-org/toy", "--dry-run", "--root", str(store))
    assert result.exit_code == 0, result.output
    assert "datasets/my-org/toy" in result.output and "tag v0002" in result.output
    planned = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    assert planned == ["README.md", "data/curriculum-00000.parquet", "data/documents-00000.parquet", "manifest.json",
                       "rejects/rejects-00000.parquet", "report.html", "views/rl/rl-00000.parquet",
                       "views/sft/sft-00000.parquet"]
    assert "dry run: nothing uploaded" in result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failed_push_says_so_and_leaves_the_local_version_untouched(store):
    version = store / "toy" / "v0001"
    before = {p: p.read_bytes() for p in version.rglob("*") if p.is_file()}
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_secret_do_not_print"}
    result = _main(store, "push", "toy@v0001", "--repo-id", "my-org/toy", env=env)
    assert result.returncode == 2
    assert "push of toy@v0001 to my-org/toy failed" in result.stderr and "untouched" in result.stderr
    assert "hf_secret_do_not_print" not in result.stdout + result.stderr
    assert {p: p.read_bytes() for p in version.rglob("*") if p.is_file()} == before


def test_verify_names_the_tampered_file_and_exits_non_zero(tmp_path):
    items, rejects, documents, info = make_curriculum_build()
    ref = publish_version(str(tmp_path), "toy", items, rejects, info, documents=documents)
    assert _cli("datasets", "verify", "toy", "--root", str(tmp_path)).exit_code == 0
    tampered = Path(ref.path) / "rejects" / "rejects-00000.parquet"
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    result = _cli("datasets", "verify", "toy@v0001", "--root", str(tmp_path))
    assert result.exit_code == 1 and "rejects/rejects-00000.parquet" in result.output and "sha256" in result.output
    push = _cli("push", "toy", "--repo-id", "o/toy", "--dry-run", "--root", str(tmp_path))
    assert push.exit_code == 1 and "fails verify" in push.output


def test_bad_refs_give_one_line_errors(tmp_path):
    items, rejects, documents, info = make_curriculum_build()
    ref = publish_version(str(tmp_path), "toy", items, rejects, info, documents=documents)
    missing = _main(tmp_path, "datasets", "show", "toy@v0042")
    assert missing.returncode == 2 and "toy@v0042: no such version" in missing.stderr
    manifest = Path(ref.path) / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema_version": 99}))
    newer = _main(tmp_path, "datasets", "show", "toy")
    assert newer.returncode == 2 and "schema version 99" in newer.stderr and "upgrade" in newer.stderr


def test_gc_keeps_latest_newest_and_referenced_parents(tmp_path):
    for seed in range(5):
        items, rejects, documents, info = make_curriculum_build(seed=seed)
        if seed == 4:
            info["parent_version"] = "v0001"  # built against v0001 explicitly
        publish_version(str(tmp_path), "toy", items, rejects, info, documents=documents)
    (tmp_path / "toy" / "LATEST").write_text("v0003\n")  # e.g. rolled back to v0003
    dry = _cli("datasets", "gc", "toy", "--keep", "1", "--dry-run", "--root", str(tmp_path))
    assert "would remove 1 version(s): v0004" in dry.output, dry.output
    result = _cli("datasets", "gc", "toy", "--keep", "1", "--root", str(tmp_path))
    assert result.exit_code == 0, result.output
    remaining = sorted(p.name for p in (tmp_path / "toy").iterdir() if p.name.startswith("v"))
    # v0005 newest, v0003 LATEST, v0002 parent of v0003, v0001 parent of v0005; v0004 nobody's
    assert remaining == ["v0001", "v0002", "v0003", "v0005"]
    assert not [p for p in (tmp_path / "toy").iterdir() if p.name.startswith(".deleting-")]
