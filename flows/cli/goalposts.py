"""`curriculum goalposts check`: validate a goalposts file and run shipped reference solutions."""

from __future__ import annotations

from flows.cli import goalposts_app, not_implemented


@goalposts_app.command("check")
def check() -> None:
    """Validate a goalposts file; run code goalposts' reference solutions in the sandbox."""
    not_implemented("goalposts check")
