"""`curriculum datasets list|show|verify|diff|gc`, `curriculum export` and `curriculum push`: the store."""

from __future__ import annotations

from pathlib import Path

import typer

from flows.cli import app, datasets_app

ROOT = typer.Option("artifacts", "--root", help="Store root: a local folder or an s3:// / gs:// URL.")
REF_HELP = "NAME or NAME@VERSION (the LATEST version when none is given)."


def _ref(text: str) -> tuple[str, str | None]:
    from pipeline.store.layout import parse_ref

    return parse_ref(text)


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@datasets_app.command("list")
def list_versions(name: str = typer.Argument(None, help="One dataset; all datasets when left out."),
                  root: str = ROOT) -> None:
    """List datasets and their versions: rows, rejects, created, parent."""
    from pipeline.store.layout import list_datasets, list_versions, open_store
    from pipeline.store.versions import read_version

    store = open_store(root)
    names = [name] if name else list_datasets(store)
    rows = []
    for dataset in names:
        versions = list_versions(store, dataset)
        latest_path = f"{store.dataset_dir(dataset)}/LATEST"
        latest = store.read_text(latest_path).strip() if store.exists(latest_path) else None
        for version in versions:
            manifest = read_version(root, dataset, version).manifest
            rows.append([dataset, version + (" *" if version == latest else ""), str(manifest["counts"]["rows"]),
                         str(manifest["counts"]["rejects"]), manifest["created"], manifest.get("parent") or "-"])
        if versions and latest is None:
            typer.echo(f"note: {latest_path} is missing; readers use the newest complete version {versions[-1]}", err=True)
    if name and not rows:
        typer.echo(f"error: no published versions of dataset {name!r} under {store.base}", err=True)
        raise typer.Exit(2)
    if not rows:
        typer.echo(f"no published versions under {store.base}", err=True)
        return
    _table(rows, ["dataset", "version", "rows", "rejects", "created", "parent"])
    typer.echo("(* = LATEST)")


@datasets_app.command("show")
def show(ref: str = typer.Argument(..., help=REF_HELP),
         goalpost: str = typer.Option(None, "--goalpost", help="Print this goalpost's history across versions."),
         root: str = ROOT) -> None:
    """Summary, calibration table and rejection reasons of a version."""
    from pipeline.store.summary import calibration_markdown, format_number
    from pipeline.store.versions import goalpost_history, read_version

    dataset, version = _ref(ref)
    if goalpost:
        history = goalpost_history(root, dataset, goalpost)
        if not history:
            typer.echo(f"error: goalpost {goalpost!r} appears in no version of {dataset}", err=True)
            raise typer.Exit(2)
        _table([[h["version"], format_number(h["pass_at_k"]), format_number(h["k"]), format_number(h["deepest_depth"]),
                 str(h["ladder_rows"])] for h in history], ["version", "pass@k", "k", "deepest", "ladder rows"])
        return
    manifest = read_version(root, dataset, version).manifest
    counts = manifest["counts"]
    typer.echo(f"{manifest['dataset']}@{manifest['version']}  created {manifest['created']}  parent "
               f"{manifest.get('parent') or '-'}  curriculum {manifest['package_version']}"
               f"{' (' + manifest['git_commit'][:12] + ')' if manifest.get('git_commit') else ''}")
    typer.echo(f"rows {counts['rows']}  rejects {counts['rejects']}  documents {counts.get('documents', 0)}  "
               f"config hash {manifest.get('config_hash') or '-'}")
    typer.echo("\ncalibration:\n" + calibration_markdown(manifest.get("calibration") or []))
    reasons = counts.get("rejections", {})
    if reasons:
        typer.echo("\nrejections:")
        _table([[step, reason, str(n)] for step, by_reason in reasons.items() for reason, n in by_reason.items()],
               ["step", "reason", "count"])
    if manifest.get("token_usage"):
        typer.echo(f"\ntoken usage: {manifest['token_usage']}")


@datasets_app.command("verify")
def verify(ref: str = typer.Argument(..., help=REF_HELP), root: str = ROOT) -> None:
    """Re-hash every file of a version against its manifest; exit 1 naming each bad file."""
    from pipeline.store.versions import read_version, verify_version

    dataset, version = _ref(ref)
    stored = read_version(root, dataset, version)
    problems = verify_version(root, dataset, stored.ref.version)
    for problem in problems:
        typer.echo(f"FAILED {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{dataset}@{stored.ref.version}: {len(stored.manifest['files'])} files verified")


