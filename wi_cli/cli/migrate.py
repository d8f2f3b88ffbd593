"""`wi migrate`: move workloads from aad-pod-identity to workload identity."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..core.errors import UsageError
from ..core.models import CommandResult
from .bind import _target
from .options import global_options, settings

HELP = (
    "Move workloads from aad-pod-identity (AzureIdentity, AzureIdentityBinding, pods labelled "
    "aadpodidbinding) to workload identity. Without a mode it shows the plan: per workload the "
    "identity its label gets today, the service account it will use (its own, or a new one "
    "named after it instead of 'default'), the federated credential (created as 'wi bind' "
    "does), the pod-template changes, and what wi cannot do for it. --apply then writes, in "
    "an order that keeps every workload working: credential and service account, a live token "
    "exchange per service account (waiting up to --wait for a fresh credential), the template "
    "rollout (new pods ready); and with --remove-pod-identity, only after that, the "
    "aadpodidbinding label and the AzureIdentityBindings nothing selects any more. A step that "
    "fails stops its workload with pod identity in place; running the command again continues. "
    "The pre-migration templates are saved in the ConfigMap wi-migrate-backup: --rollback "
    "restores them. --write-manifests DIR writes the changed objects as YAML instead."
)


def _mode(plan: bool, apply: bool, manifests: Optional[Path], rollback: bool) -> str:
    chosen = [m for m, on in (("plan", plan), ("apply", apply),
                              ("write-manifests", manifests is not None),
                              ("rollback", rollback)) if on]
    if len(chosen) > 1:
        raise UsageError(f"--{chosen[0]} and --{chosen[1]} do not go together.",
                         ["Pick one of --plan, --apply, --write-manifests DIR, --rollback."])
    return chosen[0] if chosen else "plan"


@global_options
def migrate(
    ctx: typer.Context,
    namespace: Optional[str] = typer.Option(None, "-n", "--namespace",
                                            help="Migrate the workloads of this namespace "
                                                 "(default: default)."),
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A",
                                        help="Migrate the workloads of every namespace."),
    plan: bool = typer.Option(False, "--plan", help="Show the plan; change nothing (default)."),
    apply: bool = typer.Option(False, "--apply", help="Apply the plan."),
    write_manifests: Optional[Path] = typer.Option(
        None, "--write-manifests", metavar="DIR", file_okay=False,
        help="Write the changed service accounts and workloads as YAML (and the federated "
             "credentials as az commands) into DIR instead of applying them."),
    rollback: bool = typer.Option(False, "--rollback", help="Restore the pod templates (and "
                                  "AzureIdentityBindings) saved before the migration."),
    proxy: str = typer.Option("auto", "--proxy", metavar="auto|always|never",
                              help="Inject the workload identity proxy sidecar (for apps that "
                                   "call IMDS themselves): auto = the workloads named with "
                                   "--proxy-for or annotated wi.azure.io/legacy-imds: \"true\"."),
    proxy_for: List[str] = typer.Option([], "--proxy-for", metavar="WORKLOAD",
                                        help="A workload that calls IMDS itself (name, or "
                                             "KIND/NAME); repeatable."),
    remove_pod_identity: bool = typer.Option(
        False, "--remove-pod-identity", help="After the new pods are ready and their exchange "
        "works, remove the aadpodidbinding label and the AzureIdentityBindings nothing selects "
        "any more (on the AKS add-on: print the az aks pod-identity delete command)."),
    wait: float = typer.Option(300, "--wait", metavar="SECONDS",
                               help="How long to wait for Entra to accept a fresh credential."),
    timeout: float = typer.Option(600, "--timeout", metavar="SECONDS",
                                  help="How long to wait for each rollout."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="The AKS cluster (its issuer "
                                          "and pod identity profile)."),
    resource_group: Optional[str] = typer.Option(None, "--resource-group", "-g",
                                                 help="Resource group of the AKS cluster."),
    issuer: Optional[str] = typer.Option(None, "--issuer", help="OIDC issuer URL, exactly as "
                                                               "the cluster puts it in tokens."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask before migrating more than "
                                                        "one workload."),
) -> CommandResult:
    from ..core.migrate import MigrateRequest, migrate as do_migrate, validate
    from ..core.migrate_plan import Options
    from ..core.names import check_namespace
    from ..core.trust import check_target
    from .wiring import consent, migrate_ports

    mode = _mode(plan, apply, write_manifests, rollback)
    source = ctx.get_parameter_source("namespace")  # a .wi.toml namespace does not clash with -A
    if all_namespaces and source is not None and source.name == "COMMANDLINE":
        raise UsageError("--namespace and --all-namespaces do not go together.",
                         ["Pass -A to migrate every namespace, or -n NS for one."])
    namespace = namespace or "default"
    if not all_namespaces:
        check_namespace(namespace)
    check_target(cluster, resource_group, issuer)
    req = MigrateRequest(None if all_namespaces else namespace, mode, write_manifests,
                         Options(proxy.lower(), tuple(proxy_for), remove_pod_identity),
                         wait, timeout, _target(ctx, cluster, resource_group, issuer))
    validate(req)
    s = settings(ctx)
    result = do_migrate(req, migrate_ports(s), consent(s, yes))
    return CommandResult("migrate", result.to_json())


def register(app: typer.Typer) -> None:
    app.command("migrate", help=HELP,
                short_help="Move workloads from aad-pod-identity to workload identity.")(migrate)
