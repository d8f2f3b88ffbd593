"""The operator's Azure credential: DefaultAzureCredential pointed at the chosen cloud."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ...core.cloud import Cloud, ca_bundle
from ...core.config import Timeouts

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


def transport_options(env: Mapping[str, str], timeouts: Timeouts | None = None) -> dict[str, Any]:
    """For every Azure HTTP call: the CA bundle the user configured, if any, and the connect and
    read timeouts (azure-core's transport options)."""
    bundle = ca_bundle(env)
    options: dict[str, Any] = {"connection_verify": bundle} if bundle else {}
    if timeouts is not None:
        options.update(connection_timeout=timeouts.connect, read_timeout=timeouts.read)
    return options


# 429 and 5xx are the SDK retry policy's job (it honours Retry-After); keep it short for a CLI.
# The same policy for ARM and for signing in at Entra.
RETRY = {"retry_total": 4, "retry_backoff_factor": 0.5, "retry_backoff_max": 8}

SECRET_VARS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")


def operator_credential(cloud: Cloud, env: Mapping[str, str],
                        timeouts: Timeouts | None = None) -> "TokenCredential":
    """Service principal env vars, workload identity, managed identity, Azure CLI… in the
    SDK's order, against the cloud's authority. MSAL's instance discovery only knows Microsoft's
    hosts, so it is turned off for any other authority (Azure Stack, the lab).

    The service principal of ``env`` (wi's settings, not necessarily ``os.environ``: `wi demo`
    runs against its own lab) is built here as DefaultAzureCredential's first link would build
    it from the process environment; anything else is DefaultAzureCredential itself."""
    seen = _EntraStatus()
    kwargs: dict[str, Any] = {"authority": cloud.authority_host, "raw_response_hook": seen,
                              **transport_options(env, timeouts), **RETRY}
    if not cloud.well_known_authority:
        kwargs["disable_instance_discovery"] = True
    if all(env.get(var) for var in SECRET_VARS) and not env.get("AZURE_TOKEN_CREDENTIALS"):
        from azure.identity import ClientSecretCredential

        return _Watched(ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"],
                                               env["AZURE_CLIENT_SECRET"], **kwargs), seen)
    from azure.identity import DefaultAzureCredential

    return _Watched(DefaultAzureCredential(**kwargs), seen)


class EntraUnavailable(Exception):
    """Entra answered the sign-in with 429 or 5xx until the retries ran out. MSAL words some of
    these as a configuration problem ("Unable to get authority configuration" when the
    discovery document is throttled), so the status is taken from the wire."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _EntraStatus:
    """azure-core's raw_response_hook: the last throttling or server error Entra answered (kept
    until Entra answers otherwise: MSAL replays a 429/5xx to the next identical requests for
    its Retry-After without calling Entra, msal/throttled_http_client.py)."""

    def __init__(self) -> None:
        self.status: int | None = None

    def __call__(self, response: Any) -> None:
        status = response.http_response.status_code
        self.status = status if status == 429 or status >= 500 else None


class _Watched:
    """The credential, with Entra's own outages told apart from refused credentials."""

    def __init__(self, inner: Any, seen: _EntraStatus) -> None:
        self.inner = inner
        self.seen = seen

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            return self.inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError:
            if self.seen.status is not None:
                raise EntraUnavailable(self.seen.status) from None
            raise

    def close(self) -> None:
        self.inner.close()
