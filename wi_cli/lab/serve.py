"""``wi lab up``: run the lab in the foreground and write what clients need to reach it.

    python -m wi_cli.lab.serve --state-dir DIR --scenario healthy

writes ``DIR/env.sh`` (source it), ``DIR/kubeconfig`` (0600), ``DIR/ca.pem`` and ``DIR/lab.json``
(URLs and seeded names, no secret), prints the path of ``env.sh`` as its only stdout line and
serves until SIGINT/SIGTERM. ``env.sh`` holds the operator's client secret, so it is 0600 too.

One lab per state directory: the lab holds an exclusive lock on ``DIR/lab.lock`` (which holds
its PID) from before it writes anything until it exits, so a second lab on the same directory
is refused instead of overwriting the first one's CA, kubeconfig and env.sh. The lock is
``flock(2)``: the kernel releases it when the process dies, so a stale file never blocks.
:func:`running` and :func:`stop` find the lab by that lock.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from .kube.scenarios import Seeded
    from .runtime import Lab

LOCK = "lab.lock"


class LabBusy(RuntimeError):
    """Another lab serves this state directory."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        super().__init__(f"a lab already runs in {state_dir} (PID {pid or 'unknown'})")
        self.state_dir = state_dir
        self.pid = pid


def _pid_in(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 32).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Hold ``state_dir/lab.lock`` with this process's PID in it, or raise LabBusy."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabBusy(state_dir, _pid_in(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def running(state_dir: Path) -> int | None:
    """The PID of the lab serving ``state_dir``; None when no lab does (0: PID unknown)."""
    try:
        fd = os.open(Path(state_dir) / LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def stop(state_dir: Path, timeout: float = 20.0) -> int | None:
    """SIGTERM the lab serving ``state_dir`` and wait until it has exited; its PID, or None
    when none was running. Raises TimeoutError when it is still running after ``timeout``."""
    pid = running(state_dir)
    if pid is None:
        return None
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while running(state_dir) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the lab (PID {pid}) in {state_dir} did not stop within "
                               f"{timeout:g} s")
        time.sleep(0.1)
    return pid


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
    aks = getattr(cluster, "aks", None)
    kubeconfig = seeded.kubeconfig or (aks.record.kubeconfig() if aks is not None else (
        cluster.kubeconfig() if cluster is not None else EMPTY_KUBECONFIG))
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
    from .kube.scenarios import SCENARIOS, seed
    from .runtime import Lab

    if scenario not in SCENARIOS:  # before the lock: a typo creates no directory
        raise ValueError(f"unknown lab scenario {scenario!r}; choose one of "
                         f"{', '.join(sorted(SCENARIOS))}")
    state_dir = Path(state_dir).resolve()
    stopping = stop_event or threading.Event()
    previous = _install_signal_handlers(stopping)
    try:
        with locked(state_dir), Lab() as lab:
            seeded = seed(lab, scenario)
            env_path = write_state(lab, seeded, state_dir)
            if on_ready is not None:
                on_ready(env_path)
            else:
                print(env_path, flush=True)
            while not stopping.wait(0.2):
                pass
    finally:
        _restore_signal_handlers(previous)
    return 0


def _install_signal_handlers(stopping: threading.Event) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        stopping.set()

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
    except LabBusy as exc:
        print(f"wi lab: {exc}", file=sys.stderr)
        return 5


if __name__ == "__main__":
    sys.exit(main())
