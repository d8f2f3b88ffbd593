"""`wi bind` against the five commands users run today, and `wi doctor` against the reads a user
makes to check the same links by hand, on the lab (scenario healthy, started here).

    python bench/bind_vs_az.py [--pairs N] [--az PATH]

The flow is Microsoft's workload identity how-to: `az aks show` (the issuer), `az identity
show` (the client id), `az identity federated-credential create`, `kubectl create
serviceaccount`, `kubectl annotate`, each fed what the earlier ones printed. `wi bind SA
IDENTITY -n NS --create` must reach the same end state, checked after every run (a credential
with the cluster's issuer, the service account's subject and api://AzureADTokenExchange; the
service account annotated with the identity's client id); each run binds a fresh service
account, and its credential and service account are removed (untimed) before the next run.
The check by hand: `az aks show`, `az identity show`, `az identity federated-credential list`,
`kubectl get sa -o yaml`, `kubectl get pods -l azure.workload.identity/use=true -o yaml`, `az role
assignment list`, against `wi doctor -n NS --service-account SA` on one bound service account.

Both sides alternate (wi first on even pairs) after one warm-up pair; the table has the
medians of the wall time, of the CPU time (user + system, the process and its children: what
the command costs whatever else the machine runs) and of the lab requests each command made,
and wi's wall time over the flow's. The target for
bind is a ratio <= 0.5, as printed (two decimals). Printed, not asserted.

The Azure CLI (bench/_az.py: `--az`, PATH, or a throwaway venv) is registered to the lab as a
custom cloud with the endpoints of the lab's metadata document, `core.instance_discovery` off,
signed in as the lab's operator service principal (its secret goes on az's command line, as
`az login -p` takes it, and is never printed); the lab's CA is trusted through
REQUESTS_CA_BUNDLE. That signed-in configuration is a template: every az invocation gets a
fresh copy of it as its AZURE_CONFIG_DIR (copied untimed), so no run sees another's state, and
each starts as a user's signed-in az does, with a cached ARM token. `az role assignment list`
takes `--assignee-object-id` and `--fill-principal-name false`, the documented way to skip
Microsoft Graph (the lab has no Graph; wi does not call it either).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from _az import az_version, base_env, find_az, find_wi

AUDIENCE = "api://AzureADTokenExchange"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
TARGET = 0.5
CLOUD = "WiLab"


@dataclass(frozen=True)
class Step:
    """One command of a flow: argv with {placeholders}; ``keeps`` names what its stdout gives
    (whitespace-separated values, in order) for the later steps."""

    label: str
    argv: tuple[str, ...]
    keeps: tuple[str, ...] = ()


ISSUER = Step("az aks show", ("az", "aks", "show", "-g", "{rg}", "-n", "{cluster}", "--query",
                              "oidcIssuerProfile.issuerUrl", "-o", "tsv"), ("issuer",))
BIND_FLOW = (
    ISSUER,
    Step("az identity show", ("az", "identity", "show", "-g", "{rg}", "-n", "{identity}",
                              "--query", "clientId", "-o", "tsv"), ("client_id",)),
    Step("az identity federated-credential create",
         ("az", "identity", "federated-credential", "create", "--name", "{fic}",
          "--identity-name", "{identity}", "-g", "{rg}", "--issuer", "{issuer}",
          "--subject", "system:serviceaccount:{ns}:{sa}", "--audiences", AUDIENCE, "-o", "none")),
    Step("kubectl create serviceaccount", ("kubectl", "create", "serviceaccount", "{sa}", "-n",
                                           "{ns}")),
    Step("kubectl annotate", ("kubectl", "annotate", "serviceaccount", "{sa}", "-n", "{ns}",
                              CLIENT_ID_ANNOTATION + "={client_id}")),
)
CHECK_FLOW = (
    ISSUER,
    Step("az identity show", ("az", "identity", "show", "-g", "{rg}", "-n", "{identity}",
                              "--query", "[clientId, principalId]", "-o", "tsv"),
         ("client_id", "principal_id")),
    Step("az identity federated-credential list",
         ("az", "identity", "federated-credential", "list", "--identity-name", "{identity}",
          "-g", "{rg}", "-o", "json"), ("credentials",)),
    Step("kubectl get serviceaccount -o yaml", ("kubectl", "get", "serviceaccount", "{sa}", "-n",
                                                "{ns}", "-o", "yaml"), ("service_account",)),
    Step("kubectl get pods -l ... -o yaml", ("kubectl", "get", "pods", "-n", "{ns}", "-l",
                                             "azure.workload.identity/use=true", "-o", "yaml")),
    Step("az role assignment list", ("az", "role", "assignment", "list", "--assignee-object-id",
                                     "{principal_id}", "--all", "--fill-principal-name", "false",
                                     "-o", "json"), ("role_assignments",)),
)
WI_BIND = Step("wi bind SA IDENTITY -n NS --create",
               ("wi", "bind", "{sa}", "{identity}", "-n", "{ns}", "--create"))
WI_DOCTOR = Step("wi doctor -n NS --service-account SA",
                 ("wi", "doctor", "-n", "{ns}", "--service-account", "{sa}"))
WHOLE_OUTPUT = ("credentials", "service_account", "role_assignments")  # kept whole, not split

# `az cloud register` option <- the metadata document's field, as az's own mapping reads it
# (azure.cli.core.cloud._arm_to_cli_mapper): the three endpoints az requires, then the others
REQUIRED_ENDPOINTS = 3
REGISTER_OPTIONS = (
    ("--endpoint-resource-manager", ("resourceManager",)),
    ("--endpoint-active-directory", ("authentication", "loginEndpoint")),
    ("--endpoint-active-directory-resource-id", ("authentication", "audiences", 0)),
    ("--endpoint-management", ("authentication", "audiences", 0)),
    ("--endpoint-active-directory-graph-resource-id", ("graphAudience",)),
    ("--endpoint-microsoft-graph-resource-id", ("microsoftGraphResourceId",)),
)


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


# -- pure parts (tests/unit/test_bench_parts.py) ---------------------------------------------------
def fill(step: Step, values: Mapping[str, str]) -> list[str]:
    """The step's argv with its {placeholders} filled in."""
    try:
        return [arg.format_map(values) for arg in step.argv]
    except KeyError as missing:
        raise BenchError(f"{step.label} needs {missing}, which no earlier step gave") from None


