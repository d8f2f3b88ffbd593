"""`wi doctor -A --no-live` at scale: 2,000 service accounts in 20 namespaces bound to 500
identities (2,000 federated credentials, 1,000 role assignments), with 20 ms latency on ARM and
the API server. Prints the wall time, the API calls and the ratio to the critical-path lower
bound; the bar is 1.5.

    python bench/doctor_scale.py [--namespaces 20] [--service-accounts 2000] [--identities 500]

The lower bound is the longest chain of calls that must wait for one another, counted from the
lab's request log: operator sign-in (cloud metadata, then Entra), then every page of the
identity list (ARM pages at 100); the Kubernetes lists (service accounts, pods: which client ids
are in scope) run beside it; then one federated-credential list per identity in parallel, and
the pages of the role-assignment list followed by the role-definition reads. Each link costs at
least the 20 ms latency. Also printed: when each kind of call ran, and the CPU both sides used.
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

from wi_cli.lab.http import LoggedRequest  # noqa: E402
from wi_cli.lab.kube import scenarios  # noqa: E402
from wi_cli.lab.runtime import Lab  # noqa: E402

LATENCY = 0.02
BAR = 1.5

# request kind -> kinds it must wait for (the chain is the longest path through these)
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "metadata": (),
    "entra": ("metadata",),
    "arm-clusters": ("entra",),
    "arm-identities": ("entra",),
    "arm-fics": ("arm-identities", "kube"),  # which identities: the SAs' client ids
    "arm-role-assignments": ("arm-identities", "kube"),
    "arm-role-definitions": ("arm-role-assignments",),
    "arm-other": ("entra",),
    "kube": (),
    "oidc": (),
}
PAGED = ("entra", "arm-identities", "arm-clusters", "metadata")  # one after another


def seed(lab: Lab, namespaces: int, service_accounts: int, identities: int) -> scenarios.Seeded:
    seeded = scenarios.seed(lab, "healthy")
    az, store = lab.azure, seeded.cluster.store
    rg_id = f"/subscriptions/{seeded.subscription_id}/resourceGroups/{seeded.resource_group}"
    idents = [az.add_identity(seeded.subscription_id, seeded.resource_group, f"bench-id-{i:04d}")
              for i in range(identities)]
    for i, ident in enumerate(idents):
        az.add_role_assignment(rg_id, "Reader", ident.principal_id)
        if i % 2 == 0:
            az.add_role_assignment(rg_id, "Key Vault Secrets User", ident.principal_id)
    names = [f"team-{n:02d}" for n in range(namespaces)]
    for ns in names:
        store.create("namespaces", None, {"metadata": {"name": ns}})
    for i in range(service_accounts):
        ns, sa, ident = names[i % namespaces], f"app-{i:05d}", idents[i % identities]
        store.create("serviceaccounts", ns, {"metadata": {
            "name": sa, "namespace": ns,
            "annotations": {"azure.workload.identity/client-id": ident.client_id}}})
        fic = az.add_fic(ident, f"{ns}-{sa}", seeded.issuer_url or "",
                         f"system:serviceaccount:{ns}:{sa}")
        fic.created_at -= 3600
    return seeded


def kind_of(r: LoggedRequest) -> str:
    path = r.path.split("?")[0].lower()
    if r.server == "entra":
        return "entra"
    if r.server == "oidc":
        return "oidc"
    if r.server.startswith("kube-"):
        return "kube"
    if path.startswith("/metadata/"):
        return "metadata"
    if path.endswith("/federatedidentitycredentials"):
        return "arm-fics"
    if "userassignedidentities" in path:
        return "arm-identities"
    if "managedclusters" in path:
        return "arm-clusters"
    if "roleassignments" in path:
        return "arm-role-assignments"
    if "roledefinitions" in path:
        return "arm-role-definitions"
    return "arm-other"


def links(kind: str, requests: list[LoggedRequest]) -> int:
    """Calls of one kind that must follow one another: all pages of a sequential kind, else
    the most pages any one item's list needed (items of a fan-out run side by side)."""
    if not requests:
        return 0
    if kind in PAGED:
        return len(requests)
    per_item = Counter(_item(r.path) for r in requests)
    return max(per_item.values())


