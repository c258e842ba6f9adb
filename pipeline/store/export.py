"""`curriculum export`: copy one trainer view of a version out of the store.

`OUT.parquet` gives one Parquet file, `OUT.jsonl` JSON lines (nested fields as JSON objects), any
other path a folder of the view's Parquet shards. Output is written beside the target and renamed,
so an interrupted export never leaves a truncated file under the requested name.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.store.files import COMPRESSION
from pipeline.store.layout import StoreError
from pipeline.store.versions import StoredVersion
from pipeline.store.views import VIEWS


def export_view(stored: StoredVersion, view: str, out: str | Path) -> int:
    """Write `view` of `stored` to `out`; returns the number of rows written."""
    if view not in VIEWS:
        raise StoreError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    sources = stored.view_files(view)
    if not sources:
        raise StoreError(f"{stored.ref.path}: no files for view {view!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    rows = 0
    try:
        if out.suffix == ".parquet":
            schema = pq.read_schema(sources[0], filesystem=stored.store.fs)
            with pq.ParquetWriter(temporary, schema, compression=COMPRESSION) as writer:
                for source in sources:
                    table = pq.read_table(source, filesystem=stored.store.fs)
                    writer.write_table(table)
                    rows += table.num_rows
        elif out.suffix == ".jsonl":
            with open(temporary, "w", encoding="utf-8") as handle:
                for source in sources:
                    for batch in pq.ParquetFile(source, filesystem=stored.store.fs).iter_batches():
                        for row in batch.to_pylist():
                            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                        rows += batch.num_rows
        else:
            temporary.mkdir()
            for source in sources:
                stored.store.fs.copy_file(source, str(temporary / os.path.basename(source)))
                rows += pq.ParquetFile(source, filesystem=stored.store.fs).metadata.num_rows
        if out.is_dir():
            # never delete a user's folder: a folder export needs a new path
            raise StoreError(f"{out} is an existing folder; name a .parquet or .jsonl file, or a new folder")
        os.replace(temporary, out)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary)
        elif temporary.exists():
            temporary.unlink()
    return rows