def kept(step: Step, stdout: str) -> dict[str, str]:
    """What a step's stdout gives the later steps."""
    if not step.keeps:
        return {}
    if len(step.keeps) == 1 and step.keeps[0] in WHOLE_OUTPUT:
        return {step.keeps[0]: stdout}
    values = stdout.split()
    if len(values) != len(step.keeps):
        raise BenchError(f"{step.label} printed {len(values)} value(s), expected "
                         f"{len(step.keeps)} ({', '.join(step.keeps)})")
    return dict(zip(step.keeps, values))


def cloud_register_args(metadata: Mapping[str, Any], name: str = CLOUD) -> list[str]:
    """`az cloud register` arguments for the cloud an ARM metadata document describes."""
    args = ["cloud", "register", "--name", name]
    for i, (option, path) in enumerate(REGISTER_OPTIONS):
        value: Any = metadata
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                value = None
                break
        if value:
            args += [option, str(value)]
        elif i < REQUIRED_ENDPOINTS:
            raise BenchError(f"the cloud metadata document has no value for {option}")
    return args


def end_state_problems(credentials: Iterable[Mapping[str, Any]],
                       service_account: Mapping[str, Any] | None, *, issuer: str, subject: str,
                       client_id: str) -> list[str]:
    """What is missing for a bound service account: a credential with this issuer, subject
    and the token-exchange audience, and the client-id annotation. Empty when bound."""
    problems = []
    same = [c for c in credentials if c.get("issuer") == issuer and c.get("subject") == subject]
    if not same:
        problems.append(f"no federated credential for issuer {issuer} and subject {subject}")
    elif not any(list(c.get("audiences") or []) == [AUDIENCE] for c in same):
        problems.append(f"the credential for {subject} does not have audience {AUDIENCE}")
    if service_account is None:
        problems.append(f"service account for {subject} missing")
    else:
        annotations = (service_account.get("metadata") or {}).get("annotations") or {}
        actual = annotations.get(CLIENT_ID_ANNOTATION)
        if actual != client_id:
            problems.append(f"service account for {subject}: {CLIENT_ID_ANNOTATION} is "
                            f"{actual!r}, expected {client_id}")
    return problems


