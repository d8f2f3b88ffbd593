"""What an AADSTS code from a workload-identity token exchange means, and how to fix it.

One table, shared by `wi doctor`'s live check and `wi probe`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CODE = re.compile(r"AADSTS(\d+)")


@dataclass(frozen=True)
class Explanation:
    code: str  # "AADSTS700213"
    cause: str
    fix: str


_TABLE: dict[str, tuple[str, str]] = {
    "700016": ("The client id (the service account's azure.workload.identity/client-id) is not "
               "an application or managed identity in this tenant: often a principalId, a "
               "deleted identity or the wrong tenant.",
               "Annotate the service account with the identity's clientId "
               "(wi bind SA IDENTITY -n NS)."),
    "70025": ("The identity behind the client id has no federated identity credentials.",
              "Create one for this service account: wi bind SA IDENTITY -n NS."),
    "700211": ("No federated credential on the identity has exactly the token's issuer "
               "(a missing trailing '/', a re-created cluster, or a credential for another "
               "cluster).",
               "Re-create the federated credential with the cluster's issuer URL, exactly: "
               "wi bind SA IDENTITY -n NS."),
    "700212": ("The token's audience does not match the federated credential's audience.",
               "Use api://AzureADTokenExchange on both sides (webhook --audience and the "
               "credential)."),
    "700213": ("No federated credential on the identity has exactly the token's subject "
               "(system:serviceaccount:NAMESPACE:NAME; the match is case-sensitive).",
               "Create a federated credential for this exact namespace and service account: "
               "wi bind SA IDENTITY -n NS."),
    # AADSTS7002138: Azure/login#515
    "7002138": ("The federated credential's subject differs from the token's only in case (the "
                "match is case-sensitive).",
                "Re-create the credential with the exact subject: wi bind SA IDENTITY -n NS."),
    "70021": ("No federated identity record matches the token (issuer, subject or audience): "
              "Entra's legacy answer for a credential it does not see, also right after a "
              "credential is created (it propagates for a few minutes).",
              "If the credential was just created or changed, wait a few minutes and retry; "
              "otherwise run wi doctor to see which part differs."),
    "70023": ("The token lives longer than Entra accepts (more than 1 day + 1 hour): usually "
              "the long-lived default service-account token instead of the projected one.",
              "Read the token from $AZURE_FEDERATED_TOKEN_FILE (WorkloadIdentityCredential)."),
    "700024": ("The token is outside its valid time range: a stale token file kept in memory, or "
               "clock skew on the node.",
               "Re-read the token file for each exchange (current SDKs do); fix node time sync."),
    "50166": ("Entra could not fetch the issuer's OIDC discovery document or its JWKS.",
              "AKS: 'az aks update' to reconcile the issuer; self-managed: publish "
              "ISSUER/.well-known/openid-configuration and the JWKS publicly."),
    # the same failure under other codes: 90061 (Azure/azure-workload-identity#605), 501661
    # (Azure/AKS#4029, Azure/login#283)
    "90061": ("Entra could not fetch the issuer's OIDC discovery document or its JWKS (the "
              "issuer URL is not public, or its documents are missing).",
              "AKS: 'az aks update' to reconcile the issuer; self-managed: publish "
              "ISSUER/.well-known/openid-configuration and the JWKS publicly."),
    "501661": ("Entra could not fetch the issuer's OIDC discovery document or its JWKS (the "
               "issuer URL is not public, or its documents are missing).",
               "AKS: 'az aks update' to reconcile the issuer; self-managed: publish "
               "ISSUER/.well-known/openid-configuration and the JWKS publicly."),
    # AADSTS7000272: Azure/azure-workload-identity#1232
    "7000272": ("The key that signed the token (its kid) is not in the issuer's published JWKS: "
                "the signing keys were rotated (twice within 24 h), or the token is older than "
                "the keys.",
                "Restart the pods to get fresh tokens; AKS: 'az aks update' to republish the "
                "keys, and rotate signing keys at most once a day."),
    "700027": ("The token's signature does not verify with the issuer's published keys "
               "(the token comes from another issuer, or is not RS256-signed).",
               "Use the projected token the webhook mounts; restart the pod to get a fresh one."),
    "90002": ("The tenant in the request does not exist in this cloud.",
              "Fix or remove the azure.workload.identity/tenant-id annotation (or "
              "AZURE_TENANT_ID)."),
    # microsoft/ARI#247
    "900023": ("The tenant in the request is neither a tenant GUID nor a valid domain name.",
               "Set azure.workload.identity/tenant-id (or AZURE_TENANT_ID) to the tenant's GUID "
               "or its verified domain (contoso.onmicrosoft.com)."),
    "50027": ("The token file does not hold a valid JWT.",
              "Point AZURE_FEDERATED_TOKEN_FILE at the projected token (let the webhook set it)."),
    "700222": ("An Entra-issued token was used as the federated assertion.",
               "Use the Kubernetes projected service-account token."),
    "7000215": ("A client secret was sent and it is wrong: AZURE_CLIENT_SECRET in the "
                "environment shadows workload identity.",
                "Remove AZURE_CLIENT_SECRET from the pod, or build WorkloadIdentityCredential "
                "explicitly."),
    "500011": ("The requested resource (scope) is not known in the tenant.",
               "Check the scope (e.g. https://management.azure.com/.default)."),
    "70011": ("The requested scope is not valid (client credentials take one resource).",
              "Request exactly one RESOURCE/.default scope."),
    # MicrosoftDocs/azure-docs#99862
    "1002012": ("The scope lacks the '/.default' suffix, which client-credential (workload "
                "identity) token requests need.",
                "Request RESOURCE/.default (e.g. https://management.azure.com/.default), not "
                "a named permission."),
}


def code_in(text: str) -> str | None:
    """The first AADSTS code in an error text, as 'AADSTS700213'."""
    m = _CODE.search(text or "")
    return f"AADSTS{m.group(1)}" if m else None


BIND = "wi bind SA IDENTITY -n NS"  # the fix's command, filled in by whoever knows the values


def explain(code: str, bind: str | None = None) -> tuple[str, str]:
    """(root cause, fix) for an AADSTS code ('AADSTS700213' or '700213'); ``bind`` is the
    `wi bind` command with this service account and identity filled in, when known."""
    number = code.upper().removeprefix("AADSTS")
    cause, fix = _TABLE.get(number, ("Entra refused the token exchange.",
                                     "Run wi doctor to check every link of the chain."))
    return cause, fix.replace(BIND, bind) if bind else fix


def explanation(text: str) -> Explanation | None:
    code = code_in(text)
    if not code:
        return None
    cause, fix = explain(code)
    return Explanation(code, cause, fix)
