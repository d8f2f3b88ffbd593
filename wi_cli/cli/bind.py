"""`wi bind` / `wi unbind`: trust a service account from a managed identity, or undo it."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import typer

from ..core.errors import UsageError
from ..core.models import CommandResult
from .options import global_options, settings

if TYPE_CHECKING:
    from ..core.trust import Target

HELP = (
    "Create the federated identity credential that lets SERVICE_ACCOUNT act as IDENTITY "
    "(issuer = the cluster's OIDC issuer, subject = system:serviceaccount:NS:SA, audience = "
    "api://AzureADTokenExchange) and annotate the service account with the identity's client id "
    "and tenant id. IDENTITY is a name, a full resource id or a client id. Safe to re-run: "
    "nothing changes when everything is already in place, and a credential for another issuer "
    "or service account is never changed (several clusters and namespaces can share one "
    "identity). Everything is read first; nothing is written when a read, a permission or an "
    "input is wrong. Pods that will not see the identity until restarted are listed (--restart "
    "rolls their Deployments)."
)

EXAMPLES = """
# Trust service account app in namespace demo from the identity app-identity
wi bind app app-identity -n demo

# Create the service account too; the identity may read a Key Vault's secrets
wi bind app app-identity -n demo --create \\
  --role "Key Vault Secrets User" --scope "$KEYVAULT_ID"

# Show the plan for another cluster's issuer; change nothing
wi bind app app-identity -n demo --cluster my-aks -g my-rg --dry-run
"""


def _roles(role: list[str], scope: list[str]) -> list[tuple[str, str]]:
    if len(role) != len(scope):
        raise UsageError(f"--role and --scope pair by position: got {len(role)} --role and "
                         f"{len(scope)} --scope.")
    return list(zip(role, scope))


def _target(ctx: typer.Context, cluster: str | None, resource_group: str | None,
            issuer: str | None) -> "Target":
    from ..core.trust import Target

    s = settings(ctx)
    state_cluster = None
    if s.state and s.state.cluster_name and s.state.resource_group:
        state_cluster = (s.state.cluster_name, s.state.resource_group)
    return Target(issuer, cluster, resource_group, state_cluster)


@global_options
def bind(
    ctx: typer.Context,
    service_account: str = typer.Argument(..., metavar="SERVICE_ACCOUNT",
                                          help="The Kubernetes service account."),
    identity: str = typer.Argument(..., metavar="IDENTITY",
                                   help="Managed identity: name, resource id or client id."),
    namespace: str = typer.Option("default", "-n", "--namespace", metavar="NS",
                                  help="The service account's namespace."),
    create: bool = typer.Option(False, "--create", help="Create the service account if missing."),
    create_namespace: bool = typer.Option(False, "--create-namespace",
                                          help="Create the namespace if missing."),
    identity_resource_group: Optional[str] = typer.Option(
        None, "--identity-resource-group", metavar="RG", help="Resource group of the identity (when the name "
                                                "is not unique in the subscription)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="NAME",
                                          help="AKS cluster whose issuer to trust."),
    resource_group: Optional[str] = typer.Option(None, "--resource-group", "-g", metavar="RG",
                                                 help="Resource group of the AKS cluster."),
    issuer: Optional[str] = typer.Option(None, "--issuer", metavar="URL",
                                         help="OIDC issuer URL, exactly as the cluster puts it "
                                              "in tokens."),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME",
                                       help="Name of a NEW federated credential (default NS-SA, "
                                            "or NS-SA-HASH when that is taken); an existing one "
                                            "keeps its name."),
    role: List[str] = typer.Option([], "--role", metavar="ROLE",
                                   help="Role to assign to the identity (name or id); pairs with "
                                        "--scope by position."),
    scope: List[str] = typer.Option([], "--scope", metavar="SCOPE", help="Scope of the matching --role."),
    restart: bool = typer.Option(False, "--restart", help="Roll the Deployments whose pods need "
                                                          "a restart to see the identity."),
    replace: bool = typer.Option(False, "--replace", help="When the service account is bound to "
                                 "another identity today, also delete THAT identity's credential "
                                 "for this issuer and subject (after the new one is written)."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask before changing more than "
                                                        "one trust."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
) -> CommandResult:
    from ..core.bind import BindRequest, bind as do_bind, validate
    from .wiring import bind_ports, consent

    req = BindRequest(service_account, identity, namespace, create, create_namespace,
                      identity_resource_group, cluster, resource_group, issuer, name,
                      _roles(role, scope), restart, dry_run, replace)
    validate(req)
    s = settings(ctx)
    outcome = do_bind(req, bind_ports(s), _target(ctx, cluster, resource_group, issuer),
                      consent(s, yes))
    return CommandResult("bind", outcome.to_json())


UNBIND_HELP = (
    "Remove the trust 'wi bind' created: the federated credential of IDENTITY for this "
    "cluster's issuer and SERVICE_ACCOUNT's subject (other clusters' credentials stay), and the "
    "service account's client-id/tenant-id annotations when they name IDENTITY (the service "
    "account stays). The issuer is found as 'wi bind' finds it (--issuer, --cluster/-g, the "
    "'wi provision' state, else the current context's cluster); for an issuer that is not the "
    "current context's cluster (a deleted cluster), only Azure is touched. --all-issuers removes "
    "the subject's credentials for every issuer. --role/--scope (as given to bind) also remove "
    "those role assignments of IDENTITY."
)

UNBIND_EXAMPLES = """
# Remove what 'wi bind app app-identity -n demo' created for this cluster
wi unbind app app-identity -n demo

