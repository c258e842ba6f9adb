"""README.md of a version: a Hugging Face dataset card whose YAML header declares one config per view.

With the header, `datasets.load_dataset(<version folder or Hub repo>, "rl")` reads `views/rl/*.parquet`
and so on, offline or from the Hub, without any loading script.
"""

from __future__ import annotations

from typing import Any

import yaml

from pipeline.store.summary import calibration_markdown, format_number

# view -> data_files glob inside the version folder
VIEW_FILES = {"rl": "views/rl/*.parquet", "sft": "views/sft/*.parquet", "raw": "data/curriculum-*.parquet"}
DEFAULT_LICENSE = "other"


def card_header(manifest: dict[str, Any]) -> dict[str, Any]:
    rows = manifest["counts"]["rows"]
    return {
        "license": manifest.get("license") or DEFAULT_LICENSE,
        "pretty_name": f"{manifest['dataset']} {manifest['version']}",
        "language": ["en"],
        "task_categories": ["question-answering", "text-generation"],
        "tags": ["curriculum", "darc", "gasp", "synthetic", "reasoning"],
        "size_categories": [_size_category(rows)],
        "configs": [
            {"config_name": view, "data_files": [{"split": "train", "path": path}], **({"default": True} if view == "rl" else {})}
            for view, path in VIEW_FILES.items()
        ],
    }


def _size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if rows < limit:
            return name
    return "n>10M"


def _models_lines(models: dict[str, Any]) -> list[str]:
    lines = []
    for role, spec in models.items():
        if isinstance(spec, dict):
            sampling = spec.get("sampling") or {}
            settings = ", ".join(f"{k}={v}" for k, v in sampling.items())
            lines.append(f"- **{role}**: `{spec.get('model', '?')}` ({spec.get('backend', '?')}){': ' + settings if settings else ''}")
        else:
            lines.append(f"- **{role}**: `{spec}`")
    return lines


def render_card(manifest: dict[str, Any]) -> str:
    counts = manifest["counts"]
    reasons = counts.get("rejection_reasons", {})
    header = yaml.safe_dump(card_header(manifest), sort_keys=False, allow_unicode=True)
    parts = [
        f"---\n{header}---\n",
        f"# {manifest['dataset']} · {manifest['version']}\n",
        f"A difficulty-calibrated curriculum (DARC + GASP) built by `curriculum` {manifest['package_version']}"
        f"{' at commit ' + manifest['git_commit'][:12] if manifest.get('git_commit') else ''} on {manifest['created']}. "
        f"It holds **{counts['rows']}** questions in curriculum order (easy to hard) grounded in "
        f"{counts.get('documents', 0)} documents; **{counts['rejects']}** candidates were rejected and are kept "
        f"in `rejects/`. Parent version: {manifest.get('parent') or 'none'}. Config hash: "
        f"`{manifest.get('config_hash') or '-'}`.\n",
        "## Loading\n",
        "```python\nfrom datasets import load_dataset\n"
        "rl = load_dataset(\"<this repo or folder>\", \"rl\", split=\"train\")    # verl / DARC solver schema\n"
        "sft = load_dataset(\"<this repo or folder>\", \"sft\", split=\"train\")  # chat messages for TRL\n"
        "raw = load_dataset(\"<this repo or folder>\", \"raw\", split=\"train\")  # every column\n```\n",
        "Rows are in curriculum order; keep that order (no shuffling) to train easy to hard.\n",
        "## Calibration\n",
        "Target vs. measured student solve rate per difficulty level, and how often the teacher's majority "
        "label agreed with the questioner's own answer.\n",
        calibration_markdown(manifest.get("calibration") or []) + "\n",
    ]
    if manifest.get("models"):
        parts += ["## Models\n", "\n".join(_models_lines(manifest["models"])) + "\n"]
    if reasons:
        parts += ["## Rejections\n", "| reason | count |\n|---|---|\n"
                  + "\n".join(f"| {reason} | {count} |" for reason, count in reasons.items()) + "\n"]
    if manifest.get("goalposts"):
        parts += ["## Goalposts (GASP)\n", "| goalpost | pass@k | k | deepest rung |\n|---|---|---|---|\n"
                  + "\n".join(f"| {g.get('goalpost_id')} | {format_number(g.get('pass_at_k'))} | {g.get('k')} "
                              f"| {g.get('deepest_depth')} |" for g in manifest["goalposts"]) + "\n"]
    parts += ["## Files\n",
              "`data/curriculum-*.parquet` (raw rows), `data/documents-*.parquet` (source documents), "
              "`views/rl`, `views/sft`, `rejects/` (every dropped candidate with its reason), "
              "`manifest.json` (config, models, seeds, counts, token usage, sha256 of every file), "
              "`report.html` (calibration report).\n",
              f"## Licence\n\n{manifest.get('license') or DEFAULT_LICENSE} (from the build config). Documents keep the "
              "licence of the corpus they came from.\n"]
    return "\n".join(parts)
