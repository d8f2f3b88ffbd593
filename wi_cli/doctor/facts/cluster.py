"""Facts about the cluster: what it is, which issuer its tokens carry, and what Entra finds at
that issuer."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.cloud import Cloud
from ...core.config import Settings
from ...core.errors import ConfigError, Unreadable
from ...core.models import Cluster, cluster_behind
from . import Context, Scope, fact

IN_CLUSTER_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class AksRecord:
    """The AKS record of this cluster, if any, and how it was found (or why not)."""

    cluster: Cluster | None
    how: str


@dataclass(frozen=True)
class Issuer:
    """The issuer the cluster's tokens carry, and where doctor learned it."""

    url: str | None
    source: str | None


@dataclass(frozen=True)
class IssuerDocuments:
    """What Entra sees at the issuer."""

    url: str | None
    discovery_url: str | None = None
    issuer: str | None = None
    jwks_uri: str | None = None
    kids: tuple[str, ...] = ()
    problem: str | None = None


@fact
def scope(ctx: Context) -> Scope:
    return ctx.scope


@fact
def settings(ctx: Context) -> Settings:
    return ctx.settings


@fact
def cloud(ctx: Context) -> Cloud:
    return ctx.cloud


@fact
def kube_version(ctx: Context) -> str:
    return ctx.kube.version()


@fact
def azure_access(ctx: Context) -> bool:
    """Signed in to Azure (False: no subscription is configured)."""
    if ctx.azure is None:
        return False
    ctx.azure.sign_in()
    return True


@fact
def api_issuer(ctx: Context) -> str | None:
    """The issuer the API server puts in service-account tokens (its discovery document)."""
    return ctx.kube.issuer()


@fact
def aks(ctx: Context, api_issuer: str | None = None) -> AksRecord:
    azure, scope_ = ctx.azure, ctx.scope
    if azure is None:
        return AksRecord(None, "no Azure subscription configured")
    named = ((scope_.cluster, scope_.resource_group) if scope_.cluster and scope_.resource_group
             else ctx.state_cluster)
    if named:
        name, rg = named
        found = azure.clusters.get(rg, name)
        if found is None and scope_.cluster:  # named on the command line: as bind says it
            raise ConfigError(f"No AKS cluster {name!r} in resource group {rg}.",
                              ["Check --cluster and --resource-group ('az aks list -o table')."])
        if found is None:
            return AksRecord(None, f"AKS cluster {name} in {rg} not found")
        return AksRecord(found, "named on the command line" if scope_.cluster else
                         "from the 'wi provision' state")
    return AksRecord(*cluster_behind(azure.clusters.list(), ctx.kube.server, api_issuer))


@fact
def cluster_issuer(aks: AksRecord | None = None, api_issuer: str | None = None) -> Issuer:
    """The issuer tokens carry: AKS's issuerURL when it is on, else the API server's own."""
    mc = aks.cluster if aks else None
    if mc is not None and mc.issuer_url:
        return Issuer(mc.issuer_url, f"AKS cluster {mc.name}")
    return Issuer(api_issuer, "the API server's discovery document" if api_issuer else None)


@fact
def issuer_documents(ctx: Context, cluster_issuer: Issuer) -> IssuerDocuments:
    url = cluster_issuer.url
    if not url or url.rstrip("/") == IN_CLUSTER_ISSUER:
        return IssuerDocuments(url, problem="not public")
    discovery_url = url.rstrip("/") + "/.well-known/openid-configuration"
    try:
        doc = ctx.web.get_json(discovery_url)
    except Unreadable as exc:
        return IssuerDocuments(url, discovery_url,
                               problem=f"{discovery_url} could not be read ({exc.message})")
    issuer = doc.get("issuer") if isinstance(doc, dict) else None
    jwks_uri = doc.get("jwks_uri") if isinstance(doc, dict) else None
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
        return IssuerDocuments(url, discovery_url, issuer, None, problem=(
            f"the discovery document has no https jwks_uri ({jwks_uri!r})"))
    try:
        jwks = ctx.web.get_json(jwks_uri)
    except Unreadable as exc:
        return IssuerDocuments(url, discovery_url, issuer, jwks_uri,
                               problem=f"the JWKS {jwks_uri} could not be read ({exc.message})")
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    kids = tuple(str(k.get("kid")) for k in keys or [] if isinstance(k, dict))
    return IssuerDocuments(url, discovery_url, issuer, jwks_uri, kids,
                           None if kids else f"the JWKS {jwks_uri} holds no keys")
