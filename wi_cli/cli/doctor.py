"""`wi doctor`: Check every layer of workload identity and print what is wrong and the fix."""

from __future__ import annotations

import typer

from ..core.errors import NotImplementedYet
from .options import global_options

HELP = """Check the cluster (OIDC issuer, workload identity), the webhook, the workload (service accounts, pods, labels, annotations, env), the identity (federated credentials) and its role assignments, then do a real token exchange. Exit code 0 when nothing failed, 1 when something did."""


@global_options
def doctor() -> None:
    raise NotImplementedYet("doctor")


def register(app: typer.Typer) -> None:
    app.command(
        "doctor", help=HELP, short_help="Check every layer of workload identity and print what is wrong and the fix.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )(doctor)
