"""Faults beyond the retry policy, on the endpoints each command uses (faultkit.ENDPOINTS): 429
with Retry-After, 500, 503, an answer slower than the client's timeout, a reset connection, an
untrusted TLS certificate, and a 401 in the middle of a run (the operator's token expired).

Each run is held to: exit 4 (3 for the 401), exactly one JSON envelope on stdout, no
traceback, an error that names the service and the operation (for doctor: the findings that
could not be read say so), and for a write the list of what was applied (``data.steps``)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from conftest import server_of
from faultkit import (
    CLEANUP,
    COMMANDS,
    OPTIONAL,
    STEP_STATUSES,
    TLS_DIAGNOSES,
    Endpoint,
    Fault,
    arm_fault,
    endpoint_for,
    faults_for,
    names_service_and_operation,
    one_envelope,
    services,
)

CASES = [pytest.param(command, service, fault, endpoint,
                      id=f"{command}-{fault.name}-{endpoint.id if fault.per_endpoint else service}")
         for command in COMMANDS for service in services(command) for fault in faults_for(command)
         for endpoint in endpoint_for(command, service, fault)]


@pytest.mark.parametrize("command, service, fault, endpoint", CASES)
def test_a_fault_beyond_the_retries_is_one_sentence_and_an_exit_code(
        world: dict[str, Any], prepare: Callable[[str], list[str]], wi: Callable[..., Any],
        command: str, service: str, fault: Fault, endpoint: Endpoint) -> None:
    argv = prepare(command)
    server = server_of(world, service)
    met = arm_fault(server, endpoint, fault)
    try:
        run = wi(*argv, "-o", "json")
    finally:
        server.faults.clear()
    assert met() > 0, f"no request met the fault on {endpoint.id}"
    doc = one_envelope(run.out)
    assert doc["exit_code"] == run.code
    diagnosis = TLS_DIAGNOSES.get((command, service)) if fault.action == "tls" else None
    if diagnosis is not None:
        failed = [f["id"] for f in doc["findings"] if f["status"] == "fail"]
        assert run.code == 1 and diagnosis in failed, _failing(doc)
        return
    if endpoint in CLEANUP.get(command, ()):
        said = doc["data"]["cleanup"]
        assert run.code == 0 and len(said) == 1 and "Could not delete" in said[0], doc["data"]
        assert names_service_and_operation(said[0], service), said
        return
    expected = 3 if fault.status == 401 else 4
    allowed = {expected} | ({0} if endpoint in OPTIONAL.get(command, ()) else set())
    assert run.code in allowed, (run.code, doc["errors"], _failing(doc))
    if run.code == 0:
        return
    if command == "doctor" and not doc["errors"]:
        unread = [f for f in doc["findings"] if f["status"] == "error"]
        assert unread and not [f for f in doc["findings"] if f["status"] == "fail"], \
            _failing(doc)
        assert any(names_service_and_operation(f["summary"], service) for f in unread), \
            [f["summary"] for f in unread]
    else:
        assert len(doc["errors"]) == 1, doc["errors"]
        message = doc["errors"][0]["message"]
        assert "\n" not in message and names_service_and_operation(message, service), message
    if command in ("bind", "unbind", "migrate") and doc["data"] is not None:
        steps = doc["data"].get("steps")
        assert isinstance(steps, list) and {s["status"] for s in steps} <= STEP_STATUSES, \
            doc["data"]
        assert sum(s["status"] == "failed" for s in steps) <= 1, steps


def _failing(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["id"], f["status"], f["summary"]) for f in doc["findings"]
            if f["status"] in ("fail", "error")]