@dataclass
class Row:
    command: str
    seconds: float
    cpu: float
    requests: int
    ratio: float | None = None
    note: str = ""


def format_table(title: str, rows: Sequence[Row]) -> str:
    width = max(len(title), *(len(r.command) for r in rows))
    lines = [f"{title:<{width}}   median     cpu  requests  ratio"]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        line = (f"{r.command:<{width}}  {r.seconds:5.2f} s  {r.cpu:4.2f} s  {r.requests:>8}  "
                f"{ratio:>5}")
        lines.append(f"{line}  {r.note}".rstrip())
    return "\n".join(lines)


def verdict(ratio: float, target: float) -> str:
    """Met when the ratio, as printed (two decimals), is at most the target."""
    return f"target <= {target:.2f}: {'met' if round(ratio, 2) <= target else 'NOT met'}"


def kind_of(server: str, path: str) -> str:
    """The service a lab request went to (the ARM metadata document apart)."""
    if server.startswith("kube-"):
        return "kube"
    if server == "arm" and path.lower().lstrip("/").startswith("metadata/"):
        return "metadata"
    return server


def by_kind(counts: Iterable[Counter[str]]) -> str:
    """The median count of each kind of request over runs: 'arm 3, kube 2'."""
    runs = list(counts)
    kinds = sorted({k for c in runs for k in c})
    return ", ".join(f"{k} {statistics.median(c[k] for c in runs):g}" for k in kinds) or "none"


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


# -- running things against the lab ----------------------------------------------------------------
@dataclass
class Timed:
    seconds: float
    requests: Counter[str]
    cpu: float = 0.0  # user + system seconds of the process and its children
    stdout: str = ""


