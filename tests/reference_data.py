"""Where the shared reference data sets lie: `shared/` beside the checkout (as in CI and development)."""

from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
DARC_SOLVER = REFERENCE / "darc" / "solver_dataset_example.parquet"
HUMANEVAL = REFERENCE / "humaneval" / "HumanEval.jsonl.gz"
