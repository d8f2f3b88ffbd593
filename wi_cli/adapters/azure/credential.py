"""The operator's Azure credential: DefaultAzureCredential pointed at the chosen cloud."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ...core.cloud import Cloud, ca_bundle

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


def transport_options(env: Mapping[str, str]) -> dict[str, Any]:
    """TLS trust for every Azure HTTP call: the CA bundle the user configured, if any."""
    bundle = ca_bundle(env)
    return {"connection_verify": bundle} if bundle else {}


SECRET_VARS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")


def operator_credential(cloud: Cloud, env: Mapping[str, str]) -> "TokenCredential":
    """Service principal env vars, workload identity, managed identity, Azure CLI… in the
    SDK's order, against the cloud's authority. MSAL's instance discovery only knows Microsoft's
    hosts, so it is turned off for any other authority (Azure Stack, the lab).

    The service principal of ``env`` (wi's settings, not necessarily ``os.environ``: `wi demo`
    runs against its own lab) is built here as DefaultAzureCredential's first link would build
    it from the process environment; anything else is DefaultAzureCredential itself."""
    kwargs: dict[str, Any] = {"authority": cloud.authority_host, **transport_options(env)}
    if not cloud.well_known_authority:
        kwargs["disable_instance_discovery"] = True
    if all(env.get(var) for var in SECRET_VARS) and not env.get("AZURE_TOKEN_CREDENTIALS"):
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"],
                                      env["AZURE_CLIENT_SECRET"], **kwargs)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(**kwargs)
