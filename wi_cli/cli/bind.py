"""`wi bind` / `wi unbind`: trust a service account from a managed identity, or undo it."""

from __future__ import annotations

from typing import List, Optional

import typer

from ..core.errors import UsageError
from ..core.models import CommandResult
from .options import global_options, settings

HELP = (
    "Create the federated identity credential that lets SERVICE_ACCOUNT act as IDENTITY "
    "(issuer = the cluster's OIDC issuer, subject = system:serviceaccount:NS:SA, audience = "
    "api://AzureADTokenExchange) and annotate the service account with the identity's client id "
    "and tenant id. IDENTITY is a name, a full resource id or a client id. Safe to re-run: "
    "nothing changes when everything is already in place. Pods that will not see the identity "
    "until restarted are listed (--restart rolls their Deployments)."
)


def _steps_view(title: str):  # noqa: ANN202 - returns a renderer
    def view(result: CommandResult) -> None:
        from rich.table import Table

        from ..render import console

        data = result.data
        out = console.out()
        if "identity" in data:
            ident = data["identity"]
            console.err().print(
                f"Identity [bold]{ident['name']}[/] (resource group {ident['resource_group']}, "
                f"clientId {ident['client_id']}, principalId {ident['principal_id']})")
            console.err().print(f"Issuer {data['issuer']} (from {data['issuer_source']})")
        table = Table(title=title, title_justify="left")
        for col in ("Object", "Name", "Result", "Detail"):
            table.add_column(col)
        for step in data["steps"]:
            table.add_row(step["object"], step["name"], step["action"], step["detail"])
        out.print(table)
        if data.get("next"):
            out.print(f"Next: [bold]{data['next']}[/]")
    return view


def _clients(ctx: typer.Context):  # noqa: ANN202
    from ..adapters.azure.clients import AzureClients
    from ..adapters.kube.client import KubeClients
    from ..core.cloud import resolve_cloud

    s = settings(ctx)
    azure = AzureClients(resolve_cloud(s.cloud), s.subscription)
    kube = KubeClients(s.kubeconfig, s.context)
    return s, azure, kube


@global_options
def bind(
    ctx: typer.Context,
    service_account: str = typer.Argument(..., metavar="SERVICE_ACCOUNT",
                                          help="The Kubernetes service account."),
    identity: str = typer.Argument(..., metavar="IDENTITY",
                                   help="Managed identity: name, resource id or client id."),
    namespace: str = typer.Option("default", "-n", "--namespace", help="The service account's namespace."),
    create: bool = typer.Option(False, "--create", help="Create the service account if missing."),
    create_namespace: bool = typer.Option(False, "--create-namespace",
                                          help="Create the namespace if missing."),
    identity_resource_group: Optional[str] = typer.Option(
        None, "--identity-resource-group", help="Resource group of the identity (when the name "
                                                "is not unique in the subscription)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="AKS cluster whose issuer to trust."),
    resource_group: Optional[str] = typer.Option(None, "--resource-group", "-g",
                                                 help="Resource group of the AKS cluster."),
    issuer: Optional[str] = typer.Option(None, "--issuer", help="OIDC issuer URL, exactly as the "
                                                               "cluster puts it in tokens."),
    name: Optional[str] = typer.Option(None, "--name", help="Name of the federated credential."),
    role: List[str] = typer.Option([], "--role", help="Role to assign to the identity (name or "
                                                      "id); pairs with --scope by position."),
    scope: List[str] = typer.Option([], "--scope", help="Scope of the matching --role."),
    restart: bool = typer.Option(False, "--restart", help="Roll the Deployments whose pods need "
                                                          "a restart to see the identity."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
) -> CommandResult:
    from ..core.bind import BindRequest, bind as do_bind, validate

    if len(role) != len(scope):
        raise UsageError(f"--role and --scope pair by position: got {len(role)} --role and "
                         f"{len(scope)} --scope.")
    req = BindRequest(service_account, identity, namespace, create, create_namespace,
                      identity_resource_group, cluster, resource_group, issuer, name,
                      list(zip(role, scope)), restart, dry_run)
    validate(req)
    s, azure, kube = _clients(ctx)
    state_cluster = None
    if s.state and s.state.cluster_name and s.state.resource_group:
        state_cluster = (s.state.cluster_name, s.state.resource_group)
    outcome = do_bind(req, azure, kube, state_cluster)
    return CommandResult("bind", outcome.to_json(),
                         human=_steps_view("wi bind (dry run)" if dry_run else "wi bind"))


@global_options
def unbind(
    ctx: typer.Context,
    service_account: str = typer.Argument(..., metavar="SERVICE_ACCOUNT"),
    identity: str = typer.Argument(..., metavar="IDENTITY"),
    namespace: str = typer.Option("default", "-n", "--namespace"),
    identity_resource_group: Optional[str] = typer.Option(None, "--identity-resource-group"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
) -> CommandResult:
    """Delete the federated credentials for SERVICE_ACCOUNT on IDENTITY and remove the
    service account's workload identity annotations (the service account stays)."""
    from ..core.bind import unbind as do_unbind

    _, azure, kube = _clients(ctx)
    steps = do_unbind(namespace, service_account, identity, azure, kube,
                      identity_resource_group, dry_run)
    return CommandResult("unbind", {"steps": [s.to_json() for s in steps], "dry_run": dry_run},
                         human=_steps_view("wi unbind"))


def register(app: typer.Typer) -> None:
    app.command("bind", help=HELP,
                short_help="Trust a service account from a managed identity.")(bind)
    app.command("unbind", short_help="Undo 'wi bind'.")(unbind)


