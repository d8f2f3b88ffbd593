"""Azure SDK exceptions turned into one-sentence WiErrors with a fix."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

from ...core.errors import AzureError, AzureForbidden, AzureNotFound, CredentialError, ExitCode

_AADSTS = re.compile(r"(AADSTS\d+)[:\s]+([^\r\n]*)")
_AUTHZ = re.compile(r"perform action '(?P<action>[^']+)' over scope '(?P<scope>[^']+)'")


class AzureConflict(AzureError):
    exit_code = ExitCode.CONFLICT


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


_UNREACHABLE = re.compile(
    r"Failed to establish a new connection|Connection refused|Name or service not known|"
    r"nodename nor servname|getaddrinfo failed|timed out|Max retries exceeded|"
    r"CERTIFICATE_VERIFY_FAILED|SSLError|Connection reset|RemoteDisconnected", re.IGNORECASE)
_HOST = re.compile(r"host='(?P<host>[^']+)', port=(?P<port>\d+)")


_NETWORK_HINT = ("Check the network, the --cloud setting and any proxy or CA bundle "
                 "(REQUESTS_CA_BUNDLE); WI_CONNECT_TIMEOUT and WI_READ_TIMEOUT set how long wi "
                 "waits.")


def network_reason(text: str) -> str:
    """A transport failure in a few words: the TLS verdict, a timeout, a dropped connection."""
    low = text.lower()
    if "certificate_verify_failed" in low or "certificate verify failed" in low:
        return "TLS failed: the server's certificate is not trusted"
    if "ssl" in low:
        return "TLS failed"
    if "connecttimeout" in low or "connect timeout" in low:
        return "no connection within the connect timeout"
    if "timed out" in low:
        return "no answer within the read timeout"
    if any(s in low for s in ("reset by peer", "connection reset", "connection aborted",
                              "remotedisconnected", "remote end closed")):
        return "the connection was closed without an answer"
    if "refused" in low:
        return "connection refused"
    if any(s in low for s in ("name or service not known", "nodename nor servname",
                              "getaddrinfo failed")):
        return "the host name does not resolve"
    return _first_line(text)


def _unreachable(text: str, doing: str) -> AzureError | None:
    """A sign-in that failed because the authority could not be reached is a network problem
    (exit 4), not a missing credential."""
    m = _UNREACHABLE.search(text)
    if not m:
        return None
    h = _HOST.search(text)
    where = f"{h['host']}:{h['port']}" if h else "the sign-in endpoint"
    return AzureError(f"Cannot reach {where} (Entra ID sign-in) while {doing}: "
                      f"{network_reason(text)}.", [_NETWORK_HINT])


def _credential_error(exc: Exception, doing: str = "signing in to Azure"
                      ) -> CredentialError | AzureError:
    text = str(exc)
    m = _AADSTS.search(text)
    if m:
        return CredentialError(
            f"Entra ID refused the operator's credentials while {doing}: {m.group(1)}: "
            f"{m.group(2).strip()}",
            ["Check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or run 'az login' "
             "again."])
    unreachable = _unreachable(text, doing)
    if unreachable is not None:
        return unreachable
    return CredentialError(
        "No usable Azure credential was found.",
        ["Run 'az login', or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a "
         "service principal.", "Re-run with --debug to see what each credential tried."])


def map_http_error(exc: Exception, doing: str) -> AzureError | CredentialError:
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or _first_line(getattr(exc, "message", "") or str(exc))
    if status == 401:
        return CredentialError(
            f"Azure Resource Manager refused the access token while {doing} ({code}): {message}",
            ["Sign in again ('az login') or check the service principal's tenant and cloud "
             "(--cloud)."])
    if status == 403:
        m = _AUTHZ.search(message or "")
        if m:
            return AzureForbidden(
                f"The operator lacks permission '{m['action']}' on {m['scope']} while {doing}.",
                [f"Ask an Owner to grant a role that includes {m['action']} at that scope "
                 "(or above), then run the command again."], status=status, code=code)
        return AzureForbidden(f"Azure refused the request while {doing} ({code}): {message}",
                              status=status, code=code)
    if status == 404:
        return AzureNotFound(f"Not found while {doing}: {message}", status=status, code=code)
    if status == 409:
        return AzureConflict(f"Azure reported a conflict while {doing} ({code}): {message}",
                             ["Another change to the same resource is in progress; run the "
                              "command again in a moment."], status=status, code=code)
    if status == 429:
        return AzureError(
            f"Azure kept throttling requests (429 {code or 'TooManyRequests'}) while {doing}, "
            "and the retries ran out.",
            ["Wait a minute and run the command again."], status=status, code=code)
    if status is not None and status >= 500:
        return AzureError(
            f"Azure Resource Manager failed with {status} {code or ''} while {doing} and the "
            "retries ran out.".replace("  ", " "),
            ["This is usually temporary: run the command again in a few minutes."],
            status=status, code=code)
    return AzureError(f"Azure refused the request while {doing} ({status} {code}): {message}",
                      status=status, code=code)


@contextmanager
def azure_errors(doing: str) -> Iterator[None]:
    """Translate azure-core/azure-identity exceptions raised inside the block."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    from .credential import EntraUnavailable

    try:
        yield
    except EntraUnavailable as exc:
        raise AzureError(f"Entra ID failed with HTTP {exc.status} while signing in for {doing}, "
                         "and the retries ran out.",
                         ["This is usually temporary: run the command again in a few minutes."],
                         status=exc.status) from None
    except ClientAuthenticationError as exc:
        if getattr(exc, "status_code", None) == 401 and getattr(exc, "response", None) is not None \
                and getattr(exc, "error", None) is not None:
            raise map_http_error(exc, doing) from None
        raise _credential_error(exc, doing) from None
    except HttpResponseError as exc:
        raise map_http_error(exc, doing) from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise AzureError(f"Could not reach Azure Resource Manager while {doing}: "
                         f"{network_reason(str(exc))}.", [_NETWORK_HINT]) from None
    except Exception as exc:  # azure-identity raises CredentialUnavailableError (not HTTP)
        if type(exc).__name__ == "CredentialUnavailableError":
            raise _credential_error(exc, doing) from None
        raise
