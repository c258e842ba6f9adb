"""publish_version: write a build's rows, rejects, documents and views as a new immutable version.

Order of work: everything heavy (Parquet files, views) is written into a hidden `.incoming-*` folder
without holding any lock, so concurrent builds write in parallel. Then, under the dataset's publish
lock: take the next version number, write the card, report and manifest (with every file's sha256),
fsync, rename the folder to `vNNNN` (atomic on a local disk) and update LATEST. A crash at any point
leaves either no new version or a complete one; readers never see a half-written folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from pipeline.records import (
    CURRICULUM_SCHEMA,
    DOCUMENT_SCHEMA,
    REJECTION_SCHEMA,
    CurriculumItem,
    Document,
    Rejection,
    to_table,
)
from pipeline.store.card import render_card
from pipeline.store.files import (
    describe_file,
    fsync_dir,
    fsync_tree,
    write_atomic,
    write_parquet,
    write_parquet_stream,
    write_text,
)
from pipeline.store.layout import (
    LATEST_FILE,
    MANIFEST_FILE,
    Store,
    StoreError,
    VersionRef,
    highest_number,
    list_versions,
    open_store,
    version_id,
)
from pipeline.store.locks import clean_stale, incoming_dir, publish_lock
from pipeline.store.manifest import build_manifest, dump
from pipeline.store.report import render_report
from pipeline.store.summary import calibration_from_table
from pipeline.store.views import VIEW_SCHEMAS, view_nbytes, view_slices

log = logging.getLogger(__name__)

DocumentsInput = Iterable[Document] | dict[str, str] | pa.Table | None


def documents_table(documents: DocumentsInput) -> pa.Table:
    """Documents given as Document records, {doc_id: text}, dicts or a table -> DOCUMENT_SCHEMA, unique ids."""
    if documents is None:
        table = DOCUMENT_SCHEMA.empty_table()
    elif isinstance(documents, pa.Table):
        table = documents.select(DOCUMENT_SCHEMA.names).cast(DOCUMENT_SCHEMA)
    elif isinstance(documents, dict):
        table = pa.table({"doc_id": list(documents), "text": list(documents.values()),
                          "source": [""] * len(documents)}, schema=DOCUMENT_SCHEMA)
    else:
        rows = [d if isinstance(d, Document) else Document(**d) for d in documents]
        table = to_table(rows, DOCUMENT_SCHEMA)
    if pc.count_distinct(table.column("doc_id")).as_py() == table.num_rows:  # the usual case, without a Python loop
        return table
    ids = table.column("doc_id").to_pylist()
    if len(set(ids)) != len(ids):
        first = {}
        keep = [first.setdefault(doc_id, i) == i for i, doc_id in enumerate(ids)]
        table = table.filter(pa.array(keep))
    return table


def publish_version(root: str, dataset: str, items: Sequence[CurriculumItem], rejects: Sequence[Rejection],
                    build_info: dict[str, Any], *, documents: DocumentsInput = None) -> VersionRef:
    """Publish a new version of `dataset` under `root` and return its ref.

    `documents` (or `build_info["documents"]`) are the documents the build used; the rl view needs the
    text of every document a row cites, and `used_doc_ids` reads them to keep later builds off them.
    """
    store = open_store(root)
    dataset_dir = store.dataset_dir(dataset)
    build_info = dict(build_info)
    given_documents = build_info.pop("documents", None)
    docs = documents_table(documents if documents is not None else given_documents)
    curriculum = to_table(items, CURRICULUM_SCHEMA)
    reject_rows = to_table(rejects, REJECTION_SCHEMA)
    # views are sized first (this also checks documents, before anything is written), then built
    # again slice by slice as they are written: never held whole (a million rl rows: ~1.7 GB)
    view_bytes = {view: view_nbytes(view, curriculum, docs) for view in VIEW_SCHEMAS}
    store.fs.create_dir(dataset_dir, recursive=True)
    clean_stale(store, dataset_dir)
    with incoming_dir(store, dataset_dir) as work:
        write_parquet(store, curriculum, f"{work}/data", "curriculum")
        write_parquet(store, docs, f"{work}/data", "documents")
        write_parquet(store, reject_rows, f"{work}/rejects", "rejects")
        for view, schema in VIEW_SCHEMAS.items():
            write_parquet_stream(store, view_slices(view, curriculum, docs), f"{work}/views/{view}", view,
                                 schema=schema, nbytes=view_bytes[view], num_rows=curriculum.num_rows)
        with publish_lock(store, dataset_dir):
            clean_stale(store, dataset_dir, deleting_too=True)
            version = version_id(highest_number(store, dataset) + 1)
            ref = VersionRef(dataset, version, store.version_dir(dataset, version))
            parent = build_info.get("parent_version") if "parent_version" in build_info else _newest(store, dataset)
            manifest = build_manifest(ref, build_info, parent, curriculum.num_rows, reject_rows, docs.num_rows, [])
            if not manifest["calibration"]:
                manifest["calibration"] = calibration_from_table(curriculum, manifest["config"] or {})
            write_text(store, f"{work}/README.md", render_card(manifest))
            write_text(store, f"{work}/report.html", render_report(manifest, curriculum))
            manifest["files"] = [describe_file(store, f"{work}/{rel}", rel) for rel in _relative_files(store, work)]
            _move_into_place(store, work, ref.path, dump(manifest))
            _write_latest(store, dataset_dir, ref.version)
    log.info("published %s@%s: %d rows, %d rejects", dataset, ref.version, curriculum.num_rows, reject_rows.num_rows)
    return ref


def _newest(store: Store, dataset: str) -> str | None:
    versions = list_versions(store, dataset)
    return versions[-1] if versions else None


def _relative_files(store: Store, folder: str) -> list[str]:
    infos = store.fs.get_file_info(pafs.FileSelector(folder, recursive=True))
    return sorted(i.path[len(folder) + 1:] for i in infos if i.type == pafs.FileType.File)


def _move_into_place(store: Store, work: str, final: str, manifest_text: str) -> None:
    """Make the version visible: the manifest is the last thing written, the rename the last step."""
    if store.exists(final):
        raise StoreError(f"{final} already exists; a version is never overwritten")
    write_text(store, f"{work}/{MANIFEST_FILE}", manifest_text)
    if store.local:
        fsync_tree(store, work)
        try:
            os.rename(work, final)  # atomic: readers see all of the version or none of it
        except OSError as error:
            raise StoreError(f"could not move {work} to {final}: {error}") from error
        fsync_dir(os.path.dirname(final))
        return
    # object stores cannot rename a folder: copy every file, the manifest last, so readers (which
    # require manifest.json) never see a partial version
    for relative in _relative_files(store, work):
        if relative != MANIFEST_FILE:
            store.fs.copy_file(f"{work}/{relative}", f"{final}/{relative}")
    store.fs.copy_file(f"{work}/{MANIFEST_FILE}", f"{final}/{MANIFEST_FILE}")
    store.fs.delete_dir(work)


def _write_latest(store: Store, dataset_dir: str, version: str) -> None:
    target = f"{dataset_dir}/{LATEST_FILE}"
    if not store.local:
        write_text(store, target, version + "\n")
        return
    write_atomic(Path(target), version + "\n")
    fsync_dir(dataset_dir)
