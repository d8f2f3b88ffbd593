"""`wi doctor`: check every layer of workload identity and print what is wrong and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from ..core.errors import UsageError, WiError
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

# Every namespace, as JSON (exit code 1 when a check failed)
wi doctor -A -o json

# One check alone (the ids: wi doctor --list-checks)
wi doctor -n demo --check identity.fic

# Every context of the kubeconfig, concurrently, as a JUnit report for CI
wi doctor --all-contexts -A -o junit --output-file wi-doctor.xml
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
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="NAME",
                                          help="AKS cluster name (default: the 'wi provision' "
                                               "state, else found by issuer)."),
    resource_group: Optional[str] = typer.Option(None, "--resource-group", "-g", metavar="RG",
                                                 help="Resource group of --cluster."),
    check: List[str] = typer.Option([], "--check", metavar="ID", help="Run only this check (repeatable)."),
    list_checks: bool = typer.Option(False, "--list-checks", help="List the checks and exit."),
    no_live: bool = typer.Option(False, "--no-live", help="Skip the real token exchange."),
    problems: bool = typer.Option(False, "--problems", help="Show only warnings, failures and "
                                  "errors."),
    tree: bool = typer.Option(False, "--tree", help="Draw the trust chain of every service "
                              "account (drawn by default when there is one)."),
    contexts: List[str] = typer.Option([], "--contexts", metavar="A,B", help="Check these "
                                       "kubeconfig contexts, concurrently (comma-separated or "
                                       "repeated), and what no single cluster shows."),
    all_contexts: bool = typer.Option(False, "--all-contexts", help="Check every context of "
                                      "the kubeconfig (KUBECONFIG lists merged like kubectl)."),
    parallel: int = typer.Option(8, "--parallel", metavar="N", help="Contexts checked at once."),
    subscriptions: List[str] = typer.Option(
        [], "--subscriptions", metavar="A,B", help="Subscriptions whose AKS clusters tell which "
        "credentials trust a deleted cluster (default: every one you can list)."),
    fail_on: str = typer.Option("fail", "--fail-on", metavar="warn|fail", help="Exit 1 when a "
                                "check fails (default), or also when one warns."),
    output_file: Optional[str] = typer.Option(
        None, "--output-file", metavar="PATH", help="Write the report (-o junit or -o json; "
        "else by the extension .xml or .json) to PATH, and print the human view."),
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
    s = settings(ctx)
    fleet = fleet_options(s, contexts, all_contexts, parallel, subscriptions, cluster)
    if fail_on not in ("warn", "fail"):
        raise UsageError(f"--fail-on must be warn or fail, got {fail_on!r}.")
    options: dict[str, Any] = {"problems": problems, "tree": tree}
    if output_file:
        options["report_file"] = {"path": output_file, "format": report_format(s, output_file)}
    try:
        return run_doctor(s, scope, check, options, fleet, fail_on)
    except WiError as exc:  # nothing could run: the report still says why, for CI
        if output_file:
            from ..render import report

            fmt = options["report_file"]["format"]
            report.write(output_file, report.of_error(exc, fmt, "doctor"))
        raise


def _listed(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def fleet_options(s: "Settings", contexts: list[str], all_contexts: bool, parallel: int,
                  subscriptions: list[str], cluster: str | None) -> "FleetOptions | None":
    """The fleet flags checked (None: a plain run on one context)."""
    names = _listed(contexts)
    if contexts and all_contexts:
        raise UsageError("--contexts and --all-contexts do not go together.")
    if not (names or all_contexts):
        if subscriptions:
            raise UsageError("--subscriptions goes with --contexts or --all-contexts.")
        return None
    flag = "--contexts" if names else "--all-contexts"
    if s.sources.get("context") == "flag":
        raise UsageError(f"--context and {flag} do not go together.",
                         [f"Pass one context with --context NAME, or several with {flag}."])
    if cluster:
        raise UsageError(f"--cluster and {flag} do not go together: each context's AKS "
                         "cluster is found by its issuer.")
    if parallel < 1:
        raise UsageError(f"--parallel must be 1 or more, got {parallel}.")
    return FleetOptions(names or None, parallel, _listed(subscriptions) or None)


def report_format(s: "Settings", path: str) -> str:
    if s.output in ("json", "junit"):
        return s.output
    fmt = {".xml": "junit", ".json": "json"}.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"Which report should {path} get?",
                         ["Pass -o junit or -o json with --output-file (or name it .xml or "
                          ".json)."])
    return fmt


@dataclass
class FleetOptions:
    contexts: list[str] | None  # None: every context of the kubeconfig
    parallel: int
    subscriptions: list[str] | None


def run_doctor(s: "Settings", scope: "Scope", checks: list[str] | None = None,
               view_options: dict[str, Any] | None = None, fleet: FleetOptions | None = None,
               fail_on: str = "fail") -> CommandResult:
    """Doctor over ``scope`` (only ``checks`` when given), as a result to render: on the one
    context the settings name, or on a fleet of contexts."""
    from ..doctor.fleet import diagnose_fleet, fleet_exit_code
    from ..doctor.runner import select
    from .wiring import DoctorWiring

    select(checks or [])  # an unknown --check is a usage error before anything is read
    where = "all namespaces" if scope.all_namespaces else f"namespace {scope.namespace}"
    if scope.service_account:
        where += f", service account {scope.service_account}"
    if fleet is not None:
        return _run_fleet(s, scope, checks or [], view_options or {}, fleet, fail_on, where)
    ctx = DoctorWiring(s, scope).context(s.context)
    found = diagnose_fleet([ctx.kube_context or ""], lambda _: ctx, checks or [])
    (run,) = found.runs
    if run.error is not None or run.diagnosis is None:  # as before: its own exit code (3, 4)
        raise run.error or WiError("doctor did not run.")
    d = run.diagnosis
    data = {"scope": where, "chains": [c.to_json() for c in d.chains], "elsewhere": d.elsewhere}
    return CommandResult("doctor", data, d.findings, fleet_exit_code(d.findings, fail_on),
                         view_options=view_options or {})


def _run_fleet(s: "Settings", scope: "Scope", checks: list[str], view_options: dict[str, Any],
               fleet: FleetOptions, fail_on: str, where: str) -> CommandResult:
    from ..core.errors import ConfigError
    from ..doctor.fleet import diagnose_fleet
    from .wiring import DoctorWiring, kube_context_names

    known = kube_context_names(s)
    names = fleet.contexts or known
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(f"The kubeconfig has no context {', '.join(map(repr, missing))}.",
                          ["'kubectl config get-contexts' lists them."])
    if not names:
        raise ConfigError(f"The kubeconfig {s.kubeconfig_path} has no context.",
                          ["Run 'az aks get-credentials' for each cluster, or pass "
                           "--kubeconfig PATH."])
    wiring = DoctorWiring(s, scope, shared=True)
    if wiring.azure is not None:
        wiring.azure.sign_in()  # once, first: a credential problem is one error, not N rows
    # --check ID asks for those checks alone: no cross-cluster findings then
    reads = None if checks else wiring.reads(fleet.subscriptions)
    found = diagnose_fleet(list(dict.fromkeys(names)), wiring.context, checks, fleet.parallel,
                           reads)
    data = {"scope": where, **found.to_json()}
    return CommandResult("doctor", data, found.findings, found.exit_code(fail_on),
                         view="doctor.fleet", view_options=view_options)


def register(app: typer.Typer) -> None:
    app.command("doctor", help=HELP, epilog=EXAMPLES,
                short_help="Check every layer of workload identity and print the fix.")(doctor)
