"""`curriculum index` and `curriculum search` end to end (hash model, so no weights load)."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from flows.cli import app, main

ROWS = [
    {
        "id": "bio",
        "text": "Photosynthesis turns sunlight, water and carbon dioxide into sugar in plant leaves.",
    },
    {"id": "hist", "text": "The storming of the Bastille in Paris in 1789 began the French Revolution."},
]


def _corpus(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_index_then_search_table_and_json(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", ROWS)
    out = tmp_path / "idx"
    runner = CliRunner()
    built = runner.invoke(
        app, ["index", str(corpus), "--out", str(out), "--id-field", "id", "--model", "hash-384"]
    )
    assert built.exit_code == 0, built.output
    assert "2 documents, 2 chunks, flat index, model hash-384" in built.output
    table = runner.invoke(app, ["search", str(out), "storming of the Bastille", "-k", "2"])
    assert table.exit_code == 0 and table.output.splitlines()[1].split()[:3][2] == "hist"
    as_json = runner.invoke(app, ["search", str(out), "photosynthesis sunlight", "-k", "1", "--json"])
    hit = json.loads(as_json.output.splitlines()[0])
    assert (hit["rank"], hit["doc_id"], hit["source"]) == (1, "bio", f"{corpus}:1")


def test_second_run_reuses_the_index_settings_and_adds_only_new_documents(tmp_path):
    out = tmp_path / "idx"
    runner = CliRunner()
    first = _corpus(tmp_path / "a.jsonl", ROWS[:1])
    runner.invoke(app, ["index", str(first), "--out", str(out), "--id-field", "id", "--model", "hash-384"])
    second = _corpus(tmp_path / "b.jsonl", ROWS[1:])
    grown = runner.invoke(app, ["index", str(second), "--out", str(out)])  # settings come from the manifest
    assert grown.exit_code == 0, grown.output
    assert "1 new" in grown.output and "2 documents, 2 chunks" in grown.output


def test_user_errors_print_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    corpus = _corpus(tmp_path / "c.jsonl", [{"body": "no text field"}])
    monkeypatch.setattr(
        sys, "argv", ["curriculum", "index", str(corpus), "--out", str(tmp_path / "i"), "--model", "hash-384"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith(f"error: {corpus}:1: no text field 'text'")
    )
