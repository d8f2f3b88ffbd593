"""`wi doctor`: check every layer of workload identity and print what is wrong and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

import typer

from ..core.errors import UsageError
from ..core.models import CommandResult
from .options import global_options, settings

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..doctor.facts import Scope

HELP = (
    "Check the cluster (OIDC issuer, workload identity), the webhook, the workload (service "
    "accounts, pods, labels, annotations, env), the identity (federated credentials) and its "
    "role assignments, then do a real token exchange for each service account (no pod needed). "
    "Every problem comes with the command that fixes it. Exit code 0 when nothing failed "
    "(warnings allowed), 1 when a check failed, 3/4 when doctor could not reach what it needs."
)

EXAMPLES = """
# Check the service accounts that use workload identity in namespace demo
wi doctor -n demo

# One service account, without the live token exchange
wi doctor -n demo -s app --no-live

# Every namespace, as JSON (exit code 1 when a check failed)
wi doctor -A -o json

# One check alone (the ids: wi doctor --list-checks)
wi doctor -n demo --check identity.fic
"""


@global_options
def doctor(
    ctx: typer.Context,
    namespace: Optional[str] = typer.Option(None, "-n", "--namespace", metavar="NS",
                                            help="Namespace to check (default: default)."),
    service_account: Optional[str] = typer.Option(
        None, "--service-account", "-s", metavar="SA", help="Check one service account (default: every one "
                                              "that is annotated or used by a labelled pod)."),
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A",
                                        help="Check every namespace."),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="NAME", help="AKS cluster name (default: "
                                          "the 'wi provision' state, else found by issuer)."),
    resource_group: Optional[str] = typer.Option(None, "--resource-group", "-g", metavar="RG",
                                                 help="Resource group of --cluster."),
    check: List[str] = typer.Option([], "--check", metavar="ID", help="Run only this check (repeatable)."),
    list_checks: bool = typer.Option(False, "--list-checks", help="List the checks and exit."),
    no_live: bool = typer.Option(False, "--no-live", help="Skip the real token exchange."),
    problems: bool = typer.Option(False, "--problems", help="Show only warnings, failures and "
                                  "errors."),
    tree: bool = typer.Option(False, "--tree", help="Draw the trust chain of every service "
                              "account (drawn by default when there is one)."),
) -> CommandResult:
    from ..doctor.failure_modes import NAMES
    from ..doctor.registry import all_checks

    if list_checks:
        checks = [{"id": c.id, "layer": c.layer, "title": c.title,
                   "failure_modes": list(c.failure_modes),
                   "failure_mode_names": [NAMES[m] for m in c.failure_modes], "live": c.live}
                  for c in all_checks()]
        return CommandResult("doctor", {"checks": checks}, view="doctor.checks")
    if cluster and not resource_group:
        raise UsageError("--cluster needs --resource-group.")
    if service_account and all_namespaces:
        raise UsageError("--service-account and --all-namespaces do not go together.")
    source = ctx.get_parameter_source("namespace")  # a .wi.toml namespace does not clash with -A
    given = source is not None and source.name == "COMMANDLINE"
    if given and all_namespaces:
        raise UsageError("--namespace and --all-namespaces do not go together.",
                         ["Pass -A to check every namespace, or -n NS for one."])
    namespace = "default" if all_namespaces else namespace or "default"

    from ..core.names import check_namespace, check_service_account
    from ..doctor.facts import Scope

    check_namespace(namespace)
    if service_account:
        check_service_account(service_account)
    scope = Scope(namespace, service_account, all_namespaces, cluster, resource_group,
                  live=not no_live)
    return run_doctor(settings(ctx), scope, check, {"problems": problems, "tree": tree})


def run_doctor(s: "Settings", scope: "Scope", checks: list[str] | None = None,
               view_options: dict[str, Any] | None = None) -> CommandResult:
    """Doctor over ``scope`` (only ``checks`` when given), as a result to render."""
    from ..doctor.runner import diagnose, select
    from .wiring import doctor_context

    select(checks or [])  # an unknown --check is a usage error before anything is read
    found = diagnose(doctor_context(s, scope), checks or [])
    where = "all namespaces" if scope.all_namespaces else f"namespace {scope.namespace}"
    if scope.service_account:
        where += f", service account {scope.service_account}"
    data = {"scope": where, "chains": [c.to_json() for c in found.chains],
            "elsewhere": found.elsewhere}
    return CommandResult("doctor", data, found.findings, found.exit_code,
                         view_options=view_options or {})


def register(app: typer.Typer) -> None:
    app.command("doctor", help=HELP, epilog=EXAMPLES,
                short_help="Check every layer of workload identity and print the fix.")(doctor)
