"""Last line of defence: nothing that looks like a JWT or a secret leaves through the renderers."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_SECRET_KEYS = ("client_secret", "client_assertion", "access_token", "refresh_token",
                "password", "token")
_SECRET_KV = re.compile(
    r"(?i)\b(" + "|".join(_SECRET_KEYS) + r")(\s*[=:]\s*\"?)([^\s\"&,]{8,})"
)


# one scan says whether a string needs a closer look ("token" covers the *_token keys)
_SUSPECT = re.compile("eyJ|" + "|".join(_SECRET_KEYS), re.IGNORECASE)


@lru_cache(maxsize=65536)  # the same titles, ids and summaries recur across thousands of findings
def redact_text(text: str) -> str:
    if not _SUSPECT.search(text):
        return text
    if "eyJ" in text:
        text = _JWT.sub("<redacted JWT>", text)
    return _SECRET_KV.sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", text)


def redact(value: Any) -> Any:
    """Redact strings anywhere inside JSON-like data."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
