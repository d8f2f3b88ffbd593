"""Fault knobs every lab server carries, all off by default (../shared/DESIGN.md §3.10): what a
client meets when a service misbehaves, so wi's answer to each can be tested.

* ``latency``: seconds added before every answer.
* :meth:`Faults.fail_next`: the next ``count`` requests that match a method and a path (a prefix,
  or a regex the whole path must match) get, by ``action``:

  - ``status``: ``status`` with the service's own error body (an ARM error envelope, a
    Kubernetes ``Status``, Entra's OAuth error), and ``Retry-After`` on a 429 (and on a 503 when
    one is given), as the real services send it;
  - ``slow``: the real answer, ``delay`` seconds late (a client whose read timeout is shorter
    gives up first);
  - ``reset``: no answer: the connection is reset (TCP RST), as a dropped load balancer does.
* :meth:`Faults.untrusted_tls`: the next ``count`` TLS handshakes present a certificate of
  another CA, which a client that trusts the lab's CA refuses (a TLS-intercepting proxy, a
  wrong CA bundle).
* :class:`RequestGate` (one for the whole lab): the answer to the Nth request from now, counted
  over every server, is held until released, so a test can interrupt a client at a known point.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .http import Request, Response

ACTIONS = ("status", "slow", "reset")
HOLD_LIMIT_SECONDS = 120.0  # a gate nobody releases lets the answer go after this


@dataclass
class FailRule:
    remaining: int
    status: int = 429
    retry_after: int | None = 1
    prefix: str = ""  # lower-case path prefix, when no pattern
    pattern: "re.Pattern[str] | None" = None  # a regex the whole (decoded) path must match
    method: str | None = None  # None: any method
    action: str = "status"
    delay: float = 0.0
    agents: tuple[str, ...] = ()  # only requests whose User-Agent starts so (empty: all)

    def matches(self, method: str, path: str, agent: str = "") -> bool:
        if self.remaining <= 0 or (self.method and self.method != method.upper()):
            return False
        if self.agents and not agent.startswith(self.agents):
            return False
        if self.pattern is not None:
            return self.pattern.fullmatch(path) is not None
        return path.lower().startswith(self.prefix)


class Faults:
    """One server's knobs (see the module docstring)."""

    def __init__(self) -> None:
        self.latency = 0.0
        self._rules: list[FailRule] = []
        self._untrusted = 0  # handshakes left to fail; -1: every one until cleared
        self._lock = threading.Lock()

    def fail_next(self, prefix: str = "", count: int = 1, status: int = 429,
                  retry_after: int | None = 1, *, method: str | None = None,
                  path: str | None = None, action: str = "status", delay: float = 0.0,
                  agents: tuple[str, ...] = ()) -> FailRule:
        """``path``: a regex the whole path must match, instead of ``prefix``; ``agents``: only
        clients whose User-Agent starts with one of these (a test aims at one client while
        the others, e.g. Entra fetching an issuer's keys, still get through). Returns the
        rule (its ``remaining`` says how many matching requests it has still to fail)."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        if action == "status" and not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        try:
            pattern = re.compile(path, re.IGNORECASE) if path else None
        except re.error as exc:
            raise ValueError(f"path is not a regex: {exc}") from None
        rule = FailRule(count, status, retry_after, prefix.lower(), pattern,
                        method.upper() if method else None, action, max(0.0, delay),
                        tuple(agents))
        with self._lock:
            self._rules.append(rule)
        return rule

    def untrusted_tls(self, count: int = -1) -> None:
        """The next ``count`` handshakes (-1: all, until cleared) use an untrusted certificate."""
        with self._lock:
            self._untrusted = count

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._untrusted = 0
            self.latency = 0.0

    def take(self, method: str, path: str, agent: str = "") -> FailRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, agent):
                    rule.remaining -= 1
                    return rule
            self._rules = [r for r in self._rules if r.remaining > 0]
        return None

    def take_handshake(self) -> bool:
        with self._lock:
            if self._untrusted == 0:
                return False
            if self._untrusted > 0:
                self._untrusted -= 1
            return True

    def summary(self) -> dict[str, object]:
        with self._lock:
            return {"latency": self.latency, "untrusted_tls": self._untrusted,
                    "rules": [{"method": r.method, "path": r.pattern.pattern if r.pattern
                               else r.prefix, "action": r.action, "status": r.status,
                               "remaining": r.remaining} for r in self._rules if r.remaining]}


_impostor: ssl.SSLContext | None = None
_impostor_lock = threading.Lock()


def impostor_context() -> ssl.SSLContext:
    """A server context whose certificate comes from a CA no lab client trusts."""
    global _impostor
    with _impostor_lock:
        if _impostor is None:
            from .tls import LabCA

            _impostor = LabCA().server_context()
        return _impostor


def reset(connection: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST instead of an answer."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    connection.close()


class RequestGate:
    """Counts the requests every server of the lab gets once armed, and holds the answer to the
    Nth (after the service has handled it: a write is done, its answer never arrives) until
    :meth:`release`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nth = 0
        self._seen = 0
        self._agents: tuple[str, ...] = ()
        self.held = threading.Event()
        self._release = threading.Event()
        self.held_request = ""

    def hold_nth(self, nth: int, agents: tuple[str, ...] = ()) -> None:
        """``agents``: count only requests whose User-Agent starts with one of these."""
        with self._lock:
            self._nth, self._seen, self.held_request = nth, 0, ""
            self._agents = tuple(agents)
            self.held.clear()
            self._release.clear()

    def release(self) -> None:
        with self._lock:
            self._nth = 0
        self._release.set()

    def arrive(self, agent: str = "") -> bool:
        """Count one request; True when it is the one to hold."""
        with self._lock:
            if self._nth <= 0 or (self._agents and not agent.startswith(self._agents)):
                return False
            self._seen += 1
            return self._seen == self._nth

    def hold(self, what: str) -> None:
        self.held_request = what
        self.held.set()
        self._release.wait(HOLD_LIMIT_SECONDS)

    def summary(self) -> dict[str, object]:
        with self._lock:
            return {"nth": self._nth, "seen": self._seen, "held": self.held_request
                    if self.held.is_set() else None}


ErrorBody = Callable[[int, "int | None", "Request"], "Response"]


def arm_error(status: int, retry_after: int | None, req: "Request") -> "Response":
    """ARM's error envelope. 429: the throttling answer (`Retry-After`; the limits are documented
    at learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling);
    401: an access token that expired mid-run (ExpiredAuthenticationToken, with the
    WWW-Authenticate challenge ARM sends)."""
    from .http import json_response

    headers: dict[str, str] = {}
    if status == 429:
        code, message = "TooManyRequests", "Too many requests. Please retry."
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
            message = f"Too many requests. Retry after {retry_after} seconds."
            headers["x-ms-ratelimit-remaining-subscription-reads"] = "0"
    elif status == 401:
        code = "ExpiredAuthenticationToken"
        message = ("The access token expiry UTC time has passed: the token is earlier than the "
                   "current UTC time.")
        headers["WWW-Authenticate"] = ('Bearer authorization_uri="https://login.windows.net/", '
                                       'error="invalid_token", '
                                       'error_description="The access token has expired."')
    elif status == 503:
        code, message = "ServiceUnavailable", "The service is temporarily unavailable."
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
    elif status >= 500:
        code, message = "InternalServerError", ("Encountered internal server error. Please try "
                                                "again.")
    else:
        code, message = "BadRequest", "The request is invalid."
    return json_response(status, {"error": {"code": code, "message": message}}, headers)
