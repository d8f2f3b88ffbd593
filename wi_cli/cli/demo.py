"""`wi demo`: the whole flow on the embedded local lab, no Azure account needed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import typer

from ..core.errors import ExitCode
from ..core.models import CommandResult
from .options import global_options, settings

if TYPE_CHECKING:
    from ..core.config import Settings

HELP = (
    "Start the embedded local lab (Entra ID, Azure Resource Manager and a Kubernetes cluster "
    "with the workload identity webhook and a kubelet), then run the whole flow against it: "
    "wi bind (federated credential + annotated service account), wi doctor (every layer, with a "
    "real token exchange) and wi probe (a pod that reports what it really gets). Nothing leaves "
    "this machine and no Azure account is needed."
)
EXAMPLES = """
# bind, doctor and probe against a throwaway local lab
wi demo

# The same, each step's wi/v1 envelope in one JSON document
wi demo -o json > demo.json
"""
SERVICE_ACCOUNT = "demo-app"


def _steps(s: "Settings", identity: str, namespace: str
           ) -> list[tuple[str, list[str], Callable[[], CommandResult]]]:
    """Each step: what it shows, the command a user would type, and the same work done by
    calling the command's function with the lab's settings."""
    from ..core.bind import BindRequest, bind, validate
    from ..core.models import ProbeRequest, propagation_budget
    from ..core.plan import Consent
    from ..core.trust import Target
    from ..doctor.facts import Scope
    from .doctor import run_doctor
    from .probe import run_probe
    from .wiring import bind_ports

    def bind_step() -> CommandResult:
        req = BindRequest(SERVICE_ACCOUNT, identity, namespace, create=True)
        validate(req)
        outcome = bind(req, bind_ports(s), Target(None, None, None, None),
                       Consent(assume_yes=True))
        return CommandResult("bind", outcome.to_json())

    return [
        ("Bind the service account to the managed identity",
         ["bind", SERVICE_ACCOUNT, identity, "-n", namespace, "--create"], bind_step),
        ("Check every layer, with a live token exchange",
         ["doctor", "-n", namespace, "--service-account", SERVICE_ACCOUNT],
         lambda: run_doctor(s, Scope(namespace, SERVICE_ACCOUNT))),
        ("Run a probe pod under the service account",
         ["probe", "-n", namespace, "--service-account", SERVICE_ACCOUNT],
         lambda: run_probe(s, ProbeRequest(namespace, SERVICE_ACCOUNT,
                                           propagation_wait=propagation_budget(s.env)))),
    ]


def _run_steps(steps: list[tuple[str, list[str], Callable[[], CommandResult]]],
               as_json: bool) -> tuple[list[Any], int]:
    from ..core.errors import WiError
    from ..render import console, human, jsonout, views

    results: list[Any] = []
    worst = 0
    for title, argv, run in steps:
        if not as_json:
            console.err().rule(f"[bold]wi {' '.join(argv)}[/]", align="left")
            console.err().print(f"[dim]{title}[/]")
        try:
            result = run()
        except WiError as error:
            code = int(error.exit_code)
            doc = jsonout.envelope(argv[0], status="error", exit_code=code, data=error.data,
                                   errors=[error])
            if not as_json:
                human.print_error(error)
        else:
            code = int(result.exit_code)
            doc = jsonout.envelope(argv[0], status=result.status, exit_code=code,
                                   data=result.data, findings=result.findings)
            if not as_json:
                views.show(result)
        step: dict[str, Any] = {"step": title, "argv": ["wi", *argv], "exit_code": code}
        if as_json:
            step["result"] = json.loads(jsonout.dumps(doc))
        results.append(step)
        worst = max(worst, code)
        if code not in (0, 1):
            break
    return results, worst


@global_options
def demo(ctx: typer.Context) -> CommandResult:
    from ..core.config import Environment, resolve
    from ..lab.kube import scenarios
    from ..lab.runtime import Lab
    from ..render import console

    given = settings(ctx)
    talk = console.err()
    talk.print("Starting the local lab (Entra ID, ARM, Kubernetes)…")
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="wi-demo-") as tmp:
        seeded = scenarios.seed(lab, "healthy")
        assert seeded.cluster is not None and seeded.identity is not None
        assert seeded.namespace is not None
        kubeconfig = seeded.cluster.write_kubeconfig(Path(tmp) / "kubeconfig")
        # the lab as the settings of its own: nothing of the user's environment, files or
        # Azure sign-in is read or changed
        env = {
            "WI_CLOUD": lab.metadata_url, "AZURE_TENANT_ID": seeded.tenant_id,
            "AZURE_CLIENT_ID": seeded.operator.client_id,
            "AZURE_CLIENT_SECRET": seeded.operator.secret or "",
            "AZURE_SUBSCRIPTION_ID": seeded.subscription_id,
            "REQUESTS_CA_BUNDLE": str(lab.ca_file), "SSL_CERT_FILE": str(lab.ca_file),
            "KUBECONFIG": str(kubeconfig), "WI_STATE_DIR": str(Path(tmp) / "state"),
            "WI_CONTEXT": seeded.cluster.name,
        }
        s = resolve({"output": given.output, "debug": given.debug},
                    Environment(env, Path(tmp), Path(tmp)))
        talk.print(f"Lab cluster [bold]{seeded.cluster_name}[/], identity "
                   f"[bold]{seeded.identity.name}[/], namespace [bold]{seeded.namespace}[/].")
        results, worst = _run_steps(_steps(s, seeded.identity.name, seeded.namespace), s.json)
    exit_code = ExitCode.OK if worst == 0 else ExitCode(worst)

    return CommandResult("demo", {"steps": results}, exit_code=exit_code)


def register(app: typer.Typer) -> None:
    app.command("demo", help=HELP, epilog=EXAMPLES,
                short_help="Run the whole flow on the embedded local lab: no Azure account "
                           "needed.")(demo)
