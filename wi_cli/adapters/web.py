"""Public JSON documents over HTTPS (an OIDC issuer's discovery document and JWKS, which Entra
fetches too), trusting the CA bundle the user configured."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from ..core.cloud import Cloud, ca_bundle, resolve_cloud
from ..core.errors import ConfigError, RemoteError, Unreadable

FETCH_TIMEOUT_SECONDS = 10.0  # the most wi waits for a public document (WI_READ_TIMEOUT lowers it)


class Web:
    def __init__(self, env: Mapping[str, str], timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
        self.env = env
        self.timeout = timeout

    def get_json(self, url: str) -> Any:
        """The document at ``url``, or :class:`Unreadable` saying why not (HTTP 404, a DNS
        failure, not JSON...)."""
        bundle = ca_bundle(self.env)
        ctx = ssl.create_default_context(cafile=bundle) if bundle else \
            ssl.create_default_context()
        req = Request(url, headers={"Accept": "application/json", "User-Agent": "wi-cli"})
        try:
            with urlopen(req, context=ctx, timeout=self.timeout) as resp:  # noqa: S310
                return json.loads(resp.read())
        except HTTPError as exc:
            raise Unreadable(f"HTTP {exc.code}", status=exc.code,
                             transient=exc.code == 429 or exc.code >= 500) from None
        except URLError as exc:
            raise Unreadable(str(exc.reason), unresolved=_no_such_host(exc.reason),
                             transient=_passing(exc.reason)) from None
        except ValueError:
            raise Unreadable("not JSON") from None
        except OSError as exc:
            raise Unreadable(f"{type(exc).__name__}: {exc}", transient=_passing(exc)) from None

    def cloud_metadata(self, url: str) -> Any:
        """An ARM metadata document (``{arm}/metadata/endpoints``), as the Azure CLI reads it."""
        try:
            return self.get_json(url)
        except Unreadable as exc:
            if exc.message == "not JSON":
                raise ConfigError(f"The cloud metadata at {url} is not JSON.") from None
            raise RemoteError(f"Could not read the cloud metadata at {url}: {exc.message}.",
                              ["Check the URL and your network; for a private CA set "
                               "REQUESTS_CA_BUNDLE to its PEM file."]) from None


def _passing(reason: object) -> bool:
    """A timeout or a dropped connection: the next try may work."""
    return isinstance(reason, (TimeoutError, ConnectionResetError, ConnectionAbortedError))


def _no_such_host(reason: object) -> bool:
    """The name does not exist (EAI_NONAME, EAI_NODATA), not a resolver that failed for now
    (EAI_AGAIN) nor a refused connection."""
    codes = {getattr(socket, n) for n in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, n)}
    return isinstance(reason, socket.gaierror) and reason.errno in codes


def cloud(value: str | None, env: Mapping[str, str],
          timeout: float = FETCH_TIMEOUT_SECONDS) -> Cloud:
    """The cloud a name or an ARM metadata URL describes (the URL read over HTTPS)."""
    return resolve_cloud(value, Web(env, timeout).cloud_metadata)
