"""`wi demo`: the whole flow on the embedded local lab, no Azure account needed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import typer

from ..core.errors import ExitCode
from ..core.models import CommandResult
from .options import global_options, settings

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


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _steps(identity: str, namespace: str) -> list[tuple[str, list[str]]]:
    return [
        ("Bind the service account to the managed identity",
         ["bind", SERVICE_ACCOUNT, identity, "-n", namespace, "--create"]),
        ("Check every layer, with a live token exchange",
         ["doctor", "-n", namespace, "--service-account", SERVICE_ACCOUNT]),
        ("Run a probe pod under the service account",
         ["probe", "-n", namespace, "--service-account", SERVICE_ACCOUNT]),
    ]


def _run_steps(steps: list[tuple[str, list[str]]], as_json: bool) -> tuple[list[Any], int]:
    from ..render import console
    from .app import main

    results: list[Any] = []
    worst = 0
    for title, argv in steps:
        if as_json:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                code = main([*argv, "-o", "json"])
            results.append({"step": title, "argv": ["wi", *argv],
                            "result": json.loads(buffer.getvalue())})
        else:
            console.err().rule(f"[bold]wi {' '.join(argv)}[/]  — {title}")
            code = main(argv)
            results.append({"step": title, "argv": ["wi", *argv], "exit_code": code})
        worst = max(worst, code)
        if code not in (0, 1):
            break
    return results, worst


@global_options
def demo(ctx: typer.Context) -> CommandResult:
    from ..lab.kube import scenarios
    from ..lab.runtime import Lab
    from ..render import console

    as_json = settings(ctx).json
    talk = console.err()
    talk.print("Starting the local lab (Entra ID, ARM, Kubernetes)…")
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="wi-demo-") as tmp:
        seeded = scenarios.seed(lab, "healthy")
        kubeconfig = seeded.cluster.write_kubeconfig(Path(tmp) / "kubeconfig")
        env = {
            "WI_CLOUD": lab.metadata_url, "AZURE_TENANT_ID": seeded.tenant_id,
            "AZURE_CLIENT_ID": seeded.operator.client_id,
            "AZURE_CLIENT_SECRET": seeded.operator.secret or "",
            "AZURE_SUBSCRIPTION_ID": seeded.subscription_id,
            "REQUESTS_CA_BUNDLE": str(lab.ca_file), "SSL_CERT_FILE": str(lab.ca_file),
            "KUBECONFIG": str(kubeconfig), "WI_STATE_DIR": str(Path(tmp) / "state"),
            "WI_CONTEXT": seeded.cluster.name,
        }
        talk.print(f"Lab cluster [bold]{seeded.cluster_name}[/], identity "
                   f"[bold]{seeded.identity.name}[/], namespace [bold]{seeded.namespace}[/].")
        with _environ(env):
            results, worst = _run_steps(_steps(seeded.identity.name, seeded.namespace), as_json)
    exit_code = ExitCode.OK if worst == 0 else ExitCode(worst)

    return CommandResult("demo", {"steps": results}, exit_code=exit_code)


def register(app: typer.Typer) -> None:
    app.command("demo", help=HELP, epilog=EXAMPLES, short_help="Run the whole flow on the embedded local lab: "
                                              "no Azure account needed.")(demo)
