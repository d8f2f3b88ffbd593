"""The Entra server's router: which handler serves which URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http import Router
from .discovery import Discovery
from .replies import error_page
from .token import TokenEndpoint

if TYPE_CHECKING:
    from ..runtime import Lab


def build_router(lab: "Lab") -> Router:
    """Handlers read URLs, keys and the Azure state from the lab at request time."""
    discovery, token = Discovery(lab), TokenEndpoint(lab)
    r = Router(ignore_case=True)
    r.add("GET", r"/common/discovery/instance", discovery.instance_discovery)
    r.add("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration",
          discovery.openid_configuration)
    r.add("GET", r"/(?P<tenant>[^/]+)/\.well-known/openid-configuration",
          discovery.openid_configuration_v1)
    r.add("GET", r"/(?P<tenant>[^/]+)/discovery/v2\.0/keys", discovery.keys)
    r.add("GET", r"/(?P<tenant>[^/]+)/discovery/keys", discovery.keys)
    r.add("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", token.token)
    r.add("GET", r"/error", error_page)
    return r
