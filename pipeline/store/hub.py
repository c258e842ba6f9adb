"""Push one version to the Hugging Face Hub as one commit, tagged with the version id.

The repo gets the version folder as its root (README.md card, data/, views/, rejects/, manifest.json,
report.html), so `load_dataset("ORG/NAME", "rl", revision="v0003")` reads exactly that version. Files
of an earlier version that this one lacks are deleted in the same commit. The token comes from
HF_TOKEN or the login cache (huggingface_hub resolves it); it is never logged or printed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from pipeline.store.layout import StoreError
from pipeline.store.versions import StoredVersion

log = logging.getLogger(__name__)

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
KEEP_REMOTE = {".gitattributes"}  # the Hub's own file; never deleted by a push


@dataclass(slots=True)
class PushPlan:
    """What a push will do: every (local file, path in repo), the tag, the commit message."""

    repo_id: str
    private: bool
    version: str
    tag: str
    commit_message: str
    files: list[tuple[str, str]] = field(default_factory=list)
    card_path: str = "README.md"

    def describe(self) -> str:
        lines = [f"push {self.version} to https://huggingface.co/datasets/{self.repo_id} "
                 f"({'private' if self.private else 'public'} if created), one commit, tag {self.tag}",
                 f"commit message: {self.commit_message}"]
        lines += [f"  {path_in_repo}" for _, path_in_repo in self.files]
        return "\n".join(lines)


def plan_push(stored: StoredVersion, repo_id: str, private: bool = False) -> PushPlan:
    """The upload plan for one version: every manifest file, plus the manifest itself."""
    if not REPO_ID.match(repo_id):
        raise StoreError(f"--repo-id {repo_id!r}: expected ORG/NAME, e.g. my-org/{stored.ref.dataset}")
    relative = sorted([f["path"] for f in stored.manifest["files"]] + ["manifest.json"])
    if "README.md" not in relative:
        raise StoreError(f"{stored.ref.path}: no README.md dataset card to push")
    counts = stored.manifest["counts"]
    return PushPlan(
        repo_id=repo_id, private=private, version=stored.ref.version, tag=stored.ref.version,
        commit_message=f"{stored.ref.dataset} {stored.ref.version}: {counts['rows']} rows, {counts['rejects']} rejects",
        files=[(f"{stored.ref.path}/{path}", path) for path in relative])


def _content(stored: StoredVersion, local_path: str) -> str | bytes:
    if stored.store.local:
        return local_path
    with stored.store.fs.open_input_stream(local_path) as stream:  # remote store: upload from memory
        return stream.read()


def push_version(stored: StoredVersion, plan: PushPlan) -> str:
    """Create the repo if needed, upload the plan as one commit, tag it; returns the commit URL.

    Any failure becomes a StoreError that says the local version was left untouched (a push only
    reads the version folder).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi()
    planned = {path for _, path in plan.files}
    try:
        api.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True)
        stale = [p for p in api.list_repo_files(plan.repo_id, repo_type="dataset")
                 if p not in planned and p not in KEEP_REMOTE]
        operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=_content(stored, local))
                      for local, path in plan.files]
        operations += [CommitOperationDelete(path_in_repo=path) for path in stale]
        commit = api.create_commit(plan.repo_id, operations=operations, commit_message=plan.commit_message,
                                   repo_type="dataset")
        api.create_tag(plan.repo_id, tag=plan.tag, revision=commit.oid, repo_type="dataset",
                       tag_message=plan.commit_message)
    # huggingface_hub raises errors from its HTTP stack (httpx or requests, by version), auth and
    # offline-mode errors: all mean "the push did not happen", none may touch the local version
    except Exception as error:  # noqa: BLE001
        raise StoreError(f"push of {stored.ref.dataset}@{plan.version} to {plan.repo_id} failed "
                         f"({type(error).__name__}: {error}); the local version {stored.ref.path} is untouched") from error
    log.info("pushed %s@%s to %s (tag %s)", stored.ref.dataset, plan.version, plan.repo_id, plan.tag)
    return commit.commit_url