def _item(path: str) -> str:
    """The list a request reads (path and query), whichever page of it."""
    base, _, query = path.partition("?")
    params = sorted(p for p in query.split("&") if not p.lower().startswith(("$skiptoken=",
                                                                             "skiptoken=")))
    return f"{base.lower()}?{'&'.join(params)}"


def critical_path(log: list[LoggedRequest]) -> tuple[int, dict[str, int]]:
    by_kind: dict[str, list[LoggedRequest]] = {}
    for r in log:
        by_kind.setdefault(kind_of(r), []).append(r)
    own = {k: links(k, v) for k, v in by_kind.items()}
    memo: dict[str, int] = {}

    def depth(kind: str) -> int:
        if kind not in memo:
            memo[kind] = own.get(kind, 0) + max((depth(d) for d in DEPENDS_ON[kind]), default=0)
        return memo[kind]

    return max(depth(k) for k in DEPENDS_ON), {k: len(v) for k, v in sorted(by_kind.items())}


def run_doctor(lab: Lab, seeded: scenarios.Seeded, folder: Path) -> tuple[float, int, str]:
    kubeconfig = seeded.cluster.write_kubeconfig(folder / "kubeconfig")
    env = {**os.environ, "WI_CLOUD": lab.metadata_url, "AZURE_TENANT_ID": seeded.tenant_id,
           "AZURE_CLIENT_ID": seeded.operator.client_id,
           "AZURE_CLIENT_SECRET": seeded.operator.secret or "",
           "AZURE_SUBSCRIPTION_ID": seeded.subscription_id,
           "REQUESTS_CA_BUNDLE": str(lab.ca_file), "KUBECONFIG": str(kubeconfig),
           "HOME": str(folder), "WI_STATE_DIR": str(folder / "state")}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "wi_cli", "doctor", "-A", "--no-live",
                           "-o", "json"], env=env, capture_output=True, text=True, cwd=folder)
    return time.monotonic() - start, proc.returncode, proc.stdout or proc.stderr


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--service-accounts", type=int, default=2000)
    parser.add_argument("--identities", type=int, default=500)
    args = parser.parse_args()
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="wi-bench-") as tmp:
        started = time.monotonic()
        seeded = seed(lab, args.namespaces, args.service_accounts, args.identities)
        print(f"seeded {args.service_accounts} service accounts in {args.namespaces} namespaces, "
              f"{args.identities} identities in {time.monotonic() - started:.1f} s")
        lab.arm.faults.latency = LATENCY
        seeded.cluster.server.faults.latency = LATENCY
        first = len(lab.request_log)
        lab_cpu = resource.getrusage(resource.RUSAGE_SELF)
        wall, code, out = run_doctor(lab, seeded, Path(tmp))
        lab_cpu_s = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(lab_cpu)
        doctor_cpu_s = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
        log = list(lab.request_log[first:])
        if code not in (0, 1):
            print(f"wi doctor failed (exit {code}):\n{out[-2000:]}")
            return 1
        findings = json.loads(out)["findings"]
        window = max(r.end for r in log) - min(r.start for r in log)
        chain, calls = critical_path(log)
        bound = chain * LATENCY
        statuses = Counter(f["status"] for f in findings)
        print(f"wi doctor -A --no-live: exit {code}, {len(findings)} findings {dict(statuses)}")
        print(f"API calls: {len(log)}  " + ", ".join(f"{k} {n}" for k, n in calls.items()))
        print(f"critical path: {chain} calls x {LATENCY * 1000:.0f} ms = {bound:.2f} s")
        print(f"wall time (process, with Python start-up and imports): {wall:.2f} s, "
              f"ratio {wall / bound:.2f}")
        t0 = min(r.start for r in log)
        spans = {}
        for r in log:
            k = kind_of(r)
            lo, hi = spans.get(k, (r.start, r.end))
            spans[k] = (min(lo, r.start), max(hi, r.end))
        print("timeline (s from the first call): " + ", ".join(
            f"{k} {lo - t0:.2f}-{hi - t0:.2f}" for k, (lo, hi) in
            sorted(spans.items(), key=lambda kv: kv[1][0])))
        print(f"CPU: wi doctor {doctor_cpu_s:.2f} s, the lab serving it {lab_cpu_s:.2f} s "
              f"({os.cpu_count()} cores)")
        print(f"wall time (first to last API call): {window:.2f} s, ratio {window / bound:.2f} "
              f"(bar {BAR})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
