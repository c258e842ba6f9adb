"""Simulated-model tasks for the DARC prompts (filled in by the DARC work)."""

TASKS: tuple = ()
