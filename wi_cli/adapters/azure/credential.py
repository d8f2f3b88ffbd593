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


def operator_credential(cloud: Cloud, env: Mapping[str, str]) -> "TokenCredential":
    """Service principal env vars, workload identity, managed identity, Azure CLI… in the
    SDK's order, against the cloud's authority. MSAL's instance discovery only knows Microsoft's
    hosts, so it is turned off for any other authority (Azure Stack, the lab)."""
    from azure.identity import DefaultAzureCredential

    kwargs: dict[str, Any] = {"authority": cloud.authority_host, **transport_options(env)}
    if not cloud.well_known_authority:
        kwargs["disable_instance_discovery"] = True
    return DefaultAzureCredential(**kwargs)
