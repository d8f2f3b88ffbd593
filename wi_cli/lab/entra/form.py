"""The token request's form: the body's parameters, the client's from HTTP Basic, and the
AADSTS900144 for a parameter that must be there."""

from __future__ import annotations

import base64
from urllib.parse import unquote

from ..http import Request
from .aadsts import EntraError


def read_form(req: Request) -> dict[str, str]:
    """The form body, plus client_id/client_secret from HTTP Basic (client_secret_basic)."""
    try:
        form = req.form()
    except (UnicodeDecodeError, ValueError):
        form = {}
    auth = req.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        form.setdefault("client_id", unquote(user))
        form.setdefault("client_secret", unquote(password))
    return form


def required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise EntraError(900144, name=name)
    return value
