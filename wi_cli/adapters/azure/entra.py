"""The federated token exchange a pod's SDK does (client credentials with a client assertion),
done by wi itself for doctor's live check: azure-identity's ClientAssertionCredential against the
cloud's authority. Only the access token's claims and Entra's words leave this module."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ...core.aadsts import explanation
from ...core.cloud import Cloud
from ...core.config import Timeouts
from ...core.models import TokenExchange
from ...core.redact import redact_text
from .credential import transport_options

ACCESS_TOKEN_CLAIMS = ("aud", "iss", "oid", "tid", "appid", "azp", "xms_mirid", "exp")


class Entra:
    def __init__(self, cloud: Cloud, env: Mapping[str, str],
                 timeouts: Timeouts | None = None) -> None:
        self.cloud = cloud
        self.env = env
        self.timeouts = timeouts

    def exchange(self, tenant_id: str, client_id: str, assertion: str) -> TokenExchange:
        """Trade a service-account token for an ARM access token, as the pod would."""
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
        from azure.identity import ClientAssertionCredential

        # the caller reports the refusal; the SDK would also log it to stderr at every retry
        logging.getLogger("azure.identity._internal.get_token_mixin").setLevel(logging.ERROR)
        kwargs: dict[str, Any] = {"authority": self.cloud.authority_host,
                                  **transport_options(self.env, self.timeouts)}
        if not self.cloud.well_known_authority:
            kwargs["disable_instance_discovery"] = True
        credential = ClientAssertionCredential(tenant_id, client_id, lambda: assertion, **kwargs)
        try:
            access = credential.get_token(self.cloud.arm_scope)
        except ClientAuthenticationError as exc:
            text = entra_words(str(exc.message or exc))
            found = explanation(text)
            return TokenExchange(code=found.code if found else None, message=text)
        except (ServiceRequestError, ValueError) as exc:
            return TokenExchange(message=redact_text(
                f"could not reach Entra at {self.cloud.authority_host}: {exc}"))
        finally:
            credential.close()
        return TokenExchange(claims=access_claims(access.token))


def access_claims(token: str) -> dict[str, Any]:
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return {k: claims[k] for k in ACCESS_TOKEN_CLAIMS if k in claims}


def entra_words(text: str) -> str:
    """The AADSTS sentence(s) without the SDK's preamble and the trace/correlation ids."""
    start = text.find("AADSTS")
    text = text[start:] if start >= 0 else text
    for marker in (" Trace ID:", "\r\nTrace ID:", "\nTrace ID:"):
        text = text.split(marker)[0]
    return redact_text(" ".join(text.split()))