# Remove the trust of a deleted cluster, found by its issuer
wi unbind app app-identity -n demo --issuer "$OLD_ISSUER"

# Remove it for every cluster and the role assignment bind made; do not ask
wi unbind app app-identity -n demo --all-issuers -y \\
  --role "Key Vault Secrets User" --scope "$KEYVAULT_ID"
"""


@global_options
def unbind(
    ctx: typer.Context,
    service_account: str = typer.Argument(..., metavar="SERVICE_ACCOUNT",
                                          help="The Kubernetes service account."),
    identity: str = typer.Argument(..., metavar="IDENTITY",
                                   help="Managed identity: name, resource id or client id."),
    namespace: str = typer.Option("default", "-n", "--namespace", metavar="NS",
                                  help="The service account's namespace."),
    identity_resource_group: Optional[str] = typer.Option(
        None, "--identity-resource-group", metavar="RG", help="Resource group of the identity (when the name "
                                                "is not unique in the subscription)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="NAME",
                                          help="AKS cluster whose trust to remove."),
    resource_group: Optional[str] = typer.Option(None, "--resource-group", "-g", metavar="RG",
                                                 help="Resource group of the AKS cluster."),
    issuer: Optional[str] = typer.Option(None, "--issuer", metavar="URL",
                                         help="Remove the trust of this OIDC issuer (e.g. a "
                                              "deleted cluster's)."),
    all_issuers: bool = typer.Option(False, "--all-issuers", help="Remove the service account's "
                                     "credentials for every issuer (every cluster)."),
    role: List[str] = typer.Option([], "--role", metavar="ROLE", help="Role assignment of the identity to "
                                   "remove (name or id); pairs with --scope by position."),
    scope: List[str] = typer.Option([], "--scope", metavar="SCOPE", help="Scope of the matching --role."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask before removing more than "
                                                        "one trust or shared role assignments."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
) -> CommandResult:
    from ..core.unbind import UnbindRequest, unbind as do_unbind, validate_unbind
    from .wiring import bind_ports, consent

    req = UnbindRequest(service_account, identity, namespace, identity_resource_group, cluster,
                        resource_group, issuer, all_issuers, _roles(role, scope), dry_run)
    validate_unbind(req)
    s = settings(ctx)
    outcome = do_unbind(req, bind_ports(s), _target(ctx, cluster, resource_group, issuer),
                        consent(s, yes))
    return CommandResult("unbind", outcome.to_json())


def register(app: typer.Typer) -> None:
    app.command("bind", help=HELP, epilog=EXAMPLES,
                short_help="Trust a service account from a managed identity.")(bind)
    app.command("unbind", help=UNBIND_HELP, epilog=UNBIND_EXAMPLES,
                short_help="Undo 'wi bind'.")(unbind)
