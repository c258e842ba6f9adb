"""Who may write where: the per-dataset publish lock and the aside folders versions are written in.

Local stores use `fcntl.flock`, which the kernel releases when a process dies, so a killed publisher
never leaves a lock behind and its half-written `.incoming-*` folder is recognisably abandoned: its
own lock file can be taken. Object stores have neither flock nor atomic rename; there the version
number is still taken under a best-effort check and the manifest is written last (see publish.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Iterator

import pyarrow.fs as pafs

from pipeline.store.layout import INCOMING_PREFIX, LOCK_FILE, Store

log = logging.getLogger(__name__)

DELETING_PREFIX = ".deleting-"  # versions gc is removing: renamed out of sight first
REMOTE_STALE_S = 24 * 3600  # object stores: an aside folder this old is taken as abandoned


@contextlib.contextmanager
def publish_lock(store: Store, dataset_dir: str) -> Iterator[None]:
    """Exclusive right to take a version number, move a version in place, update LATEST or gc."""
    if not store.local:
        log.warning("%s: no cross-process lock on a remote store; run one publisher per dataset", dataset_dir)
        yield
        return
    with open(os.path.join(dataset_dir, LOCK_FILE), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def incoming_dir(store: Store, dataset_dir: str) -> Iterator[str]:
    """A fresh hidden folder to write a version in; removed on failure, left to the caller on success."""
    path = f"{dataset_dir}/{INCOMING_PREFIX}{uuid.uuid4().hex[:12]}"
    handle = None
    if store.local:
        # the lock file first, then the folder: a cleaner never sees a live folder it could lock
        handle = open(path + ".lock", "a+")  # noqa: SIM115 (held for the whole write)
        fcntl.flock(handle, fcntl.LOCK_EX)
    store.fs.create_dir(path, recursive=True)
    try:
        yield path
    except BaseException:
        _remove_dir(store, path)
        raise
    finally:
        if handle is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + ".lock")
            handle.close()


def _remove_dir(store: Store, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        store.fs.delete_dir(path)


def _abandoned(store: Store, info: pafs.FileInfo) -> bool:
    if not store.local:
        return info.mtime is not None and time.time() - info.mtime.timestamp() > REMOTE_STALE_S
    with open(info.path + ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer is alive
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def clean_stale(store: Store, dataset_dir: str, *, deleting_too: bool = False) -> list[str]:
    """Remove aside folders of killed publishers (and, under the publish lock, interrupted gc deletes)."""
    removed = []
    for info in store.children(dataset_dir):
        name = info.base_name
        if info.type == pafs.FileType.Directory and name.startswith(INCOMING_PREFIX) and _abandoned(store, info):
            _remove_dir(store, info.path)
            if store.local:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(info.path + ".lock")
            removed.append(name)
        elif deleting_too and info.type == pafs.FileType.Directory and name.startswith(DELETING_PREFIX):
            _remove_dir(store, info.path)
            removed.append(name)
        elif store.local and name.startswith(INCOMING_PREFIX) and name.endswith(".lock"):
            folder = info.path[: -len(".lock")]
            if not store.exists(folder) and _abandoned(store, pafs.FileInfo(folder)):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(info.path)
    for name in removed:
        log.warning("%s/%s: removed a half-written folder left by an interrupted process", dataset_dir, name)
    return removed
