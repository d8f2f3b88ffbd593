"""``wi lab up``: run the lab in the foreground and write what clients need to reach it.

    python -m wi_cli.lab.serve --state-dir DIR --scenario healthy

writes ``DIR/env.sh`` (source it), ``DIR/kubeconfig`` (0600), ``DIR/ca.pem`` and ``DIR/lab.json``
(URLs and seeded names, no secret), prints the path of ``env.sh`` as its only stdout line and
serves until SIGINT/SIGTERM. ``env.sh`` holds the operator's client secret, so it is 0600 too.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .kube.scenarios import Seeded
    from .runtime import Lab

EMPTY_KUBECONFIG = ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n"
                    "current-context: \"\"\npreferences: {}\nusers: []\n")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def env_lines(lab: "Lab", seeded: "Seeded", state_dir: Path) -> list[tuple[str, str]]:
    ca = str(state_dir / "ca.pem")
    secret = seeded.operator.secret or ""
    return [
        ("WI_CLOUD", lab.metadata_url),
        ("AZURE_TENANT_ID", seeded.tenant_id),
        ("AZURE_CLIENT_ID", seeded.operator.client_id),
        ("AZURE_CLIENT_SECRET", secret),
        ("AZURE_SUBSCRIPTION_ID", seeded.subscription_id),
        # EnvironmentCredential reads it; MSAL's instance discovery must still be turned off
        # by the caller (disable_instance_discovery=True) for this non-public authority
        ("AZURE_AUTHORITY_HOST", lab.authority_host),
        ("REQUESTS_CA_BUNDLE", ca),
        ("SSL_CERT_FILE", ca),
        ("NODE_EXTRA_CA_CERTS", ca),
        ("KUBECONFIG", str(state_dir / "kubeconfig")),
    ]


def write_state(lab: "Lab", seeded: "Seeded", state_dir: Path) -> Path:
    """Write ca.pem, kubeconfig, lab.json and env.sh; returns the env.sh path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lab.write_ca(state_dir / "ca.pem")
    cluster = seeded.cluster or lab.kube
    kubeconfig = cluster.aks.record.kubeconfig() if getattr(cluster, "aks", None) else (
        cluster.kubeconfig() if cluster is not None else EMPTY_KUBECONFIG)
    _write_private(state_dir / "kubeconfig", kubeconfig)
    info = {
        "authority_host": lab.authority_host, "arm_endpoint": lab.arm_endpoint,
        "arm_audience": lab.arm_audience, "metadata_url": lab.metadata_url,
        "servers": {s.name: s.url for s in lab.servers},
        "pid": os.getpid(),
        "seeded": seeded.summary(),
    }
    (state_dir / "lab.json").write_text(json.dumps(info, indent=2) + "\n")
    env_text = "# wi lab: source this file (it holds the lab operator's client secret)\n" + "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in env_lines(lab, seeded,
                                                                            state_dir))
    env_path = state_dir / "env.sh"
    _write_private(env_path, env_text)
    return env_path


def run(state_dir: Path, scenario: str = "healthy",
        on_ready: Callable[[Path], None] | None = None,
        stop_event: threading.Event | None = None) -> int:
    """Start the lab, seed ``scenario``, write the state files, block until a signal.

    ``stop_event`` lets an in-process caller end it without a signal. Returns the exit code (0).
    """
    from .kube.scenarios import seed
    from .runtime import Lab

    state_dir = Path(state_dir).resolve()
    stop = stop_event or threading.Event()
    previous = _install_signal_handlers(stop)
    try:
        with Lab() as lab:
            seeded = seed(lab, scenario)
            env_path = write_state(lab, seeded, state_dir)
            if on_ready is not None:
                on_ready(env_path)
            else:
                print(env_path, flush=True)
            while not stop.wait(0.2):
                pass
    finally:
        _restore_signal_handlers(previous)
    return 0


def _install_signal_handlers(stop: threading.Event) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, object] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handle)
    return previous


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wi_cli.lab.serve",
                                     description="Run the wi lab in the foreground.")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--scenario", default="healthy")
    args = parser.parse_args(argv)
    try:
        return run(args.state_dir, args.scenario)
    except ValueError as exc:
        print(f"wi lab: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
