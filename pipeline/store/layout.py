"""Where things live in the store: root resolution, version ids, and which versions are complete.

The root is a local path or a URL pyarrow understands (s3://, gs://); every path below is handed to a
`pyarrow.fs.FileSystem`, so the rest of the store never touches `os` except for local-only guarantees
(fsync, flock, atomic rename). A version is *complete* when its folder is named `vNNNN` and holds a
`manifest.json`: half-written versions (a killed publisher's `.incoming-*` folders) are never listed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1  # bump when manifest.json or the file layout changes incompatibly
VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
LATEST_FILE = "LATEST"
MANIFEST_FILE = "manifest.json"
INCOMING_PREFIX = ".incoming-"  # versions being written aside; invisible to readers
LOCK_FILE = ".publish.lock"


class StoreError(ValueError):
    """A store problem a user can act on: the message names the dataset, version or file."""


@dataclass(slots=True, frozen=True)
class VersionRef:
    """One published version: `path` is the version folder (a local path or a path on `fs`)."""

    dataset: str
    version: str
    path: str


@dataclass(slots=True)
class Store:
    """A store root on a filesystem; `local` turns on fsync, flock and atomic directory rename."""

    fs: pafs.FileSystem
    base: str
    local: bool

    def dataset_dir(self, dataset: str) -> str:
        if not dataset or "/" in dataset or dataset.startswith("."):
            raise StoreError(f"{dataset!r} is not a dataset name (a folder name under the store root)")
        return f"{self.base}/{dataset}"

    def version_dir(self, dataset: str, version: str) -> str:
        return f"{self.dataset_dir(dataset)}/{version}"

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def read_text(self, path: str) -> str:
        with self.fs.open_input_stream(path) as stream:
            return stream.read().decode("utf-8")

    def children(self, path: str) -> list[pafs.FileInfo]:
        if not self.exists(path):
            return []
        return self.fs.get_file_info(pafs.FileSelector(path, recursive=False))


def open_store(root: str) -> Store:
    """Resolve a store root (local path or URL) to a filesystem and base path."""
    if "://" in root and not root.startswith("file://"):
        fs, base = pafs.FileSystem.from_uri(root)
        return Store(fs=fs, base=base.rstrip("/"), local=False)
    local = Path(root.removeprefix("file://")).resolve()
    return Store(fs=pafs.LocalFileSystem(), base=str(local), local=True)


def version_id(number: int) -> str:
    return f"v{number:04d}"


def version_number(name: str) -> int | None:
    match = VERSION_PATTERN.match(name)
    return int(match.group(1)) if match else None


def list_versions(store: Store, dataset: str) -> list[str]:
    """Complete versions of a dataset, oldest first. Folders without a manifest are skipped (and logged)."""
    found = []
    for info in store.children(store.dataset_dir(dataset)):
        number = version_number(info.base_name)
        if number is None or info.type != pafs.FileType.Directory:
            continue
        if store.exists(f"{info.path}/{MANIFEST_FILE}"):
            found.append((number, info.base_name))
        else:
            log.warning("%s: no %s, a half-written version; ignored", info.path, MANIFEST_FILE)
    return [name for _, name in sorted(found)]


def highest_number(store: Store, dataset: str) -> int:
    """The highest version number taken, complete or not, so a new version never reuses a name."""
    numbers = [version_number(i.base_name) for i in store.children(store.dataset_dir(dataset))]
    return max([n for n in numbers if n is not None], default=0)


def list_datasets(store: Store) -> list[str]:
    return sorted(i.base_name for i in store.children(store.base)
                  if i.type == pafs.FileType.Directory and not i.base_name.startswith("."))


def latest_version(store: Store, dataset: str) -> str:
    """The version LATEST names; without a usable LATEST, the newest complete version (with a warning)."""
    dataset_dir = store.dataset_dir(dataset)
    versions = list_versions(store, dataset)
    if not versions:
        if not store.exists(dataset_dir):
            raise StoreError(f"no dataset {dataset!r} under {store.base}")
        raise StoreError(f"{dataset_dir}: no complete version published yet")
    latest_path = f"{dataset_dir}/{LATEST_FILE}"
    if not store.exists(latest_path):
        log.warning("%s is missing; using the newest complete version %s", latest_path, versions[-1])
        return versions[-1]
    named = store.read_text(latest_path).strip()
    if named not in versions:
        log.warning("%s names %r, which is not a complete version; using %s", latest_path, named, versions[-1])
        return versions[-1]
    return named


def resolve_version(store: Store, dataset: str, version: str | None) -> VersionRef:
    """A `VersionRef` for `version` (default: LATEST), with a clear error when it is missing or partial."""
    if version is None or version == "latest":
        version = latest_version(store, dataset)
    elif version_number(version) is None:
        raise StoreError(f"{version!r} is not a version id (expected e.g. v0003)")
    path = store.version_dir(dataset, version)
    if not store.exists(path):
        known = ", ".join(list_versions(store, dataset)) or "none"
        raise StoreError(f"{dataset}@{version}: no such version under {store.base} (versions: {known})")
    if not store.exists(f"{path}/{MANIFEST_FILE}"):
        raise StoreError(f"{path}: half-written version (no {MANIFEST_FILE}); it is not readable")
    return VersionRef(dataset=dataset, version=version, path=path)


def parse_ref(text: str) -> tuple[str, str | None]:
    """`NAME[@VERSION]` -> (name, version or None)."""
    name, _, version = text.partition("@")
    return name, (version or None)
