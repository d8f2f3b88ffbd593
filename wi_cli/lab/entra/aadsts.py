"""The AADSTS codes the lab's Entra answers with, and :class:`EntraError`, one such answer.

Each code carries its HTTP status, OAuth ``error`` and description; the comments say where each
text comes from (observed in a public issue, Entra's docs, or chosen where unverified).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_FIC_DOC_SUFFIX = (" Please check your federated identity credential Subject, Audience and Issuer "
                   "against the presented assertion. "
                   "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")


@dataclass(frozen=True)
class Aadsts:
    status: int
    error: str
    template: str  # str.format template of the text after "AADSTS{code}: "


# code -> HTTP status, OAuth "error", description template. Sources: NOTES.md §7 and
# synthesized/entra-token-responses.json; codes not there are marked with the reason chosen.
AADSTS: dict[int, Aadsts] = {
    # tenant and request shape
    # 90002's full text as observed (Azure/azure-cli#22145; james-gould/azure-keyvault-emulator#324)
    90002: Aadsts(400, "invalid_request",
                  "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                  "and are signing into the correct cloud. Check with your subscription "
                  "administrator, this may happen if there are no active subscriptions for the "
                  "tenant."),
    # the code is observed (microsoft/ARI#247); the wording is unverified
    900023: Aadsts(400, "invalid_request",
                   "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a "
                   "valid external domain."),
    9001023: Aadsts(400, "invalid_request",  # client credentials over /common etc.
                    "The grant type is not supported over the /common or /consumers endpoints. "
                    "Please use the /organizations or tenant-specific endpoint."),
    900144: Aadsts(400, "invalid_request",
                   "The request body must contain the following parameter: '{name}'."),
    70003: Aadsts(400, "unsupported_grant_type",
                  "The app requested an unsupported grant type '{grant_type}'."),
    7000218: Aadsts(401, "invalid_client",
                    "The request body must contain the following parameter: 'client_assertion' "
                    "or 'client_secret'."),
    7000219: Aadsts(400, "invalid_request", "'client_assertion_type' is missing or invalid."),
    70011: Aadsts(400, "invalid_scope",  # several resources (Azure/azure-sdk-for-net#9076)
                  "The provided value for the input parameter 'scope' isn't valid. "
                  "The scope {scope} isn't valid."),
    # one scope without "/.default": MicrosoftDocs/azure-docs#99862 (status/error unverified)
    1002012: Aadsts(400, "invalid_scope",
                    "The provided value for scope {scope} is not valid. Client credential flows "
                    "must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI)."),
    500011: Aadsts(400, "invalid_resource",
                   "The resource principal named {resource} was not found in the tenant named "
                   "{tenant}. This can happen if the application has not been installed by the "
                   "administrator of the tenant or consented to by any user in the tenant. You "
                   "might have sent your authentication request to the wrong tenant."),
    # the client
    700016: Aadsts(400, "unauthorized_client",
                   "Application with identifier '{client_id}' was not found in the directory "
                   "'{tenant}'. This can happen if the application has not been installed by the "
                   "administrator of the tenant or consented to by any user in the tenant. You may "
                   "have sent your authentication request to the wrong tenant."),
    # an expired secret (the operator's credential expiring), invalid_client: the wording as
    # observed (dotnet/sign#849, spencerwooo/onedrive-vercel-index#1051)
    7000222: Aadsts(401, "invalid_client",
                    "The provided client secret keys for app '{client_id}' are expired. Visit "
                    "the Azure portal to create new keys for your app: "
                    "https://aka.ms/NewClientSecret, or consider using certificate credentials "
                    "for added security: https://aka.ms/certCreds."),
    # a transient outage (fault knob): the code is in the Entra error-code reference
    # (MsodsServiceUnavailable); the status and 'temporarily_unavailable' pairing is unverified
    90033: Aadsts(503, "temporarily_unavailable",
                  "A transient error has occurred. Please try again."),
    7000215: Aadsts(401, "invalid_client",
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    "app '{client_id}'."),
    # the federated assertion, in the order they are checked
    50027: Aadsts(400, "invalid_request", "JWT token is invalid or malformed."),
    70025: Aadsts(401, "invalid_client",  # status unverified; Entra sends invalid_client as 401
                  "The client '{client_id}'({display_name}) has no configured federated identity "
                  "credentials."),
    700222: Aadsts(401, "invalid_client",
                   "AAD-issued tokens may not be used for federated identity flows."),
    70023: Aadsts(401, "invalid_client",  # observed 2023 as invalid_client (2022: invalid_request)
                  "External OIDC Provider token must have a lifetime of less than or equal to "
                  "1.01:00:00. Token issued at {iat}. Token expires on {exp}."),
    700211: Aadsts(401, "invalid_client",
                   "No matching federated identity record found for presented assertion issuer "
                   "'{iss}'." + _FIC_DOC_SUFFIX),
    700213: Aadsts(401, "invalid_client",
                   "No matching federated identity record found for presented assertion subject "
                   "'{sub}'." + _FIC_DOC_SUFFIX),
    700212: Aadsts(401, "invalid_client",
                   "No matching federated identity record found for presented assertion audience "
                   "'{aud}'." + _FIC_DOC_SUFFIX),
    # a subject that matches a FIC only case-insensitively: Azure/login#515, #517
    7002138: Aadsts(401, "invalid_client",
                    "No matching federated identity record found for presented assertion subject "
                    "'{sub}'. The subject matches with case-insensitive comparison, but not with "
                    "case-sensitive comparison."),
    50166: Aadsts(400, "invalid_request", "Request to External OIDC endpoint failed."),
    # the token's kid is not in the issuer's JWKS: Azure/azure-workload-identity#1232, #616
    7000272: Aadsts(401, "invalid_client",
                    "The certificate with identifier {kid} used to sign the federated credential "
                    "could not be found in the metadata of identity provider {iss}. Please "
                    "validate that your Identity Provider's metadata exposes the key used to sign "
                    "the incoming token."),
    # a bad signature or algorithm; what Entra says for a federated assertion is unverified
    # (700027 is observed for certificate assertions: Azure/azure-sdk-for-net#29007)
    700027: Aadsts(401, "invalid_client",
                   "Client assertion failed signature validation. [Reason - {reason}]"),
    700024: Aadsts(401, "invalid_client",
                   "Client assertion is not within its valid time range. Current time: {now}, "
                   "assertion valid from {nbf}, expiry time of assertion {exp}. Review the "
                   "documentation at https://docs.microsoft.com/azure/active-directory/develop/"
                   "active-directory-certificate-credentials ."),
    # the legacy combined code; the Entra doc names it for a credential still propagating
    # (entra-docs workload-identity-federation-considerations.md)
    70021: Aadsts(401, "unauthorized_client",
                  "No matching federated identity record found for presented assertion. "
                  "Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
                  "'{aud}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                  "workload-identity-federation"),
    # instance discovery
    50049: Aadsts(400, "invalid_instance", "Unknown or invalid instance."),
}


class EntraError(Exception):
    """One AADSTS answer: the code from :data:`AADSTS` and the values for its template."""

    def __init__(self, code: int, *, error: str | None = None, **fields: Any) -> None:
        self.code = code
        self.entry = AADSTS[code]
        self.error = error or self.entry.error
        self.description = f"AADSTS{code}: " + self.entry.template.format(**fields)
        super().__init__(self.description)
