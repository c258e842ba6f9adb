"""Publishing versions: layout, manifest, atomicity, concurrency, crash recovery, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_curriculum_build

from pipeline.records import CURRICULUM_SCHEMA, to_table
from pipeline.store import StoreError, publish_version, read_version, used_doc_ids, verify_version
from pipeline.store.layout import SCHEMA_VERSION, list_versions, open_store

TESTS = Path(__file__).parent


def _publish(root, dataset="toy", seed=0, **kwargs):
    items, rejects, documents, info = make_curriculum_build(seed=seed, **kwargs)
    return publish_version(str(root), dataset, items, rejects, info, documents=documents)


def test_column_built_table_matches_the_row_dicts_of_to_row():
    items, *_ = make_curriculum_build(gasp=True)
    rows = pa.Table.from_pylist([item.to_row() for item in items], schema=CURRICULUM_SCHEMA)
    assert to_table(items).equals(rows)


def test_publish_writes_the_layout_and_a_complete_manifest(tmp_path):
    ref = _publish(tmp_path, gasp=True)
    version = Path(ref.path)
    assert (ref.version, version) == ("v0001", tmp_path / "toy" / "v0001")
    assert (tmp_path / "toy" / "LATEST").read_text().strip() == "v0001"
    for name in ("manifest.json", "README.md", "report.html", "data/curriculum-00000.parquet",
                 "data/documents-00000.parquet", "rejects/rejects-00000.parquet", "views/rl/rl-00000.parquet"):
        assert (version / name).is_file(), name
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["parent"] is None
    assert manifest["config_hash"] == "abc123" and manifest["license"] == "cc-by-4.0"
    assert manifest["counts"]["rows"] == 11 and manifest["counts"]["documents"] == 3
    assert manifest["counts"]["rejections"] == {"labels": {"no_majority": 1}, "questions": {"schema_mismatch": 1}}
    assert manifest["counts"]["rejection_reasons"] == {"no_majority": 1, "schema_mismatch": 1}
    assert manifest["token_usage"]["student"]["completion"] == 20 and manifest["package_version"]
    assert [c["level"] for c in manifest["calibration"]] == [0, 1, 2, 3]  # computed when the build gives none
    files = {f["path"]: f for f in manifest["files"]}
    assert files["data/curriculum-00000.parquet"]["rows"] == 11 and len(files["README.md"]["sha256"]) == 64
    meta = pq.ParquetFile(version / "data/curriculum-00000.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_versions_count_up_and_never_overwrite(tmp_path):
    first = _publish(tmp_path)
    before = {p: p.read_bytes() for p in Path(first.path).rglob("*") if p.is_file()}
    second = _publish(tmp_path, seed=1)
    assert (first.version, second.version) == ("v0001", "v0002")
    assert read_version(str(tmp_path), "toy").manifest["parent"] == "v0001"
    assert {p: p.read_bytes() for p in Path(first.path).rglob("*") if p.is_file()} == before
    assert verify_version(str(tmp_path), "toy", "v0001") == [] and verify_version(str(tmp_path), "toy") == []


def test_read_version_returns_rows_in_curriculum_order_and_used_documents(tmp_path):
    items, rejects, documents, info = make_curriculum_build()
    publish_version(str(tmp_path), "toy", items, rejects, info, documents=documents)
    stored = read_version(str(tmp_path), "toy")
    assert stored.curriculum().column("question_id").to_pylist() == [i.question.question_id for i in items]
    assert stored.rejects().num_rows == 2
    assert used_doc_ids(str(tmp_path), "toy") == {d.doc_id for d in documents}
    assert used_doc_ids(str(tmp_path), "never-built") == set()


def test_documents_may_come_in_build_info(tmp_path):
    items, rejects, documents, info = make_curriculum_build()
    info["documents"] = {d.doc_id: d.text for d in documents}
    publish_version(str(tmp_path), "toy", items, rejects, info)
    assert "documents" not in read_version(str(tmp_path), "toy").manifest["extra"]


def test_missing_document_text_is_refused_before_anything_is_written(tmp_path):
    items, rejects, documents, info = make_curriculum_build()
    with pytest.raises(StoreError, match="document"):
        publish_version(str(tmp_path), "toy", items, rejects, info, documents=documents[:1])
    assert not (tmp_path / "toy").exists()


def test_missing_latest_falls_back_to_newest_complete_version(tmp_path, caplog):
    _publish(tmp_path)
    _publish(tmp_path, seed=1)
    (tmp_path / "toy" / "LATEST").unlink()
    assert read_version(str(tmp_path), "toy").ref.version == "v0002"
    assert "LATEST is missing" in caplog.text


def test_manifest_from_a_newer_schema_version_is_a_clear_error(tmp_path):
    ref = _publish(tmp_path)
    path = Path(ref.path) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="newer|upgrade"):
        read_version(str(tmp_path), "toy")


def test_version_folder_without_manifest_is_invisible_and_named_when_asked_for(tmp_path):
    _publish(tmp_path)
    (tmp_path / "toy" / "v0002" / "data").mkdir(parents=True)  # e.g. a copy interrupted by hand
    assert list_versions(open_store(str(tmp_path)), "toy") == ["v0001"]
    with pytest.raises(StoreError, match="half-written"):
        read_version(str(tmp_path), "toy", "v0002")
    assert _publish(tmp_path, seed=1).version == "v0003"  # the broken name is never reused


KILLED_PUBLISHER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from conftest import make_curriculum_build
    import pipeline.store.publish as publish
    real = publish.write_parquet
    def write_then_die(store, table, folder, stem):
        real(store, table, folder, stem)
        os.kill(os.getpid(), signal.SIGKILL)  # a build killed mid-publish
    publish.write_parquet = write_then_die
    items, rejects, documents, info = make_curriculum_build()
    publish.publish_version({root!r}, "toy", items, rejects, info, documents=documents)
""")


def test_killed_publisher_leaves_nothing_readable_and_next_publish_cleans_up(tmp_path):
    script = KILLED_PUBLISHER.format(tests=str(TESTS), root=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -9, result.stderr
    leftovers = [p.name for p in (tmp_path / "toy").iterdir() if p.name.startswith(".incoming-") and p.is_dir()]
    assert len(leftovers) == 1
    with pytest.raises(StoreError, match="no complete version"):
        read_version(str(tmp_path), "toy")
    assert _publish(tmp_path).version == "v0001"
    assert not [p for p in (tmp_path / "toy").iterdir() if p.name.startswith(".incoming-")]


CONCURRENT_PUBLISHER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import make_curriculum_build
    from pipeline.store import publish_version
    for round in range(3):
        items, rejects, documents, info = make_curriculum_build(seed={seed} * 10 + round)
        print(publish_version({root!r}, "toy", items, rejects, info, documents=documents).version)
""")


def test_two_processes_publishing_at_once_never_clobber_each_other(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_PUBLISHER.format(tests=str(TESTS), root=str(tmp_path),
                                                                                 seed=seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    published = sorted(v for out, _ in outputs for v in out.split())
    assert published == [f"v{i:04d}" for i in range(1, 7)]
    assert list_versions(open_store(str(tmp_path)), "toy") == published
    for version in published:
        assert verify_version(str(tmp_path), "toy", version) == []
    seeds = {read_version(str(tmp_path), "toy", v).manifest["seeds"]["seed"] for v in published}
    assert len(seeds) == 6  # every publish kept its own data
    assert (tmp_path / "toy" / "LATEST").read_text().strip() in published
    assert os.listdir(tmp_path / "toy").count(".publish.lock") == 1
