"""Simulated-model tasks for the GASP prompts (filled in by the GASP work)."""

TASKS: tuple = ()
