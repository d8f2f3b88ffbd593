"""Which Azure cloud to talk to: the public, China and US Government clouds, or a custom cloud
described by an ARM metadata endpoint (Azure Stack, air-gapped clouds, the local lab).

A custom cloud's ARM token scope is ``authentication.audiences[0] + "/.default"``, the rule the
Azure CLI uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from .errors import ConfigError

@dataclass(frozen=True)
class Cloud:
    name: str
    arm_endpoint: str  # https://management.azure.com/
    authority_host: str  # https://login.microsoftonline.com/
    arm_scope: str  # https://management.azure.com/.default
    well_known_authority: bool = True  # False: MSAL instance discovery must be turned off

    @property
    def arm_base_url(self) -> str:
        return self.arm_endpoint.rstrip("/")


KNOWN_CLOUDS: dict[str, Cloud] = {
    "azurecloud": Cloud("AzureCloud", "https://management.azure.com/",
                        "https://login.microsoftonline.com/",
                        "https://management.azure.com/.default"),
    "azurechinacloud": Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn/",
                             "https://login.chinacloudapi.cn/",
                             "https://management.chinacloudapi.cn/.default"),
    "azureusgovernment": Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net/",
                               "https://login.microsoftonline.us/",
                               "https://management.core.usgovcloudapi.net/.default"),
}
_WELL_KNOWN_LOGIN_HOSTS = {"login.microsoftonline.com", "login.chinacloudapi.cn",
                           "login.microsoftonline.us", "login.partner.microsoftonline.cn",
                           "login.windows.net", "login.microsoft.com", "sts.windows.net"}


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def cloud_from_metadata(doc: Any, url: str) -> Cloud:
    """Build a Cloud from an ARM metadata document: the 2022-09-01 object or the older list."""
    if isinstance(doc, list):
        host = urlsplit(url).hostname
        matches = [c for c in doc if isinstance(c, dict)
                   and urlsplit(str(c.get("resourceManager", ""))).hostname == host]
        if not matches and len(doc) == 1:
            matches = doc
        if not matches:
            raise ConfigError(f"The cloud metadata at {url} lists no cloud whose resource manager "
                              f"is {host}.")
        doc = matches[0]
    if not isinstance(doc, dict):
        raise ConfigError(f"The cloud metadata at {url} is not an ARM metadata document.")
    auth = doc.get("authentication")
    auth = auth if isinstance(auth, dict) else {}
    login, arm, audiences = auth.get("loginEndpoint"), doc.get("resourceManager"), \
        auth.get("audiences")
    audience = audiences[0] if isinstance(audiences, list) and audiences else None
    if not all(isinstance(v, str) and v for v in (login, arm, audience)):
        raise ConfigError(f"The cloud metadata at {url} lacks resourceManager or "
                          f"authentication.loginEndpoint/audiences (a list of URLs).")
    for what, value in (("resourceManager", arm), ("authentication.loginEndpoint", login),
                        ("authentication.audiences[0]", audience)):
        if _scheme(str(value)) != "https":
            raise ConfigError(f"The cloud metadata at {url} gives a non-https {what}: {value}.")
    login, arm, audience = str(login), str(arm), str(audience)
    return Cloud(
        name=str(doc.get("name") or urlsplit(url).hostname),
        arm_endpoint=_with_slash(arm),
        authority_host=_with_slash(login),
        arm_scope=audience + "/.default",
        well_known_authority=urlsplit(login).hostname in _WELL_KNOWN_LOGIN_HOSTS,
    )


def _scheme(value: str) -> str:
    try:
        return urlsplit(value).scheme
    except ValueError:  # e.g. an invalid IPv6 host
        return ""


def ca_bundle(env: Mapping[str, str]) -> str | None:
    """The CA bundle the user configured for HTTPS, if any (REQUESTS_CA_BUNDLE, SSL_CERT_FILE)."""
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if env.get(var):
            return env[var]
    return None


def resolve_cloud(value: str | None, fetch: Callable[[str], Any]) -> Cloud:
    """A cloud name, or the https URL of an ARM metadata endpoint, which ``fetch`` reads
    (adapters/web.py: ``Web(env).cloud_metadata``)."""
    value = (value or "AzureCloud").strip()
    known = KNOWN_CLOUDS.get(value.lower())
    if known:
        return known
    scheme = urlsplit(value).scheme
    if scheme == "https":
        return cloud_from_metadata(fetch(value), value)
    if scheme:
        raise ConfigError(f"The cloud metadata URL must use https: {value}.")
    names = ", ".join(c.name for c in KNOWN_CLOUDS.values())
    raise ConfigError(f"Unknown cloud {value!r}.",
                      [f"Use one of {names}, or the https URL of an ARM metadata endpoint "
                       "(…/metadata/endpoints?api-version=2022-09-01)."])
