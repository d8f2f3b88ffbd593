"""How Entra answers: the AADSTS error body (with trace id, correlation id and timestamp), the
headers every token-endpoint reply carries, and the ``/error`` page an ``error_uri`` points to."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING

from ..http import Request, Response, json_response
from .aadsts import EntraError

if TYPE_CHECKING:
    from ..runtime import Lab


def error_response(lab: "Lab", err: EntraError, req: Request) -> Response:
    trace_id = str(uuid.uuid4())
    correlation_id = _correlation_id(req)
    stamp = _body_timestamp(dt.datetime.now(dt.timezone.utc))
    body = {
        "error": err.error,
        "error_description": (f"{err.description}\r\nTrace ID: {trace_id}\r\n"
                              f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"),
        "error_codes": [err.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{lab.entra.url}/error?code={err.code}",
    }
    return json_response(err.entry.status, body, reply_headers(req, trace_id))


def fault_response(status: int, retry_after: int | None, req: Request) -> Response:
    """A status fault (lab/faults.py) as Entra answers it: 429 is a bare "Too Many Requests"
    with Retry-After (as observed: AzureAD/microsoft-authentication-library-for-dotnet#2855);
    401 is the operator's expired client secret (AADSTS7000222); 5xx a transient outage."""
    if status == 429:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return Response(429, b"Too Many Requests", headers)
    form: dict[str, str] = {}
    if req.body:
        try:
            form = req.form()
        except UnicodeDecodeError:
            form = {}
    code = 7000222 if status == 401 else 90033
    err = EntraError(code, client_id=form.get("client_id", ""))
    trace_id, correlation_id = str(uuid.uuid4()), _correlation_id(req)
    stamp = _body_timestamp(dt.datetime.now(dt.timezone.utc))
    body = {"error": err.error,
            "error_description": f"{err.description}\r\nTrace ID: {trace_id}\r\n"
                                 f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}",
            "error_codes": [code], "timestamp": stamp, "trace_id": trace_id,
            "correlation_id": correlation_id}
    headers = reply_headers(req, trace_id)
    if status == 503 and retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return json_response(status, body, headers)


def error_page(req: Request) -> Response:
    code = re.sub(r"\D", "", req.arg_ci("code", "") or "")
    page = f"<html><body><h1>Error AADSTS{code}</h1></body></html>".encode()
    return Response(200, page, {"Content-Type": "text/html; charset=utf-8"})


def reply_headers(req: Request, trace_id: str) -> dict[str, str]:
    headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache",
               "x-ms-request-id": trace_id, "x-ms-ests-server": "wi-lab"}
    if req.headers.get("client-request-id"):
        headers["client-request-id"] = req.headers["client-request-id"]
    return headers


def _body_timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _correlation_id(req: Request) -> str:
    """Entra echoes the client-request-id a client sends (MSAL does) as the correlation id."""
    sent = req.headers.get("client-request-id", "")
    try:
        return str(uuid.UUID(sent))
    except ValueError:
        return str(uuid.uuid4())
