"""Doctor checks of the cluster layer: is this AKS, and are the OIDC issuer and workload
identity turned on, and is the kubeconfig's API server the cluster ARM describes."""

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


@check("cluster.issuer-consistent", "API server issues tokens with the AKS issuer",
       layer="cluster", needs=("aks", "api_issuer"), requires=("cluster.oidc-issuer",),
       failure_modes=(12,), docs=DOCS)
def issuer_consistent(facts: Facts, report: Report) -> None:
    mc = facts["aks"]["cluster"]
    arm_issuer = mc.oidc_issuer_profile.issuer_url
    api_issuer = facts["api_issuer"]
    if api_issuer is None:
        report.skip("The API server publishes no OIDC discovery document to compare with.")
        return
    if api_issuer == arm_issuer:
        report.ok(f"Tokens from this API server carry iss {api_issuer}, as AKS reports.")
        return
    rg = mc.id.split("/")[4]
    report.fail(f"The API server in the kubeconfig issues tokens for {api_issuer}, but AKS "
                f"cluster {mc.name} reports the issuer {arm_issuer}: the kubeconfig points at "
                "another cluster (or the cluster was re-created), so federated credentials made "
                "from one do not match the tokens of the other.",
                expected=arm_issuer, actual=api_issuer,
                fix=f"Use the kubeconfig of {mc.name} (or name the cluster the kubeconfig "
                    "points at with --cluster/-g).",
                commands=[f"az aks get-credentials -g {rg} -n {mc.name}"])
