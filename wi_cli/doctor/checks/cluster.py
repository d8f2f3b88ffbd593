"""Doctor checks of the cluster layer: is this AKS, and are the OIDC issuer and workload
identity turned on."""

from __future__ import annotations

from ..facts import Facts
from ..registry import Report, check

DOCS = "https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster"


def _update(mc: object, flags: str) -> str:
    rg = mc.id.split("/")[4]  # type: ignore[attr-defined]
    return f"az aks update -g {rg} -n {mc.name} {flags}"  # type: ignore[attr-defined]


@check("cluster.aks", "AKS cluster found", layer="cluster", needs=("aks",))
def aks_found(facts: Facts, report: Report) -> None:
    found = facts["aks"]
    mc = found["cluster"]
    if mc is None:
        report.skip(f"No AKS record for this cluster: {found['how']}; ARM cluster checks are "
                    "skipped.")
    else:
        report.ok(f"AKS cluster {mc.name} ({found['how']}).")


@check("cluster.oidc-issuer", "OIDC issuer enabled", layer="cluster", needs=("aks",),
       requires=("cluster.aks",), failure_modes=(13,), docs=DOCS)
def oidc_issuer(facts: Facts, report: Report) -> None:
    mc = facts["aks"]["cluster"]
    profile = mc.oidc_issuer_profile
    if profile and profile.enabled and profile.issuer_url:
        report.ok(f"Issuer {profile.issuer_url}")
        return
    report.fail("The OIDC issuer is off: tokens carry an internal issuer Entra cannot verify.",
                expected=True, actual=bool(profile and profile.enabled),
                fix="Turn the issuer on, then re-create the federated credentials (wi bind) "
                    "and restart the pods.",
                commands=[_update(mc, "--enable-oidc-issuer")])


@check("cluster.workload-identity", "Workload identity enabled", layer="cluster",
       needs=("aks",), requires=("cluster.aks",), failure_modes=(3,), docs=DOCS)
def workload_identity(facts: Facts, report: Report) -> None:
    mc = facts["aks"]["cluster"]
    sec = mc.security_profile
    enabled = bool(sec and sec.workload_identity and sec.workload_identity.enabled)
    if enabled:
        report.ok("securityProfile.workloadIdentity.enabled is true.")
        return
    report.fail("Workload identity is off: the webhook that injects the token and env vars is "
                "not installed.", expected=True, actual=False,
                fix="Turn it on, then restart the pods that should use it.",
                commands=[_update(mc, "--enable-workload-identity")])
