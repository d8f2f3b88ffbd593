"""Ctrl-C at a known point: the lab holds the answer to wi's Nth request (after the service has
handled it: a write is done, its answer never arrives), SIGINT reaches wi while it waits, and:
wi exits 130 with one JSON envelope and no traceback; the next run of the same command
completes the job; no probe pod or ConfigMap is left.

CI mode interrupts each command at its first request, a read in the middle, and every write;
WI_RELIABILITY=full at every request of a healthy run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any, Callable

import pytest

from conftest import NS
from faultkit import FULL, TIMEOUTS, WI_AGENTS, one_envelope
from wi_cli.lab.kube import scenarios

WRITES = ("POST", "PUT", "PATCH", "DELETE")
CLIENT_ID = "azure.workload.identity/client-id"


def wi_requests(world: dict[str, Any], first: int) -> list[Any]:
    return [r for r in world["lab"].request_log[first:] if r.user_agent.startswith(WI_AGENTS)]


def points(calls: list[Any]) -> list[int]:
    """The N (1-based) to interrupt at."""
    if FULL:
        return list(range(1, len(calls) + 1))
    writes = [i + 1 for i, r in enumerate(calls) if r.method in WRITES
              and "selfsubjectaccessreviews" not in r.path and "/oauth2/" not in r.path]
    return sorted({1, len(calls) // 2, *writes})


def probe_leftovers(world: dict[str, Any]) -> list[str]:
    store, names = world["store"], []
    for plural in ("pods", "configmaps"):
        items, _ = store.list(plural, NS)
        names += [f"{plural}/{o['metadata']['name']}" for o in items
                  if o["metadata"]["name"].startswith("wi-probe-")]
    return names


def interrupted(world: dict[str, Any], argv: list[str], nth: int) -> tuple[int, str, str, str]:
    """Run wi in a process, hold its ``nth`` request, send SIGINT; (code, out, err, held)."""
    gate = world["lab"].gate
    gate.hold_nth(nth, WI_AGENTS)
    env = {k: v for k, v in os.environ.items() if k not in TIMEOUTS}  # wait for the held one
    proc = subprocess.Popen([sys.executable, "-m", "wi_cli", *argv, "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        if not gate.held.wait(90):
            out, err = proc.communicate(timeout=60)
            raise AssertionError(f"request {nth} never came (exit {proc.returncode}): {err}")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        gate.release()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err, gate.held_request


def check_interrupted(code: int, out: str, err: str) -> None:
    assert code == 130, (code, out, err)
    doc = one_envelope(out)
    assert doc["exit_code"] == 130 and doc["errors"][0]["type"] == "Interrupted", doc
    assert "Traceback" not in err, err


def fics_for(world: dict[str, Any], identity: str, subject: str) -> list[Any]:
    seeded = world["seeded"]
    ident = world["lab"].azure.identity(seeded.subscription_id, seeded.resource_group, identity)
    return [f for f in ident.fics.values() if f.subject == subject]


def annotation(world: dict[str, Any], sa: str) -> str | None:
    obj = world["store"].get("serviceaccounts", NS, sa)
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(CLIENT_ID)


@pytest.mark.parametrize("command", ["bind", "unbind", "probe"])
def test_ctrl_c_at_each_request_then_a_rerun_completes_the_job(
        world: dict[str, Any], prepare: Callable[[str], list[str]], wi: Callable[..., Any],
        command: str) -> None:
    argv = prepare(command)
    first = len(world["lab"].request_log)
    healthy = wi(*argv, "-o", "json")
    assert healthy.code == 0, healthy.out
    calls = wi_requests(world, first)
    failures = []
    for nth in points(calls):
        argv = prepare(command)
        code, out, err, held = interrupted(world, argv, nth)
        try:
            check_interrupted(code, out, err)
            again = wi(*argv, "-o", "json")
            assert again.code == 0, again.out
            _job_done(world, command, argv)
            assert probe_leftovers(world) == []
        except AssertionError as exc:
            failures.append(f"N={nth} ({held}): {exc}")
    assert not failures, "\n".join(failures)


def _job_done(world: dict[str, Any], command: str, argv: list[str]) -> None:
    if command == "probe":
        return
    sa, identity = argv[1], argv[2]
    subject = f"system:serviceaccount:{NS}:{sa}"
    client_id = world["lab"].azure.identity(world["seeded"].subscription_id,
                                            world["seeded"].resource_group, identity).client_id
    if command == "bind":
        assert len(fics_for(world, identity, subject)) == 1
        assert annotation(world, sa) == client_id
    else:
        assert fics_for(world, identity, subject) == []
        assert annotation(world, sa) is None


def test_the_gate_holds_only_the_nth_request(world: dict[str, Any], env: dict[str, str],
                                             wi: Callable[..., Any]) -> None:
    """The knob itself: nothing is held before the Nth, and a released gate holds nothing."""
    gate = world["lab"].gate
    gate.hold_nth(10_000, WI_AGENTS)
    try:
        assert wi("doctor", "-n", NS, "--service-account", scenarios.SERVICE_ACCOUNT,
                  "--no-live").code == 0
        assert not gate.held.is_set()
    finally:
        gate.release()
