"""Load: many `wi bind` processes at once on a few identities end with exactly the expected
credentials and annotations; ARM's 409 for concurrent credential writes to one identity
(ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity) is absorbed. 50
processes on 10 identities in both modes: ~25 s of two cores, within the CI budget."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from conftest import NS, fresh_identity, make_service_account, tag
from faultkit import TIMEOUTS

PROCESSES, IDENTITIES = 50, 10
CLIENT_ID = "azure.workload.identity/client-id"


def test_concurrent_binds_end_with_exactly_the_expected_trusts(world: dict[str, Any],
                                                               env: dict[str, str]) -> None:
    lab, seeded, store = world["lab"], world["seeded"], world["store"]
    run = tag()
    identities = [fresh_identity(world, f"{run}-{i}") for i in range(IDENTITIES)]
    jobs = []
    for n in range(PROCESSES):
        sa = f"{run}-sa-{n}"
        make_service_account(world, sa)
        jobs.append((sa, identities[n % IDENTITIES]))
    child_env = {k: v for k, v in os.environ.items() if k not in TIMEOUTS}  # a loaded machine
    first = len(lab.request_log)
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "wi_cli", "bind", sa, identity, "-n", NS,
                               "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=child_env) for sa, identity in jobs]
    results = [p.communicate(timeout=600) for p in procs]
    elapsed = time.monotonic() - started
    failed = [(sa, p.returncode, err[-300:]) for (sa, _), p, (_, err) in zip(jobs, procs, results)
              if p.returncode != 0]
    assert not failed, failed
    conflicts = sum(1 for r in lab.request_log[first:] if r.status == 409)
    for identity in identities:
        ident = lab.azure.identity(seeded.subscription_id, seeded.resource_group, identity)
        want = {f"system:serviceaccount:{NS}:{sa}" for sa, i in jobs if i == identity}
        got = [f.subject for f in ident.fics.values()]
        assert sorted(got) == sorted(want), (identity, got)
        assert all(f.issuer == seeded.issuer_url for f in ident.fics.values())
    for sa, identity in jobs:
        ident = lab.azure.identity(seeded.subscription_id, seeded.resource_group, identity)
        annotations = store.get("serviceaccounts", NS, sa)["metadata"].get("annotations") or {}
        assert annotations.get(CLIENT_ID) == ident.client_id, (sa, annotations)
    print(f"{PROCESSES} binds on {IDENTITIES} identities in {elapsed:.1f} s, "
          f"{conflicts} concurrent-write 409s absorbed")
