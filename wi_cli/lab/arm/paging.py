"""ARM's lists: pages of ``{"value": [...]}`` with an absolute ``nextLink`` carrying the skip
token, and collection reads filtered to what the caller may read."""

from __future__ import annotations

import base64
from typing import Any, Callable, Iterable
from urllib.parse import quote, urlencode, urlsplit

from ..http import Request, Response, json_response
from .frontdoor import Arm, ArmError, Call


def page(call: Call, items: list[dict[str, Any]], size: int,
         token_name: str = "$skiptoken") -> Response:
    """One page of ``items`` from the offset in the request's skip token (``token_name``, read
    case-insensitively; the next link spells it that way)."""
    size = max(1, int(size))
    start = _decode_skiptoken(call.req.arg_ci(token_name))
    body: dict[str, Any] = {"value": items[start:start + size]}
    if start + size < len(items):
        body["nextLink"] = _next_link(call.req, token_name, start + size)
    return json_response(200, body)


def _decode_skiptoken(token: str | None) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode() + b"==").decode()[2:]))
    except (ValueError, UnicodeDecodeError):
        raise ArmError(400, "InvalidSkipToken",
                       f"The skip token '{token}' is invalid.") from None


def _next_link(req: Request, token_name: str, offset: int) -> str:
    token = base64.urlsafe_b64encode(f"o:{offset}".encode()).rstrip(b"=").decode()
    params = [(k, v) for k, values in req.query.items() for v in values
              if k.lower() != token_name.lower()]
    params.append((token_name, token))
    path = urlsplit(req.raw_path).path
    return f"{req.server_url}{path}?{urlencode(params, quote_via=quote, safe='$')}"


def _located(x: Any) -> tuple[str, str, str]:
    return x.subscription_id, x.resource_group, x.id


def list_resources(arm: Arm, call: Call, rtype: str, resources: Iterable[Any],
                   body: Callable[[Any], dict[str, Any]],
                   locate: Callable[[Any], tuple[str, str, str]] = _located) -> Response:
    """List by RG or subscription; a caller without read at the collection's scope sees only
    the resources it may read (ARM's filtered collection read), not a 403. ``resources`` is
    iterated under the state lock; ``locate`` gives (subscription, resource group, id)."""
    p = call.req.params
    sub, rg = p["sub"], p.get("rg")
    scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{rg}" if rg else "")
    action = f"{rtype}/read"
    with arm.state.lock:
        if rg:
            arm.authorize(call, action, scope)
            arm.require_rg(sub, rg)
        whole = arm.can(call, action, scope)
        items = [body(x) for x in resources
                 for x_sub, x_rg, x_id in [locate(x)]
                 if x_sub.lower() == sub.lower()
                 and (not rg or x_rg.lower() == rg.lower())
                 and (whole or arm.can(call, action, x_id))]
    return page(call, items, arm.state.page_size)
