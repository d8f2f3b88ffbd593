"""What the probe's outcome means, as findings like doctor's: one per link of the chain the pod
went through (admitted, started, reported, injected, client id, token file, exchange) up to the
first that failed, one per data-plane check, and advice (a credential that shadows workload
identity, a token about to expire).

A data-plane check the user asked for (--check-keyvault, --check-storage) that failed fails the
probe (exit 1): workload identity works, but the access asked about does not. A refusal Entra
gives while a credential that matches the token exactly is still propagating is a warning
(exit 0); everything else that breaks the chain fails (exit 1).
Pure functions over the report and what ARM showed: no I/O."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from ..aadsts import explain
from ..models import (
    PROPAGATION_CODES,
    WI_CLIENT_ID,
    WI_USE_LABEL,
    AccessToken,
    ArmView,
    Cluster,
    DataPlaneCheck,
    Evidence,
    ExchangeError,
    Explained,
    ProbeFinding,
    ProbeReport,
    ProbeRequest,
    ProbeTargets,
    Status,
)

# id: (title, layer)
STEPS = {
    "probe.pod-admitted": ("Cluster admits the probe pod", "pod"),
    "probe.pod-started": ("Probe pod starts", "pod"),
    "probe.report": ("Agent reports", "pod"),
    "probe.injection": ("Webhook injects the token and variables", "webhook"),
    "probe.client-id": ("Pod gets AZURE_CLIENT_ID", "workload"),
    "probe.token-file": ("Projected token is usable", "workload"),
    "probe.token-exchange": ("Token exchange at Entra", "live"),
    "probe.data-plane": ("Data-plane access", "rbac"),
    "probe.credential-chain": ("DefaultAzureCredential uses workload identity", "workload"),
    "probe.token-expiry": ("Projected token not about to expire", "workload"),
}
PROPAGATING_CAUSE = ("A new federated credential takes a few minutes to propagate in Entra; "
                     "meanwhile it answers as if the credential did not exist.")
PROPAGATING_FIX = ("Nothing to change: re-run wi probe in a few minutes (SDKs in the pods retry "
                   "on their own).")
_DATA_ROLES = {"keyvault": ("Key Vault Secrets User", "the vault"),
               "storage": ("Storage Blob Data Reader", "the storage account or container")}


def _finding(id: str, status: Status, summary: str, *, causes: Iterable[str] = (),
             fixes: Iterable[str] = (), kind: str = "step", expected: Any = None,
             actual: Any = None, target: str = "") -> ProbeFinding:
    title, layer = STEPS[id]
    evidence = Evidence(expected, actual) if expected is not None or actual is not None else None
    return ProbeFinding(f"{id}.{target}" if target else id, title, layer, status, summary,
                        evidence, causes=tuple(c for c in causes if c), fixes=tuple(fixes),
                        kind=kind)


def bind_command(req: ProbeRequest, report: ProbeReport | None, arm: ArmView) -> str:
    """The `wi bind` for this service account, with the identity filled in when known: its name
    from ARM, else the client id the pod got (bind takes either)."""
    env = report.env.variables if report is not None and report.env else {}
    identity = arm.identity.name if arm.identity is not None else \
        env.get("AZURE_CLIENT_ID") or "IDENTITY"
    return f"wi bind {req.service_account} {identity} -n {req.namespace}"


def _doctor(req: ProbeRequest, why: str = "to check every link of the chain") -> str:
    return f"Run wi doctor -n {req.namespace} --service-account {req.service_account} {why}."


# -- the pod --------------------------------------------------------------------------------------

def refused(req: ProbeRequest, message: str) -> list[ProbeFinding]:
    return [_finding("probe.pod-admitted", Status.FAIL,
                     "The cluster refused to admit the probe pod.", causes=[message],
                     fixes=[_doctor(req, "to check the webhook and service account")])]


def _admitted() -> ProbeFinding:
    return _finding("probe.pod-admitted", Status.OK, "The cluster admitted the probe pod.")


def never_started(reason: str, message: str, detail: list[str]) -> list[ProbeFinding]:
    return [_admitted(), _finding(
        "probe.pod-started", Status.FAIL, f"The probe pod never started: {reason}.",
        causes=[message or reason, *detail],
        fixes=["Check that the node can pull the image (egress-restricted clusters: use an "
               "image from MCR or your ACR via --image)."])]


def _ran(phase: str | None) -> list[ProbeFinding]:
    return [_admitted(), _finding("probe.pod-started", Status.OK,
                                  f"The probe pod ran ({phase}).")]


def no_report(phase: str | None, tail: list[str], reason: str | None) -> list[ProbeFinding]:
    return [*_ran(phase), _finding(
        "probe.report", Status.FAIL, f"The probe pod ended ({phase}) without a report.",
        causes=tail[-3:] or [reason or "no output"],
        fixes=["The image must provide python3 (>= 3.8); pass one with --image."])]


def unreadable_report(phase: str | None, message: str,
                      remediation: list[str]) -> list[ProbeFinding]:
    return [*_ran(phase), _finding(
        "probe.report", Status.FAIL, f"The probe pod ended ({phase}) with a report wi cannot "
                                     "read.", causes=[message], fixes=remediation)]


# -- the report -----------------------------------------------------------------------------------

def conclude(report: ProbeReport, req: ProbeRequest, targets: ProbeTargets, arm: ArmView,
             phase: str | None, cluster: Cluster | None = None
             ) -> tuple[ProbeReport, list[ProbeFinding]]:
    """The report with wi's explanations attached, and the findings (``cluster``: the AKS
    cluster the pod ran on, when known, for fixes that name it)."""
    report = explained(report, targets, arm, bind_command(req, report, arm))
    findings = _ran(phase)
    if report.fatal:
        return report, [*findings, _finding(
            "probe.report", Status.FAIL, "The agent failed before it could report.",
            causes=[report.fatal], fixes=[_doctor(req)])]
    findings.append(_finding("probe.report", Status.OK, "The agent reported"
                             + (f" in {report.elapsed_seconds:g} s." if report.elapsed_seconds
                                is not None else ".")))
    findings += _chain(report, req, arm, cluster)
    findings += [_check(c) for c in report.checks]
    return report, findings + _advice(report)


def _chain(report: ProbeReport, req: ProbeRequest, arm: ArmView,
           cluster: Cluster | None) -> list[ProbeFinding]:
    ns, sa = req.namespace, req.service_account
    missing = report.missing
    if "AZURE_FEDERATED_TOKEN_FILE" in missing:
        return [_finding(
            "probe.injection", Status.FAIL, "The workload identity webhook did not mutate the "
            f"pod: {', '.join(missing)} are missing and no token is projected.",
            causes=["The webhook is not installed or not running, or it did not match the pod "
                    f"(label {WI_USE_LABEL}: \"true\" is set)."],
            fixes=[f"AKS: az aks update -g {cluster.resource_group if cluster else 'RG'} "
                   f"-n {cluster.name if cluster else 'CLUSTER'} --enable-oidc-issuer "
                   "--enable-workload-identity", _doctor(req)], expected=[], actual=list(missing))]
    steps = [_finding("probe.injection", Status.OK, "The webhook injected the AZURE_* variables "
                                                    "and the projected token.")]
    if "AZURE_CLIENT_ID" in missing:
        return [*steps, _finding(
            "probe.client-id", Status.FAIL, f"The pod got no AZURE_CLIENT_ID: service account "
            f"{ns}/{sa} has no {WI_CLIENT_ID} annotation.",
            causes=["The webhook injects the client id from the service account's annotation."],
            fixes=[f"wi bind {sa} IDENTITY -n {ns}"])]
    client_id = (report.env.variables.get("AZURE_CLIENT_ID") if report.env else None)
    steps.append(_finding("probe.client-id", Status.OK, f"The pod got AZURE_CLIENT_ID "
                                                        f"{client_id}."))
    sa_token = report.tokens.service_account
    if sa_token is not None and sa_token.error:
        return [*steps, _finding(
            "probe.token-file", Status.FAIL, f"The projected token is unusable: "
                                             f"{sa_token.error}.",
            causes=[f"Token file {sa_token.path} (mode {sa_token.mode})."],
            fixes=["Run the pod with an fsGroup (wi probe uses 65534) so the token is readable.",
                   _doctor(req)])]
    if sa_token is not None:
        steps.append(_finding("probe.token-file", Status.OK, f"The projected token "
                                                             f"{sa_token.path} is readable."))
    return [*steps, _exchange(report, req, arm)]


def _exchange(report: ProbeReport, req: ProbeRequest, arm: ArmView) -> ProbeFinding:
    access = report.tokens.access_token or AccessToken()
    if access.ok:
        claims = access.claims
        mirid = (claims.xms_mirid if claims else None) or ""
        who = mirid.rsplit("/", 1)[-1] or (claims.appid if claims else None)
        return _finding("probe.token-exchange", Status.OK, "Workload identity works: the pod got "
                        f"an access token as {who} (object id "
                        f"{claims.oid if claims else None}).", expected="an access token",
                        actual=claims.to_json() if claims else None)
    error = access.error or ExchangeError()
    code = error.code
    seen = {"code": code, "description": error.description}
    if not code:
        return _finding("probe.token-exchange", Status.FAIL, "The token exchange did not complete: "
                        f"{error.description or 'no answer'}.",
                        causes=["The pod could not reach Entra ID or got an unexpected answer."],
                        fixes=["Check egress to the authority host (AZURE_AUTHORITY_HOST).",
                               _doctor(req)], expected="an access token", actual=seen)
    sa_token = report.tokens.service_account
    fresh = arm.propagation(sa_token.claims if sa_token else None, code)
    if fresh is not None and arm.identity is not None:
        if fresh.what == "identity":
            what = (f"identity {arm.identity.name} was {fresh.age}: Entra does not know its "
                    "client id yet")
        else:
            what = (f"the credential on {arm.identity.name} that matches the pod's token exactly "
                    f"was {fresh.age}: Entra does not see it yet")
        tried = (f" (still after {access.waited_seconds:g} s of retries)"
                 if access.waited_seconds else "")
        return _finding("probe.token-exchange", Status.WARN, "Entra refused the token exchange "
                        f"with {code}{tried}, but {what}. Re-run in a few minutes.",
                        causes=[PROPAGATING_CAUSE], fixes=[PROPAGATING_FIX],
                        expected="an access token", actual=seen)
    cause, fix = (error.explanation.cause, error.explanation.fix) if error.explanation \
        else explain(code, bind_command(req, report, arm))
    causes = [cause, error.description or ""]
    if code in PROPAGATION_CODES and not arm.readable:
        causes.append("If the credential was created or changed in the last few minutes, Entra "
                      "may not see it yet: re-run in a few minutes.")
    return _finding("probe.token-exchange", Status.FAIL, f"Entra refused the token exchange: "
                    f"{code}.", causes=causes, fixes=[fix, _doctor(req)],
                    expected="an access token", actual=seen)


def _check(check: DataPlaneCheck) -> ProbeFinding:
    where = f"{check.kind}: {check.action} on {check.target}"
    if check.ok:
        return _finding("probe.data-plane", Status.OK, f"{where}: {check.detail}", kind="check",
                        target=check.kind)
    error = check.error
    code = error.code if error else None
    return _finding("probe.data-plane", Status.FAIL,
                    f"{where} failed ({' '.join(str(x) for x in (check.status, code) if x)}).",
                    causes=[check.explanation.cause] if check.explanation else [],
                    fixes=[check.explanation.fix] if check.explanation else [], kind="check",
                    target=check.kind)


def _advice(report: ProbeReport) -> list[ProbeFinding]:
    out = []
    credential = report.credential
    if credential is not None and credential.shadows_workload_identity:
        out.append(_finding(
            "probe.credential-chain", Status.WARN, f"DefaultAzureCredential would use "
            f"{credential.first} first: it shadows workload identity.", kind="advice",
            fixes=["Remove AZURE_CLIENT_SECRET (or the certificate/password variables) from the "
                   "pod, or use WorkloadIdentityCredential."]))
    elif credential is not None and credential.workload_identity_configured:
        out.append(_finding("probe.credential-chain", Status.OK, "DefaultAzureCredential would "
                            f"use {credential.first} first.", kind="advice"))
    sa_token = report.tokens.service_account
    expires = sa_token.expires_in_seconds if sa_token else None
    if expires is not None:
        out.append(_finding("probe.token-expiry", Status.WARN if expires < 300 else Status.OK,
                            f"The projected token expires in {int(expires)}s.", kind="advice"))
    return out


# -- wi's explanations, attached to the report ----------------------------------------------------

def explained(report: ProbeReport, targets: ProbeTargets, arm: ArmView,
              bind: str | None = None) -> ProbeReport:
    """The report with a root cause and fix on a refused exchange and on each failed check
    (``bind``: the `wi bind` command with this service account and identity filled in)."""
    tokens = report.tokens
    access = tokens.access_token
    if access is not None and not access.ok and access.error and access.error.code:
        sa_token = tokens.service_account
        code = access.error.code
        fresh = arm.propagation(sa_token.claims if sa_token else None, code)
        why = Explained(PROPAGATING_CAUSE, PROPAGATING_FIX) if fresh else \
            Explained(*explain(code, bind))
        access = replace(access, error=replace(access.error, explanation=why))
        tokens = replace(tokens, access_token=access)
    oid = access.claims.oid if access is not None and access.claims else None
    checks = tuple(c if c.ok else replace(c, explanation=_explain_check(c, targets, oid))
                   for c in report.checks)
    return replace(report, tokens=tokens, checks=checks)


def _explain_check(check: DataPlaneCheck, targets: ProbeTargets,
                   oid: str | None) -> Explained:
    kind = check.kind
    role, where = _DATA_ROLES.get(kind, ("a data role", "the resource"))
    scope = targets.keyvault_id if kind == "keyvault" else targets.storage_id
    code = check.error.code if check.error else None
    message = check.error.message if check.error else None
    inner = check.error.inner if check.error else None
    if check.status == 403:
        return Explained(
            f"The identity has no data-plane role that allows '{check.action}' on {where} "
            f"({code}" + (f"/{inner}" if inner else "") + "); control-plane roles such as "
            "Reader do not grant data access.",
            f"az role assignment create --role \"{role}\" --assignee-object-id {oid} "
            f"--assignee-principal-type ServicePrincipal --scope {scope}")
    if check.status == 401:
        return Explained(f"{kind} refused the access token ({code}: {message}).",
                         "Check the token audience and the tenant of the resource.")
    if check.status == 404:
        return Explained(f"{check.target} does not exist ({code}).",
                         "Check the vault / container name.")
    if (code or "").startswith("AADSTS"):
        return Explained(*explain(code or ""))
    return Explained(f"The {kind} check failed: {code}: {message}.",
                     "Check network access from the pod to the resource (firewall, private "
                     "link).")