@dataclass
class Results:
    """Each command's runs, by label; the flows' totals under their own label."""

    runs: dict[str, list[Timed]] = field(default_factory=dict)

    def add(self, label: str, timed: Timed) -> None:
        self.runs.setdefault(label, []).append(timed)

    def median(self, label: str) -> float:
        return statistics.median(t.seconds for t in self.runs[label])

    def requests(self, label: str) -> int:
        return round(statistics.median(sum(t.requests.values()) for t in self.runs[label]))

    def cpu(self, label: str) -> float:
        return statistics.median(t.cpu for t in self.runs[label])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Bench:
    def __init__(self, lab: Any, seeded: Any, az: str, work: Path) -> None:
        from wi_cli.lab import serve

        self.lab, self.seeded, self.work = lab, seeded, work
        state = work / "lab"
        serve.write_state(lab, seeded, state)
        self.secret = seeded.operator.secret or ""
        self.ca = str(state / "ca.pem")
        common = base_env(isolate=True)
        common["HOME"] = str(work / "home")
        (work / "home").mkdir()
        self.env = {
            "az": {**common, "REQUESTS_CA_BUNDLE": self.ca},
            "kubectl": {**common, "KUBECONFIG": str(state / "kubeconfig")},
            "wi": {**common, **dict(serve.env_lines(lab, seeded, state)),
                   "WI_STATE_DIR": str(work / "wi-state")},
        }
        self.exe = {"az": [az], "kubectl": [shutil.which("kubectl") or "kubectl"],
                    "wi": find_wi()}
        self.az_template = work / "az-template"
        self.values = {"rg": seeded.resource_group, "cluster": seeded.cluster_name,
                       "identity": seeded.identity.name, "ns": seeded.namespace}
        self._copies = 0

    # -- the Azure CLI's signed-in configuration ---------------------------------------------------
    def sign_in_az(self) -> None:
        context = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(self.lab.metadata_url, context=context, timeout=30) as r:
            metadata = json.load(r)
        s = self.seeded
        for args in (cloud_register_args(metadata), ["cloud", "set", "--name", CLOUD],
                     ["config", "set", "core.instance_discovery=false"],
                     ["login", "--service-principal", "--username", s.operator.client_id,
                      "--password", self.secret, "--tenant", s.tenant_id]):
            proc = subprocess.run(self.exe["az"] + args + ["-o", "none", "--only-show-errors"],
                                  env={**self.env["az"], "AZURE_CONFIG_DIR": str(self.az_template)},
                                  capture_output=True, text=True, timeout=300)
            if proc.returncode:
                raise BenchError(f"az {args[0]} {args[1]} failed (exit {proc.returncode}): "
                                 f"{redact(proc.stderr, self.secret).strip()[-1500:]}")

    def _env_for(self, tool: str) -> dict[str, str]:
        env = self.env[tool]
        if tool == "az":
            self._copies += 1
            config = self.work / f"az-{self._copies}"
            shutil.copytree(self.az_template, config)
            env = {**env, "AZURE_CONFIG_DIR": str(config)}
        return env

    # -- one command, timed, with the lab requests it made -----------------------------------------
    def run(self, step: Step, values: Mapping[str, str]) -> Timed:
        argv = fill(step, values)
        tool, rest = argv[0], argv[1:]
        env = self._env_for(tool)
        cpu = _children_cpu()
        start = time.monotonic()
        proc = subprocess.run(self.exe[tool] + rest, env=env, capture_output=True, text=True,
                              cwd=self.work, timeout=300)
        seconds = time.monotonic() - start
        cpu = _children_cpu() - cpu
        if tool == "az":
            shutil.rmtree(env["AZURE_CONFIG_DIR"], ignore_errors=True)
        if proc.returncode:
            raise BenchError(f"{step.label} failed (exit {proc.returncode}): "
                             f"{redact(proc.stderr or proc.stdout, self.secret).strip()[-1500:]}")
        time.sleep(0.05)  # the lab logs a request just after answering it
        requests = Counter(kind_of(r.server, r.path) for r in list(self.lab.request_log)
                           if start <= r.start <= start + seconds)
        return Timed(seconds, requests, cpu, proc.stdout)

    def flow(self, steps: Sequence[Step], values: dict[str, str], results: Results,
             total_label: str) -> dict[str, str]:
        total, cpu, requests = 0.0, 0.0, Counter[str]()
        for step in steps:
            timed = self.run(step, values)
            values.update(kept(step, timed.stdout))
            results.add(step.label, timed)
            total, cpu = total + timed.seconds, cpu + timed.cpu
            requests.update(timed.requests)
        results.add(total_label, Timed(total, requests, cpu))
        return values

    # -- the lab's truth ----------------------------------------------------------------------------
    def bound(self, sa: str) -> list[str]:
        ns, identity = self.seeded.namespace, self.seeded.identity
        with self.lab.azure.lock:
            credentials = [{"issuer": f.issuer, "subject": f.subject, "audiences": f.audiences}
                           for f in identity.fics.values()]
        try:
            account = self.seeded.cluster.store.get("serviceaccounts", ns, sa)
        except Exception:  # the store's NotFound
            account = None
        return end_state_problems(credentials, account, issuer=self.seeded.issuer_url,
                                  subject=f"system:serviceaccount:{ns}:{sa}",
                                  client_id=identity.client_id)

    def unbind(self, sa: str) -> None:
        ns, identity = self.seeded.namespace, self.seeded.identity
        subject = f"system:serviceaccount:{ns}:{sa}"
        with self.lab.azure.lock:
            for key in [k for k, f in identity.fics.items() if f.subject == subject]:
                del identity.fics[key]
        self.seeded.cluster.store.delete("serviceaccounts", ns, sa)


