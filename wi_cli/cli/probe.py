"""`wi probe`: Run a short-lived pod that shows the container, tokens (claims only) and permissions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from ..core.errors import ExitCode
from ..core.models import DEFAULT_PROBE_IMAGE, CommandResult
from .options import global_options, settings

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.models import ProbeRequest

HELP = """Run a short-lived pod under a service account that reports its container, the tokens it \
got (decoded claims only, never the token) and the Azure permissions it really has.

The pod (label azure.workload.identity/use=true, hardened, python3 only) runs a small agent from a \
ConfigMap; both are deleted afterwards unless --keep. Exit 0 when the pod's token exchange worked \
(or its credential is still propagating, a warning), 1 when it did not, when a \
--check-keyvault/--check-storage check failed, or when the pod failed or was refused, 4 when the \
cluster is unreachable or the pod timed out. While a fresh credential propagates the agent retries \
for up to WI_PROPAGATION_WAIT seconds (10)."""


@global_options
def probe(
    ctx: typer.Context,
    namespace: str = typer.Option("default", "-n", "--namespace",
                                  help="Namespace to run the probe pod in."),
    service_account: str = typer.Option("default", "--service-account", "-s",
                                        help="Service account the pod runs as."),
    image: str = typer.Option(DEFAULT_PROBE_IMAGE, "--image",
                              help="Image with python3 >= 3.8 (no shell needed)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for the pod."),
    keep: bool = typer.Option(False, "--keep", help="Keep the pod and its ConfigMap."),
    check_keyvault: Optional[str] = typer.Option(
        None, "--check-keyvault", metavar="NAME",
        help="Also list the secrets of this Key Vault (name or resource id) from the pod."),
    check_storage: Optional[str] = typer.Option(
        None, "--check-storage", metavar="ACCOUNT/CONTAINER",
        help="Also list the blobs of this container from the pod."),
) -> CommandResult:
    from ..core.models import ProbeRequest, propagation_budget

    s = settings(ctx)
    return run_probe(s, ProbeRequest(namespace, service_account, image, timeout, keep,
                                     check_keyvault, check_storage, propagation_budget(s.env)))


def run_probe(s: "Settings", req: "ProbeRequest") -> CommandResult:
    """The probe, with a spinner on stderr while the pod runs."""
    from ..core.probe import probe as probe_with
    from ..core.probe import validate
    from ..render import console
    from .wiring import cloud as cloud_of
    from .wiring import probe_ports

    validate(req)
    cloud = cloud_of(s)
    ports = probe_ports(s, cloud)
    with console.err().status(f"Probing {req.namespace}/{req.service_account}…") as status:
        def on_phase(phase: str) -> None:
            status.update(f"Probe pod in {req.namespace}: {phase}…")

        outcome = probe_with(req, cloud, ports, on_phase)
    return CommandResult("probe", outcome, list(outcome.findings),  # a warning exits 0
                         exit_code=ExitCode.PROBLEMS if outcome.failed else ExitCode.OK,
                         view="probe")


EXAMPLES = """
# What a pod running as service account app in namespace demo really gets
wi probe -n demo --service-account app

# Also list a Key Vault's secrets and a blob container from inside the pod
wi probe -n demo --service-account app --check-keyvault my-vault \\
  --check-storage mystorageacct/samples

# Keep the pod and its ConfigMap to look at them afterwards
wi probe -n demo --service-account app --keep
"""


def register(app: typer.Typer) -> None:
    app.command(
        "probe", help=HELP, epilog=EXAMPLES,
        short_help="Run a short-lived pod that shows the container, tokens (claims only) and permissions.",
    )(probe)
