"""`wi doctor --all-contexts` on a lab fleet: 20 AKS clusters (contexts) × 100 service accounts,
20 ms latency on ARM, the issuer host and every API server. The fleet is laid out as platform
teams run one: service account ``apps/app-J`` exists in every cluster and is trusted by identity
``fleet-id-J`` (one credential per cluster issuer: 20 per identity, the most Azure allows).

Prints the wall time of each single-context run (``--context C``), of the fleet run, and the
ratio of the fleet run to the slowest single context (the runs overlap: the target is <= 1.5).
Every run is a process, as a user starts it (Python start-up and imports included), with
``-A --no-live -o json``. Measured, not asserted.

    python bench/doctor_fleet.py [--clusters 20] [--service-accounts 100] [--parallel 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wi_cli.lab.kube import scenarios  # noqa: E402
from wi_cli.lab.kube.fleet import add_fleet_cluster, fleet_kubeconfig, issuer_of  # noqa: E402
from wi_cli.lab.kube.webhook import CLIENT_ID_ANNOTATION  # noqa: E402
from wi_cli.lab.runtime import Lab  # noqa: E402

LATENCY = 0.02
TARGET = 1.5


def seed(lab: Lab, clusters: int, service_accounts: int) -> tuple[scenarios.Seeded, list]:
    seeded = scenarios.seed(lab, "healthy")
    az = lab.azure
    fleet = [seeded.cluster] + [add_fleet_cluster(lab, seeded, f"fleet-{i:02d}")
                                for i in range(1, clusters)]
    rg_id = f"/subscriptions/{seeded.subscription_id}/resourceGroups/{seeded.resource_group}"
    identities = [az.add_identity(seeded.subscription_id, seeded.resource_group,
                                  f"fleet-id-{j:03d}") for j in range(service_accounts)]
    for ident in identities:
        az.add_role_assignment(rg_id, "Reader", ident.principal_id)
    for cluster in fleet:
        cluster.store.create("namespaces", None, {"metadata": {"name": "apps"}})
        issuer = issuer_of(cluster)
        for j, ident in enumerate(identities):
            cluster.store.create("serviceaccounts", "apps", {"metadata": {
                "name": f"app-{j:03d}", "namespace": "apps",
                "annotations": {CLIENT_ID_ANNOTATION: ident.client_id}}})
            fic = az.add_fic(ident, f"{cluster.name}-app-{j:03d}", issuer,
                             f"system:serviceaccount:apps:app-{j:03d}")
            fic.created_at -= 3600
    return seeded, fleet


def run(env: dict[str, str], cwd: Path, *args: str) -> tuple[float, int, str]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "wi_cli", "doctor", *args, "-A", "--no-live",
                           "-o", "json"], env=env, capture_output=True, text=True, cwd=cwd)
    return time.monotonic() - start, proc.returncode, proc.stdout or proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--service-accounts", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="wi-bench-") as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        seeded, fleet = seed(lab, args.clusters, args.service_accounts)
        print(f"seeded {args.clusters} clusters x {args.service_accounts} service accounts, "
              f"{args.service_accounts} identities x {args.clusters} credentials in "
              f"{time.monotonic() - started:.1f} s")
        kubeconfig = folder / "kubeconfig"
        kubeconfig.write_text(fleet_kubeconfig(lab, fleet))
        env = {**os.environ, "WI_CLOUD": lab.metadata_url, "AZURE_TENANT_ID": seeded.tenant_id,
               "AZURE_CLIENT_ID": seeded.operator.client_id,
               "AZURE_CLIENT_SECRET": seeded.operator.secret or "",
               "AZURE_SUBSCRIPTION_ID": seeded.subscription_id,
               "REQUESTS_CA_BUNDLE": str(lab.ca_file), "KUBECONFIG": str(kubeconfig),
               "HOME": str(folder), "WI_STATE_DIR": str(folder / "state")}
        for server in (lab.arm, lab.oidc.server, *(c.server for c in fleet)):
            server.faults.latency = LATENCY
        singles = []
        for cluster in fleet:
            wall, code, out = run(env, folder, "--context", cluster.name)
            if code not in (0, 1):
                print(f"wi doctor --context {cluster.name} failed (exit {code}):\n{out[-2000:]}")
                return 1
            singles.append((wall, cluster.name))
        slowest, name = max(singles)
        print(f"single contexts: {len(singles)} runs, fastest {min(singles)[0]:.2f} s, "
              f"median {sorted(singles)[len(singles) // 2][0]:.2f} s, slowest {slowest:.2f} s "
              f"({name})")
        first = len(lab.request_log)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, code, out = run(env, folder, "--all-contexts", "--parallel", str(args.parallel))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if code not in (0, 1):
            print(f"wi doctor --all-contexts failed (exit {code}):\n{out[-2000:]}")
            return 1
        doc = json.loads(out)
        calls = Counter("kube" if r.server.startswith("kube-") else r.server
                        for r in lab.request_log[first:])
        statuses = Counter(f["status"] for f in doc["findings"])
        print(f"wi doctor --all-contexts --parallel {args.parallel}: exit {code}, "
              f"{len(doc['findings'])} findings {dict(statuses)}")
        print("API calls: " + ", ".join(f"{k} {n}" for k, n in sorted(calls.items())))
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"CPU of the fleet run: {cpu:.2f} s ({os.cpu_count()} cores)")
        print(f"wall time: fleet {wall:.2f} s, slowest single context {slowest:.2f} s, "
              f"ratio {wall / slowest:.2f} (target <= {TARGET})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
