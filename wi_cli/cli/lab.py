"""`wi lab`: the local lab (Entra ID, ARM and Kubernetes emulators) for trying wi without Azure."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import global_options, settings

app = typer.Typer(
    help="The local lab: HTTPS emulators of Entra ID, Azure Resource Manager and a Kubernetes "
         "cluster with the workload identity webhook, for trying and testing wi without Azure.",
    no_args_is_help=True,
)

SCENARIO_HELP = ("What to seed: empty (tenant, subscription, operator), healthy (+ an AKS cluster "
                 "with OIDC issuer and workload identity, an identity with roles, Key Vault, "
                 "Storage, namespace demo), bound (+ service account demo/wi-lab-sa bound to "
                 "the identity).")


@app.command("up")
@global_options
def up(
    ctx: typer.Context,
    state_dir: Optional[Path] = typer.Option(
        None, "--state-dir", help="Where to write env.sh, kubeconfig and ca.pem "
                                  "(default: the lab folder in wi's state dir)."),
    scenario: str = typer.Option(
        "healthy", "--scenario", help=SCENARIO_HELP),
) -> None:
    """Start the lab in the foreground; in another shell `source <state-dir>/env.sh`."""
    from ..core.errors import UsageError
    from ..lab import serve
    from ..lab.kube.scenarios import SCENARIOS

    if scenario not in SCENARIOS:
        raise UsageError(f"Unknown scenario {scenario!r}.",
                         [f"Choose one of: {', '.join(sorted(SCENARIOS))}."])

    serve.run(state_dir or settings(ctx).state_dir / "lab", scenario)
