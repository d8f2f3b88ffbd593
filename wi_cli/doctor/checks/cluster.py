"""Doctor checks of the cluster layer: is this AKS, and are the OIDC issuer and workload
identity turned on, and is the kubeconfig's API server the cluster ARM describes."""

from __future__ import annotations

from ...core.models import Cluster
from ..facts.cluster import AksRecord
from ..registry import Report, check

DOCS = "https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster"


def aks_update(mc: Cluster, flags: str) -> str:
    return f"az aks update -g {mc.resource_group} -n {mc.name} {flags}".rstrip()


@check("cluster.aks", "AKS cluster found", layer="cluster")
def aks_found(report: Report, aks: AksRecord) -> None:
    if aks.cluster is None:
        report.skip(f"No AKS record for this cluster: {aks.how}; ARM cluster checks are "
                    "skipped.")
    else:
        report.ok(f"AKS cluster {aks.cluster.name} ({aks.how}).")


@check("cluster.oidc-issuer", "OIDC issuer enabled", layer="cluster",
       requires=("cluster.aks",), failure_modes=(13,), docs=DOCS)
def oidc_issuer(report: Report, aks: AksRecord) -> None:
    mc = aks.cluster
    if mc is None:  # cluster.aks said why
        return
    if mc.oidc_issuer and mc.issuer_url:
        report.ok(f"Issuer {mc.issuer_url}")
        return
    report.fail("The OIDC issuer is off: tokens carry an internal issuer Entra cannot verify.",
                expected={"oidcIssuerProfile.enabled": True, "issuerURL": "an https URL"},
                actual={"oidcIssuerProfile.enabled": mc.oidc_issuer, "issuerURL": mc.issuer_url},
                fix="Turn the issuer on, then re-create the federated credentials (wi bind) "
                    "and restart the pods.",
                commands=[aks_update(mc, "--enable-oidc-issuer")])


@check("cluster.workload-identity", "Workload identity enabled", layer="cluster",
       requires=("cluster.aks",), failure_modes=(3,), docs=DOCS)
def workload_identity(report: Report, aks: AksRecord) -> None:
    mc = aks.cluster
    if mc is None:
        return
    if mc.workload_identity:
        report.ok("securityProfile.workloadIdentity.enabled is true.")
        return
    report.fail("Workload identity is off: the webhook that injects the token and env vars is "
                "not installed.", expected=True, actual=False,
                fix="Turn it on, then restart the pods that should use it.",
                commands=[aks_update(mc, "--enable-workload-identity")])


@check("cluster.issuer-consistent", "API server issues tokens with the AKS issuer",
       layer="cluster", requires=("cluster.oidc-issuer",), failure_modes=(12,), docs=DOCS)
def issuer_consistent(report: Report, aks: AksRecord, api_issuer: str | None) -> None:
    mc = aks.cluster
    if mc is None:
        return
    arm_issuer = mc.issuer_url
    if api_issuer is None:
        report.skip("The API server publishes no OIDC discovery document to compare with.")
        return
    if api_issuer == arm_issuer:
        report.ok(f"Tokens from this API server carry iss {api_issuer}, as AKS reports.")
        return
    report.fail(f"The API server in the kubeconfig issues tokens for {api_issuer}, but AKS "
                f"cluster {mc.name} reports the issuer {arm_issuer}: the kubeconfig points at "
                "another cluster (or the cluster was re-created), so federated credentials made "
                "from one do not match the tokens of the other.",
                expected=arm_issuer, actual=api_issuer,
                fix=f"Use the kubeconfig of {mc.name} (or name the cluster the kubeconfig "
                    "points at with --cluster/-g).",
                commands=[f"az aks get-credentials -g {mc.resource_group} -n {mc.name}"])