def bind_pairs(bench: Bench, pairs: int) -> Results:
    results = Results()
    for i in range(-1, pairs):  # -1: the warm-up pair, checked but not counted
        into = results if i >= 0 else Results()
        sides = ["wi", "flow"] if i % 2 == 0 else ["flow", "wi"]
        for side in sides:
            sa = f"bench-{side}-{'warm' if i < 0 else i}"
            values = {**bench.values, "sa": sa, "fic": f"{sa}-fic"}
            if side == "wi":
                into.add(WI_BIND.label, bench.run(WI_BIND, values))
            else:
                bench.flow(BIND_FLOW, values, into, "the 5 commands")
            problems = bench.bound(sa)
            if problems:
                raise BenchError(f"{'wi bind' if side == 'wi' else 'the 5 commands'} did not "
                                 f"bind {sa}: {'; '.join(problems)}")
            bench.unbind(sa)
    return results


def doctor_pairs(bench: Bench, pairs: int) -> Results:
    import yaml

    sa = "bench-doctor"
    values = {**bench.values, "sa": sa}
    bench.run(WI_BIND, values)
    if bench.bound(sa):
        raise BenchError(f"wi bind did not bind {sa}: {'; '.join(bench.bound(sa))}")
    results = Results()
    for i in range(-1, pairs):
        into = results if i >= 0 else Results()
        for side in (["wi", "flow"] if i % 2 == 0 else ["flow", "wi"]):
            if side == "wi":
                into.add(WI_DOCTOR.label, bench.run(WI_DOCTOR, values))  # exit 0: no problem
                continue
            read = bench.flow(CHECK_FLOW, dict(values), into, "the 6 reads")
            problems = end_state_problems(
                json.loads(read["credentials"]), yaml.safe_load(read["service_account"]),
                issuer=read["issuer"], subject=f"system:serviceaccount:{bench.values['ns']}:{sa}",
                client_id=read["client_id"])
            if problems or not json.loads(read["role_assignments"]):
                raise BenchError(f"the reads by hand do not show {sa} bound: "
                                 f"{'; '.join(problems) or 'no role assignment'}")
    return results


def section(title: str, results: Results, steps: Sequence[Step], total: str, wi: Step,
            target: float | None) -> str:
    def row(label: str) -> Row:
        return Row(label, results.median(label), results.cpu(label), results.requests(label))

    rows = [row(s.label) for s in steps] + [row(total), row(wi.label)]
    rows[-1].ratio = rows[-1].seconds / rows[-2].seconds
    rows[-1].note = "" if target is None else verdict(rows[-1].ratio, target)
    short = " ".join(wi.argv[:2])
    return (f"{format_table(title, rows)}\n  requests by service: {short} "
            f"({by_kind(t.requests for t in results.runs[wi.label])}); {total} "
            f"({by_kind(t.requests for t in results.runs[total])})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5, help="timed pairs (default 5, min 5)")
    parser.add_argument("--az", help="the az executable (default: on PATH, else installed)")
    args = parser.parse_args()
    if args.pairs < 5:
        parser.error("--pairs: at least 5")
    az = find_az(args.az)
    from wi_cli.lab.kube import scenarios
    from wi_cli.lab.runtime import Lab

    with Lab() as lab, tempfile.TemporaryDirectory(prefix="wi-bench-az-") as tmp:
        seeded = scenarios.seed(lab, "healthy")
        bench = Bench(lab, seeded, az, Path(tmp))
        try:
            bench.sign_in_az()
            kubectl = subprocess.run(bench.exe["kubectl"] + ["version", "--client", "-o", "json"],
                                     capture_output=True, text=True).stdout
            print(f"lab scenario healthy; az {az_version(az, bench.env['az'])} at {az}; kubectl "
                  f"{json.loads(kubectl or '{}').get('clientVersion', {}).get('gitVersion', '?')}; "
                  f"wi at {' '.join(bench.exe['wi'])}")
            print(f"medians of {args.pairs} alternated pairs after one warm-up pair; "
                  f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n", flush=True)
            bind = bind_pairs(bench, args.pairs)
            print(section("bind", bind, BIND_FLOW, "the 5 commands", WI_BIND, TARGET) + "\n",
                  flush=True)
            doctor = doctor_pairs(bench, args.pairs)
            print(section("check one bound service account", doctor, CHECK_FLOW, "the 6 reads",
                          WI_DOCTOR, None))
        except BenchError as exc:
            print(f"bind_vs_az: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
