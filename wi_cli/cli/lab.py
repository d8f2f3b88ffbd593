"""`wi lab`: the local lab (Entra ID, ARM and Kubernetes emulators) for trying wi without Azure.

``wi lab up`` runs in the foreground, one lab per state directory (a lock holds it and records
the PID); ``wi lab status`` and ``wi lab down`` find it by that lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from .base import WiTyper
from .options import global_options, settings

app = WiTyper(
    help="The local lab: HTTPS emulators of Entra ID, Azure Resource Manager and a Kubernetes "
         "cluster with the workload identity webhook, for trying and testing wi without Azure.",
    no_args_is_help=True,
)

SCENARIO_HELP = ("What to seed: empty (tenant, subscription, operator), healthy (+ an AKS cluster "
                 "with OIDC issuer and workload identity, an identity with roles, Key Vault, "
                 "Storage, namespace demo), bound (+ service account demo/wi-lab-sa bound to "
                 "the identity), fleet (+ a second AKS cluster, bound too, and an unreachable "
                 "context, all in one kubeconfig).")
STATE_DIR_HELP = ("The lab's folder: env.sh, kubeconfig, ca.pem, lab.json and the lock "
                  "(default: lab/ in wi's state directory).")

UP_HELP = """Start the lab in the foreground and serve until Ctrl-C (or 'wi lab down'). In another \
shell, 'source STATE_DIR/env.sh' points wi, az-style SDKs and kubectl at it.

One lab per state directory: a second 'wi lab up' on the same directory is refused (exit 5) and \
names the PID of the running one.

Output: stdout gets one line, the path of env.sh, once the lab is ready. With -o json it gets one \
wi/v1 envelope instead, printed when the lab is ready and before it serves (data: state_dir, \
env_sh, kubeconfig, ca, pid, scenario, servers, seeded names; never a secret); nothing follows it \
on stdout, and the process exits 0 when stopped. A failure before the lab is ready is the error \
envelope."""

UP_EXAMPLES = """
# Shell 1: start the lab (Ctrl-C stops it)
wi lab up --state-dir /tmp/wi-lab

# Shell 2: use it
source /tmp/wi-lab/env.sh && wi doctor -n demo

# A lab with service account demo/wi-lab-sa already bound, in the background
wi lab up --state-dir /tmp/wi-lab --scenario bound -o json > lab.json &
"""


def _state_dir(ctx: typer.Context, given: Optional[Path]) -> Path:
    return (given or settings(ctx).state_dir / "lab").expanduser().resolve()


def _state_dir_option() -> Any:
    return typer.Option(None, "--state-dir", metavar="DIR", help=STATE_DIR_HELP)


@global_options
def up(
    ctx: typer.Context,
    state_dir: Optional[Path] = _state_dir_option(),
    scenario: str = typer.Option("healthy", "--scenario", metavar="NAME", help=SCENARIO_HELP),
) -> None:
    from ..core.errors import ConflictError, UsageError
    from ..lab import serve
    from ..lab.kube.scenarios import SCENARIOS
    from ..render import console

    if scenario not in SCENARIOS:
        raise UsageError(f"Unknown scenario {scenario!r}.",
                         [f"Choose one of: {', '.join(sorted(SCENARIOS))}."])
    folder = _state_dir(ctx, state_dir)
    as_json = settings(ctx).json

    def ready(env_sh: Path) -> None:
        console.err().print(f"Lab ready (PID {_info(folder).get('pid')}). In another shell: "
                            f"source {env_sh}   Stop: Ctrl-C or 'wi lab down --state-dir "
                            f"{folder}'.", soft_wrap=True, markup=False, highlight=False)
        if as_json:
            from ..core.models import CommandResult
            from ..render import jsonout

            jsonout.print_result(CommandResult("lab up", _up_data(folder, env_sh)))
        else:
            typer.echo(str(env_sh))

    try:
        serve.run(folder, scenario, on_ready=ready)
    except serve.LabBusy as busy:
        raise ConflictError(f"A lab is already running in {folder} (PID "
                            f"{busy.pid or 'unknown'}).",
                            [f"Stop it with 'wi lab down --state-dir {folder}', or pass another "
                             "--state-dir."]) from None


def _info(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / "lab.json").read_text()))
    except (OSError, ValueError):
        return {}


def _up_data(folder: Path, env_sh: Path) -> dict[str, Any]:
    info = _info(folder)
    return {"state_dir": str(folder), "env_sh": str(env_sh),
            "kubeconfig": str(folder / "kubeconfig"), "ca": str(folder / "ca.pem"),
            "pid": info.get("pid"), "scenario": (info.get("seeded") or {}).get("scenario"),
            "servers": info.get("servers", {}), "metadata_url": info.get("metadata_url"),
            "seeded": info.get("seeded", {})}


STATUS_EXAMPLES = """
# Is the default lab running?
wi lab status

# The lab in /tmp/wi-lab, as JSON (data.running is true or false)
wi lab status --state-dir /tmp/wi-lab -o json
"""


@global_options
def status(ctx: typer.Context, state_dir: Optional[Path] = _state_dir_option()) -> Any:
    from ..core.models import CommandResult
    from ..lab import serve

    folder = _state_dir(ctx, state_dir)
    pid = serve.running(folder)
    data: dict[str, Any] = {"running": pid is not None, "state_dir": str(folder)}
    if pid is not None:
        info = _up_data(folder, folder / "env.sh")
        data.update(pid=pid or info["pid"], scenario=info["scenario"], env_sh=info["env_sh"],
                    metadata_url=info["metadata_url"], servers=info["servers"])
    return CommandResult("lab status", data)


DOWN_EXAMPLES = """
# Stop the default lab
wi lab down

# Stop the lab in /tmp/wi-lab (nothing to do when it is not running)
wi lab down --state-dir /tmp/wi-lab
"""


@global_options
def down(ctx: typer.Context, state_dir: Optional[Path] = _state_dir_option()) -> Any:
    from ..core.errors import RemoteError
    from ..core.models import CommandResult
    from ..lab import serve

    folder = _state_dir(ctx, state_dir)
    try:
        pid = serve.stop(folder)
    except TimeoutError as exc:
        raise RemoteError(f"The lab did not stop: {exc}.",
                          ["Run 'wi lab status' to see its PID, and end it with kill -9 PID."]) \
            from None
    except PermissionError:
        raise RemoteError(f"Not allowed to stop the lab in {folder}: it runs as another user.",
                          ["Stop it as the user who started it."]) from None
    return CommandResult("lab down", {"stopped": pid is not None, "pid": pid,
                                      "state_dir": str(folder)})


app.command("up", help=UP_HELP, epilog=UP_EXAMPLES,
            short_help="Start the lab in the foreground and write env.sh.")(up)
app.command("status", help="Say whether a lab serves the state directory, with its PID and "
                           "URLs. Exit 0 either way; data.running says which.",
            epilog=STATUS_EXAMPLES, short_help="Is a lab running, and where?")(status)
app.command("down", help="Stop the lab serving the state directory (SIGTERM to the PID its "
                         "lock records) and wait until it has exited. Nothing to do (exit 0) "
                         "when no lab runs there.",
            epilog=DOWN_EXAMPLES, short_help="Stop the running lab.")(down)