@datasets_app.command("diff")
def diff(a: str = typer.Argument(..., help="NAME@VERSION"), b: str = typer.Argument(..., help="NAME@VERSION or VERSION"),
         show_ids: int = typer.Option(10, "--ids", help="Question ids listed per side."), root: str = ROOT) -> None:
    """Counts, added/removed question ids, shifts in level mix and label agreement from A to B."""
    from pipeline.store.summary import diff_tables, format_number
    from pipeline.store.versions import read_version

    name_a, version_a = _ref(a)
    name_b, version_b = _ref(b) if "@" in b else (name_a, b)
    first, second = read_version(root, name_a, version_a), read_version(root, name_b, version_b)
    result = diff_tables(first.curriculum(), second.curriculum())
    typer.echo(f"{name_a}@{first.ref.version} -> {name_b}@{second.ref.version}")
    typer.echo(f"rows: {result['rows'][0]} -> {result['rows'][1]}; rejects: {first.manifest['counts']['rejects']} -> "
               f"{second.manifest['counts']['rejects']}")
    for label in ("added", "removed"):
        ids = result[label]
        more = f" (+{len(ids) - show_ids} more)" if len(ids) > show_ids else ""
        typer.echo(f"{label}: {len(ids)} question ids {' '.join(ids[:show_ids])}{more}".rstrip())
    _table([[level, format_number(x), format_number(y), f"{y - x:+.3f}"] for level, (x, y) in result["level_mix"].items()],
           ["level", "share A", "share B", "shift"])
    agree_a, agree_b = result["agreement"]
    shift = f" ({agree_b - agree_a:+.3f})" if agree_a is not None and agree_b is not None else ""
    typer.echo(f"label agreement: {format_number(agree_a)} -> {format_number(agree_b)}{shift}")


@datasets_app.command("gc")
def gc(name: str = typer.Argument(...), keep: int = typer.Option(..., "--keep", min=1, help="Newest versions kept."),
       dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; remove nothing."),
       root: str = ROOT) -> None:
    """Remove old versions; never LATEST nor the parent of a kept version."""
    from pipeline.store.versions import gc_versions

    removed = gc_versions(root, name, keep, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{name}: {verb} {len(removed)} version(s){': ' + ' '.join(removed) if removed else ''}")


@app.command()
def export(ref: str = typer.Argument(..., help=REF_HELP),
           view: str = typer.Option(..., "--view", help="rl (verl/DARC solver), sft (chat messages) or raw."),
           out: Path = typer.Option(..., "--out", help="OUT.parquet, OUT.jsonl, or a new folder of shards."),  # noqa: B008
           root: str = ROOT) -> None:
    """Export a version as a trainer view (rl, sft, raw)."""
    from pipeline.store.export import export_view
    from pipeline.store.versions import read_version

    dataset, version = _ref(ref)
    stored = read_version(root, dataset, version)
    rows = export_view(stored, view, out)
    typer.echo(f"{dataset}@{stored.ref.version} view {view}: {rows} rows -> {out}")


@app.command()
def push(ref: str = typer.Argument(..., help=REF_HELP),
         repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repo, ORG/NAME."),
         private: bool = typer.Option(False, "--private", help="Create the repo private."),
         dry_run: bool = typer.Option(False, "--dry-run", help="Print the upload plan; contact nothing."),
         root: str = ROOT) -> None:
    """Push a version to the Hugging Face Hub: one commit, tagged with the version id."""
    from pipeline.store.hub import plan_push, push_version
    from pipeline.store.versions import read_version, verify_version

    dataset, version = _ref(ref)
    stored = read_version(root, dataset, version)
    plan = plan_push(stored, repo_id, private)
    problems = verify_version(root, dataset, stored.ref.version)
    if problems:
        typer.echo("\n".join(f"FAILED {p}" for p in problems), err=True)
        typer.echo(f"not pushing {dataset}@{stored.ref.version}: it fails verify", err=True)
        raise typer.Exit(1)
    typer.echo(plan.describe())
    if dry_run:
        typer.echo("dry run: nothing uploaded")
        return
    url = push_version(stored, plan)
    typer.echo(f"pushed: {url} (tag {plan.tag})")
