"""`wi bind`: Trust a service account from a managed identity (federated credential + annotations)."""

from __future__ import annotations

import typer

from ..core.errors import NotImplementedYet
from .options import global_options

HELP = """Create the federated identity credential that lets SERVICE_ACCOUNT act as IDENTITY, and annotate the service account with the identity's client id and tenant. Safe to re-run: nothing changes when everything is already in place."""


@global_options
def bind() -> None:
    raise NotImplementedYet("bind")


def register(app: typer.Typer) -> None:
    app.command(
        "bind", help=HELP, short_help="Trust a service account from a managed identity (federated credential + annotations).",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )(bind)
