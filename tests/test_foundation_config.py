"""Build config: defaults, overrides, and errors that name the file and key path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pipeline.config import ConfigError, SimModel, load_config

MINIMAL = textwrap.dedent("""
    dataset: demo
    corpus: {paths: [corpus]}
    models:
      questioner: {backend: sim}
      teacher: {backend: sim}
      student: {backend: sim}
""")


def write(tmp_path, text: str):
    (tmp_path / "corpus").mkdir(exist_ok=True)
    path = tmp_path / "build.yaml"
    path.write_text(text)
    return path


def test_minimal_config_takes_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.darc.levels == {1: 0.8, 2: 0.5, 3: 0.2}
    assert config.darc.teacher_votes == 10 and config.darc.majority_threshold == 0.5
    assert isinstance(config.models.teacher, SimModel)
    assert config.corpus.paths == [str((tmp_path / "corpus").resolve())]


def test_set_overrides_parse_values_as_yaml(tmp_path):
    config = load_config(write(tmp_path, MINIMAL), ["darc.teacher_votes=5", "darc.answer_types=[integer]",
                                                   "models.student.malformed_rate=0"])
    assert config.darc.teacher_votes == 5
    assert config.darc.answer_types == ["integer"]
    assert config.models.student.malformed_rate == 0


def test_unknown_key_names_file_and_key_path(tmp_path):
    path = write(tmp_path, MINIMAL + "darc: {teacher_vote: 3}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value) and "darc.teacher_vote: unknown key" in str(error.value)


def test_wrong_type_names_key_path(tmp_path):
    with pytest.raises(ConfigError, match=r"darc\.teacher_votes"):
        load_config(write(tmp_path, MINIMAL), ["darc.teacher_votes=many"])


def test_unknown_backend_key_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match=r"models\.teacher\.base_url: unknown key"):
        load_config(write(tmp_path, MINIMAL), ["models.teacher.base_url=http://x"])


def test_target_rate_out_of_range(tmp_path):
    with pytest.raises(ConfigError, match="not in"):
        load_config(write(tmp_path, MINIMAL), ["darc.levels={1: 1.5}"])


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(write(tmp_path, MINIMAL), ["darc.teacher_votes"])


def test_config_hash_changes_with_content(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert load_config(path).config_hash() == load_config(path).config_hash()
    assert load_config(path).config_hash() != load_config(path, ["seed=1"]).config_hash()


def test_cli_reports_config_error_in_one_line_with_exit_2(tmp_path):
    path = write(tmp_path, MINIMAL + "bogus: 1\n")
    result = subprocess.run([sys.executable, "-c", "from flows.cli import main; main()", "build", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "bogus: unknown key" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-c", "from flows.cli import main; main()", "--help"],
                            capture_output=True, text=True)
    for command in ("build", "index", "search", "datasets", "export", "push", "schedule", "goalposts"):
        assert command in result.stdout


@pytest.mark.parametrize("command", [["export"], ["push"], ["datasets", "show"], ["datasets", "verify"]])
def test_help_of_commands_taking_a_version_says_name_at_version(command):
    # Rich reads "[@VERSION]" as markup and drops it, so help must not use brackets for it.
    result = subprocess.run([sys.executable, "-c", "from flows.cli import main; main()", *command, "--help"],
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0 and "NAME@VERSION" in result.stdout


def test_config_reference_doc_is_current():
    from pathlib import Path

    from pipeline.config import defaults_markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "config.md"
    assert doc.read_text() == defaults_markdown() + "\n", "regenerate: python -m pipeline.config > docs/config.md"


def test_missing_corpus_or_goalposts_path_fails_before_any_work(tmp_path):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match=r"corpus\.paths\[1\]: .*nope does not exist"):
        load_config(path, ["corpus.paths=[corpus, nope]"])
    with pytest.raises(ConfigError, match=r"goalposts\.path: .*gp\.jsonl does not exist"):
        load_config(path, ["goalposts={path: gp.jsonl}"])


def test_distinct_vllm_engines_must_share_the_gpu(tmp_path):
    roles = ["models.questioner={backend: vllm, model: a}", "models.teacher={backend: vllm, model: b}"]
    with pytest.raises(ConfigError, match="gpu_memory_utilization 1.80"):
        load_config(write(tmp_path, MINIMAL), roles)
    same_model = ["models.questioner={backend: vllm, model: a}", "models.teacher={backend: vllm, model: a, sampling: {temperature: 0.5}}"]
    assert load_config(write(tmp_path, MINIMAL), same_model).models.teacher.sampling.temperature == 0.5
