"""`wi probe`: Run a short-lived pod that shows the container, tokens (claims only) and permissions."""

from __future__ import annotations

import typer

from ..core.errors import NotImplementedYet
from .options import global_options

HELP = """Run a short-lived pod under a service account that reports its container, the tokens it got (decoded claims only, never the token) and the Azure permissions it really has."""


@global_options
def probe() -> None:
    raise NotImplementedYet("probe")


def register(app: typer.Typer) -> None:
    app.command(
        "probe", help=HELP, short_help="Run a short-lived pod that shows the container, tokens (claims only) and permissions.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )(probe)
