"""`wi demo`'s closing line (each step printed its own view as it ran)."""

from __future__ import annotations

from ..core.models import CommandResult


def show(result: CommandResult) -> None:
    from . import console

    console.out().print(
        "[green]The demo ran end to end: the pod got an Entra token with no secret.[/]"
        if result.exit_code == 0 else "[red]A step of the demo failed: see its output above.[/]")
