"""Reading the store: a version's manifest and tables, documents already used, verify, and gc."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.records import CURRICULUM_SCHEMA, DOCUMENT_SCHEMA, REJECTION_SCHEMA
from pipeline.store.layout import (
    Store,
    StoreError,
    VersionRef,
    latest_version,
    list_versions,
    open_store,
    resolve_version,
)
from pipeline.store.locks import DELETING_PREFIX, clean_stale, publish_lock
from pipeline.store.manifest import read_manifest, verify_files

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StoredVersion:
    """A complete version: its ref and manifest, with readers for its tables."""

    store: Store
    ref: VersionRef
    manifest: dict[str, Any]

    def files(self, prefix: str) -> list[str]:
        return [f"{self.ref.path}/{f['path']}" for f in self.manifest["files"] if f["path"].startswith(prefix)]

    def _read(self, prefix: str, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
        paths = self.files(prefix)
        if not paths:
            return schema.empty_table() if columns is None else schema.empty_table().select(columns)
        tables = [pq.read_table(p, filesystem=self.store.fs, schema=schema, columns=columns) for p in paths]
        return pa.concat_tables(tables)

    def curriculum(self, columns: list[str] | None = None) -> pa.Table:
        """The raw rows, in curriculum order."""
        return self._read("data/curriculum-", CURRICULUM_SCHEMA, columns)

    def rejects(self) -> pa.Table:
        return self._read("rejects/", REJECTION_SCHEMA)

    def documents(self, columns: list[str] | None = None) -> pa.Table:
        return self._read("data/documents-", DOCUMENT_SCHEMA, columns)

    def view_files(self, view: str) -> list[str]:
        return self.files("data/curriculum-") if view == "raw" else self.files(f"views/{view}/")


def read_version(root: str, dataset: str, version: str | None = None) -> StoredVersion:
    """Open `dataset@version` (default: LATEST) under `root`; StoreError when missing or unreadable."""
    store = open_store(root)
    ref = resolve_version(store, dataset, version)
    return StoredVersion(store=store, ref=ref, manifest=read_manifest(store, ref.path))


def used_doc_ids(root: str, dataset: str) -> set[str]:
    """Doc ids of every document any complete version of `dataset` used (empty for a new dataset)."""
    store = open_store(root)
    if not store.exists(store.dataset_dir(dataset)):
        return set()
    used: set[str] = set()
    for version in list_versions(store, dataset):
        stored = read_version(root, dataset, version)
        used.update(stored.documents(["doc_id"]).column("doc_id").to_pylist())
        used.update(stored.curriculum(["doc_id"]).column("doc_id").to_pylist())
    used.discard("")
    return used


def verify_version(root: str, dataset: str, version: str | None = None) -> list[str]:
    """Problems found re-hashing every file of a version (empty when it is intact)."""
    stored = read_version(root, dataset, version)
    return verify_files(stored.store, stored.ref.path, stored.manifest)


def protected_versions(store: Store, dataset: str, keep: int) -> set[str]:
    """The newest `keep` versions, LATEST, and the parent each of those names."""
    versions = list_versions(store, dataset)
    kept = set(versions[-keep:] if keep > 0 else [])
    kept.add(latest_version(store, dataset))
    for version in list(kept):
        parent = read_manifest(store, store.version_dir(dataset, version)).get("parent")
        if parent in versions:
            kept.add(parent)
    return kept


def gc_versions(root: str, dataset: str, keep: int, dry_run: bool = False) -> list[str]:
    """Remove all but the newest `keep` versions (never LATEST nor a kept version's parent)."""
    if keep < 1:
        raise StoreError(f"--keep must be at least 1, got {keep}")
    store = open_store(root)
    dataset_dir = store.dataset_dir(dataset)
    with publish_lock(store, dataset_dir):
        kept = protected_versions(store, dataset, keep)
        doomed = [v for v in list_versions(store, dataset) if v not in kept]
        if dry_run:
            return doomed
        clean_stale(store, dataset_dir, deleting_too=True)
        for version in doomed:
            # out of sight first (one rename), then deleted: a crash mid-delete leaves no partial version
            hidden = f"{dataset_dir}/{DELETING_PREFIX}{version}-{uuid.uuid4().hex[:8]}"
            store.fs.move(store.version_dir(dataset, version), hidden)
            store.fs.delete_dir(hidden)
            log.info("gc: removed %s@%s", dataset, version)
    return doomed


def goalpost_history(root: str, dataset: str, goalpost_id: str) -> list[dict[str, Any]]:
    """Per version: the goalpost's pass@k, k and deepest rung (manifest), and its ladder rows (data)."""
    store = open_store(root)
    history = []
    for version in list_versions(store, dataset):
        stored = read_version(root, dataset, version)
        progress = next((g for g in stored.manifest.get("goalposts", []) if g.get("goalpost_id") == goalpost_id), None)
        rows = stored.curriculum(["goalpost_id", "depth"]).to_pylist()
        depths = [r["depth"] for r in rows if r["goalpost_id"] == goalpost_id]
        if progress is None and not depths:
            continue
        progress = progress or {}
        history.append({"version": version, "pass_at_k": progress.get("pass_at_k"), "k": progress.get("k"),
                        "deepest_depth": progress.get("deepest_depth", max(depths, default=None)),
                        "ladder_rows": len(depths)})
    return history
