"""Parquet files of a version: explicit schema, zstd, sized row groups, sharded; hashed and fsynced.

Row groups and shards are sized by bytes, not rows, so a table of long documents and a table of
short questions both give row groups a reader can stream (~64 MB) and files a Hub upload handles
(~512 MB) without manual tuning.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.store.layout import Store

ROW_GROUP_BYTES = 64 * 2**20
FILE_BYTES = 512 * 2**20
MIN_ROW_GROUP_ROWS = 1_000
COMPRESSION = "zstd"
HASH_CHUNK_BYTES = 8 * 2**20


def shard_sizes(table: pa.Table) -> tuple[int, int]:
    """(rows per row group, rows per file) from the table's in-memory size."""
    return sizes_for(table.nbytes, table.num_rows)


def sizes_for(nbytes: int, num_rows: int) -> tuple[int, int]:
    """(rows per row group, rows per file) for a table of `num_rows` rows taking `nbytes` in memory."""
    bytes_per_row = max(1, nbytes // max(1, num_rows))
    group_rows = max(MIN_ROW_GROUP_ROWS, ROW_GROUP_BYTES // bytes_per_row)
    file_rows = max(group_rows, (FILE_BYTES // bytes_per_row) // group_rows * group_rows)
    return group_rows, file_rows


def write_parquet(store: Store, table: pa.Table, folder: str, stem: str) -> list[str]:
    """Write `table` as `<folder>/<stem>-00000.parquet`, ... and return the paths (one file when empty)."""
    store.fs.create_dir(folder, recursive=True)
    group_rows, file_rows = shard_sizes(table)
    paths = []
    for shard, start in enumerate(range(0, max(table.num_rows, 1), file_rows)):
        path = f"{folder}/{stem}-{shard:05d}.parquet"
        pq.write_table(table.slice(start, file_rows), path, filesystem=store.fs, compression=COMPRESSION,
                       row_group_size=group_rows, write_statistics=True)
        paths.append(path)
    return paths


def write_parquet_stream(store: Store, tables: Iterable[pa.Table], folder: str, stem: str, *,
                         schema: pa.Schema, nbytes: int, num_rows: int) -> list[str]:
    """`write_parquet` for a table that arrives in slices (`tables`, `num_rows` rows and `nbytes` in all).

    The same files, row groups and bytes as `write_parquet` on the whole table, but only a slice or
    two is ever held: memory the next slice can reuse (on this kind of VM first-touching fresh
    memory costs more than building the rows).
    """
    if num_rows == 0:
        return write_parquet(store, schema.empty_table(), folder, stem)
    store.fs.create_dir(folder, recursive=True)
    group_rows, file_rows = sizes_for(nbytes, num_rows)
    paths: list[str] = []
    writer: pq.ParquetWriter | None = None
    rows_in_file = 0
    try:
        for group in _row_groups(tables, group_rows):
            if writer is None:
                paths.append(f"{folder}/{stem}-{len(paths):05d}.parquet")
                writer = pq.ParquetWriter(paths[-1], schema, filesystem=store.fs, compression=COMPRESSION,
                                          write_statistics=True)
            writer.write_table(group, row_group_size=group_rows)
            rows_in_file += group.num_rows
            if rows_in_file >= file_rows:  # file_rows is a whole number of row groups
                writer.close()
                writer, rows_in_file = None, 0
    finally:
        if writer is not None:
            writer.close()
    return paths


def _row_groups(tables: Iterable[pa.Table], group_rows: int) -> Iterator[pa.Table]:
    """Full row groups of `group_rows` rows as the slices arrive, then the rest."""
    pending: pa.Table | None = None
    for table in tables:
        pending = table if pending is None else pa.concat_tables([pending, table])
        while pending.num_rows >= group_rows:
            yield pending.slice(0, group_rows)
            pending = pending.slice(group_rows)
    if pending is not None and pending.num_rows:
        yield pending


def write_text(store: Store, path: str, text: str) -> None:
    with store.fs.open_output_stream(path) as stream:
        stream.write(text.encode("utf-8"))


def hash_file(store: Store, path: str) -> tuple[int, str]:
    """(bytes, sha256 hex) of one file."""
    digest = hashlib.sha256()
    size = 0
    with store.fs.open_input_stream(path) as stream:
        while chunk := stream.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def describe_file(store: Store, path: str, relative: str) -> dict:
    """The manifest row of a file: path relative to the version, rows (Parquet), bytes, sha256."""
    size, sha256 = hash_file(store, path)
    rows = None
    if path.endswith(".parquet"):
        rows = pq.ParquetFile(path, filesystem=store.fs).metadata.num_rows
    return {"path": relative, "rows": rows, "bytes": size, "sha256": sha256}


def write_atomic(path: Path, text: str) -> None:
    """Write aside, fsync, rename: a reader sees the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_tree(store: Store, folder: str) -> None:
    """Flush every file and directory under a local folder to disk before it is renamed into place."""
    if not store.local:
        return  # object stores have no fsync: a written object is durable once the write returns
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(dirpath)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
