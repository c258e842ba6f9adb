"""manifest.json: what a version is, how it was built, and every file's rows, bytes and sha256.

The flow passes `build_info` with the keys in BUILD_INFO_KEYS (all optional); the store adds the
package version, git commit, creation time, schema version, counts per rejection reason and the
file table. Unknown build_info keys are kept under "extra" rather than dropped.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

import pipeline
from pipeline.store.files import hash_file
from pipeline.store.layout import MANIFEST_FILE, SCHEMA_VERSION, Store, StoreError, VersionRef

log = logging.getLogger(__name__)

BUILD_INFO_KEYS = {
    "config": dict, "config_hash": str, "models": dict, "seeds": dict, "step_counts": dict,
    "token_usage": dict, "wall_time_s": dict, "calibration": list, "goalposts": list, "ladders": list,
    "parent_version": str,
}


def git_commit() -> str | None:
    """The commit of the checkout the package runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(pipeline.__file__).parent,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def rejection_counts(rejects: pa.Table) -> dict[str, dict[str, int]]:
    """{step: {reason: count}} over the rejects table."""
    counts: dict[str, Counter] = {}
    grouped = rejects.select(["step", "reason"]).group_by(["step", "reason"]).aggregate([([], "count_all")])
    for row in grouped.to_pylist():  # one row per (step, reason), counted by Arrow
        counts.setdefault(row["step"], Counter())[row["reason"]] += row["count_all"]
    return {step: dict(sorted(c.items())) for step, c in sorted(counts.items())}


def build_manifest(ref: VersionRef, build_info: dict[str, Any], parent: str | None, rows: int,
                   rejects: pa.Table, documents: int, files: list[dict]) -> dict[str, Any]:
    known = {k: build_info[k] for k in BUILD_INFO_KEYS if k in build_info}
    extra = {k: v for k, v in build_info.items() if k not in BUILD_INFO_KEYS}
    if extra:
        log.info("build_info keys kept under 'extra': %s", sorted(extra))
    config = known.get("config", {})
    by_step = rejection_counts(rejects)
    by_reason: Counter = Counter()
    for reasons in by_step.values():
        by_reason.update(reasons)
    return {
        "schema_version": SCHEMA_VERSION,
        "dataset": ref.dataset,
        "version": ref.version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "parent": parent,
        "package_version": pipeline.__version__,
        "git_commit": git_commit(),
        "config": config,
        "config_hash": known.get("config_hash"),
        "license": config.get("license") if isinstance(config, dict) else None,
        "models": known.get("models") or (config.get("models", {}) if isinstance(config, dict) else {}),
        "seeds": known.get("seeds") or ({"seed": config["seed"]} if "seed" in config else {}),
        "counts": {"rows": rows, "rejects": rejects.num_rows, "documents": documents,
                   "steps": known.get("step_counts", {}), "rejections": by_step,
                   "rejection_reasons": dict(sorted(by_reason.items()))},
        "token_usage": known.get("token_usage", {}),
        "wall_time_s": known.get("wall_time_s", {}),
        "calibration": known.get("calibration", []),
        "goalposts": known.get("goalposts", []),
        "ladders": known.get("ladders", []),
        "extra": extra,
        "files": files,
    }


def dump(manifest: dict[str, Any]) -> str:
    # default=str: config values such as tuples or paths must not make a finished build unpublishable
    return json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n"


def read_manifest(store: Store, version_dir: str) -> dict[str, Any]:
    path = f"{version_dir}/{MANIFEST_FILE}"
    try:
        manifest = json.loads(store.read_text(path))
    except FileNotFoundError:
        raise StoreError(f"{path}: missing; the version is half-written or was damaged") from None
    except json.JSONDecodeError as error:
        raise StoreError(f"{path}: not valid JSON ({error})") from None
    found = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if not isinstance(found, int):
        raise StoreError(f"{path}: no integer schema_version; not a curriculum manifest")
    if found > SCHEMA_VERSION:
        raise StoreError(f"{path}: written with store schema version {found}, this curriculum "
                         f"{pipeline.__version__} reads up to {SCHEMA_VERSION}; upgrade curriculum to read it")
    return manifest


def verify_files(store: Store, version_dir: str, manifest: dict[str, Any]) -> list[str]:
    """Re-hash every file the manifest lists; one problem line per bad, missing or unlisted file."""
    problems = []
    listed = set()
    for entry in manifest["files"]:
        relative = entry["path"]
        listed.add(relative)
        path = f"{version_dir}/{relative}"
        if not store.exists(path):
            problems.append(f"{path}: missing")
            continue
        size, sha256 = hash_file(store, path)
        if size != entry.get("bytes"):
            problems.append(f"{path}: {size} bytes, manifest says {entry.get('bytes')}")
        elif sha256 != entry.get("sha256"):
            problems.append(f"{path}: sha256 {sha256[:12]}..., manifest says {str(entry.get('sha256'))[:12]}...")
    for info in store.fs.get_file_info(pafs.FileSelector(version_dir, recursive=True)):
        relative = info.path[len(version_dir) + 1:]
        if info.type == pafs.FileType.File and relative != MANIFEST_FILE and relative not in listed:
            problems.append(f"{info.path}: not listed in the manifest")
    return problems
