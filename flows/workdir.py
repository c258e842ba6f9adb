"""The work directory of a dataset: step results, the build in progress, and what was published.

Layout under `config.work_dir` (default `<output_root>/<dataset>/.work`):

    cache/<step>/<key>.json      persisted StepOutputs, shared by every build of the dataset
    builds/<build_key>.json      one build: its config hash, parent version, pinned document sample,
                                 and once published, the version it became
    pending/<config_hash>.json   the unfinished build of a config: a rerun resumes it

A build's document sample is pinned when the build starts, so a resumed build works on the same
documents even if the corpus or the store changed meanwhile: it finishes the *same* version.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.cache import StepCache, digest
from pipeline.config import BuildConfig
from pipeline.store.files import write_atomic


def work_root(config: BuildConfig) -> Path:
    if config.work_dir:
        return Path(config.work_dir)
    return Path(config.output_root) / config.dataset / ".work"


@dataclass
class BuildState:
    """What must survive a crash to finish the same version."""

    build_key: str
    config_hash: str
    parent: str | None
    documents: list[dict[str, str]]  # the pinned sample: doc_id, text, source
    corpus_key: str = ""  # the indexed corpus when the build started
    started_at: float = field(default_factory=time.time)
    published: dict[str, Any] | None = None  # the VersionRef, as a dict, once published


class WorkDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.cache = StepCache(self.root / "cache")

    def pending(self, config_hash: str) -> BuildState | None:
        """The unfinished build of this config, if a run was interrupted."""
        state = self._follow("pending", config_hash)
        if state is not None and state.published is not None:
            state = None
        if state is None:
            (self.root / "pending" / f"{config_hash}.json").unlink(missing_ok=True)
        return state

    def last_published(self, config_hash: str) -> BuildState | None:
        """The most recent finished build of this exact config, if any."""
        return self._follow("last", config_hash)

    def _follow(self, pointers: str, config_hash: str) -> BuildState | None:
        """The build a `pending/` or `last/` pointer names, if the pointer and the build exist."""
        try:
            pointer = json.loads((self.root / pointers / f"{config_hash}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return self.load(pointer["build_key"])

    def start(self, config_hash: str, parent: str | None, corpus_key: str,
              documents: list[dict[str, str]]) -> BuildState:
        build_key = digest({"config": config_hash, "parent": parent, "corpus": corpus_key,
                            "documents": [d["doc_id"] for d in documents]})
        state = self.load(build_key) or BuildState(build_key, config_hash, parent, documents, corpus_key)
        self.save(state)
        write_atomic(self.root / "pending" / f"{config_hash}.json", json.dumps({"build_key": build_key}))
        return state

    def finish(self, state: BuildState, version: dict[str, Any]) -> None:
        state.published = version
        self.save(state)  # first: from here on a rerun knows it was published
        write_atomic(self.root / "last" / f"{state.config_hash}.json",
                     json.dumps({"build_key": state.build_key}))
        (self.root / "pending" / f"{state.config_hash}.json").unlink(missing_ok=True)

    def load(self, build_key: str) -> BuildState | None:
        try:
            data = json.loads((self.root / "builds" / f"{build_key}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return BuildState(**data)

    def save(self, state: BuildState) -> None:
        write_atomic(self.root / "builds" / f"{state.build_key}.json", json.dumps(state.__dict__))
