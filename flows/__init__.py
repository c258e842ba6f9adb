"""Orchestration: the Prefect build flow, the nightly schedule, and the `curriculum` command line."""
