"""The fault matrix covers every endpoint each command uses: a healthy run of each command calls
exactly the endpoints faultkit.ENDPOINTS lists for it (a new call fails here until it is listed,
and so gets its faults)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from faultkit import COMMANDS, ENDPOINTS, WI_AGENTS


def service_of(server: str) -> str:
    return "kube" if server.startswith("kube-") else server


@pytest.mark.parametrize("command", COMMANDS)
def test_a_healthy_run_calls_exactly_the_listed_endpoints(
        world: dict[str, Any], prepare: Callable[[str], list[str]], wi: Callable[..., Any],
        command: str) -> None:
    argv = prepare(command)
    log = world["lab"].request_log
    first = len(log)
    run = wi(*argv, "-o", "json")
    assert run.code == 0, run.out
    calls = [(service_of(r.server), r.method, r.path) for r in log[first:]
             if r.user_agent.startswith(WI_AGENTS)]
    listed = ENDPOINTS[command]
    unlisted = sorted({c for c in calls if not any(e.matches(*c) for e in listed)})
    assert not unlisted, f"{command} calls endpoints the fault matrix does not know: {unlisted}"
    unused = [e.id for e in listed if not any(e.matches(*c) for c in calls)]
    assert not unused, f"{command} no longer calls {unused}"
