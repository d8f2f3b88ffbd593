"""`wi demo`: Run the whole flow on the embedded local lab: no Azure account needed."""

from __future__ import annotations

import typer

from ..core.errors import NotImplementedYet
from .options import global_options

HELP = """Start the embedded local lab (Entra ID, Azure Resource Manager and a Kubernetes cluster with the workload identity webhook) and run bind, doctor and probe against it."""


@global_options
def demo() -> None:
    raise NotImplementedYet("demo")


def register(app: typer.Typer) -> None:
    app.command(
        "demo", help=HELP, short_help="Run the whole flow on the embedded local lab: no Azure account needed.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )(demo)
