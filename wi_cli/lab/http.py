"""The HTTPS server every lab service runs on: routing, JSON replies, faults and a request log.

Each service (Entra, ARM, the OIDC issuer host, the Kubernetes API server) is a :class:`Router`
mounted on its own :class:`LabServer`, so each has its own URL, as in the real world.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, cast
from urllib.parse import parse_qs, unquote, urlsplit

from .faults import ErrorBody, Faults, RequestGate, arm_error, impostor_context, reset
from .tls import LabCA


@dataclass
class Request:
    method: str
    path: str  # percent-decoded path, no query
    raw_path: str  # path as sent, with query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the matched route
    server_url: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter (names compared as sent)."""
        values = self.query.get(name)
        return values[0] if values else default

    def arg_ci(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter, name compared case-insensitively ($skipToken...)."""
        for key, values in self.query.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None,
                  content_type: str = "application/json; charset=utf-8") -> Response:
    h = {"Content-Type": content_type}
    h.update(headers or {})
    return Response(status, json.dumps(obj).encode(), h)


Handler = Callable[[Request], Response]


class Router:
    """Routes (method, path regex) to handlers; named groups become ``request.params``."""

    def __init__(self, *, ignore_case: bool = False) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._flags = re.IGNORECASE if ignore_case else 0
        self.not_found: Handler = lambda r: json_response(404, {"error": "not found"})
        self.method_not_allowed: Handler = lambda r: json_response(405, {"error": "method not allowed"})

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(pattern + r"\Z", self._flags), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.add(method, pattern, fn)
            return fn
        return deco

    def dispatch(self, req: Request) -> Response:
        path_matched = False
        for method, pattern, handler in self._routes:
            m = pattern.match(req.path)
            if not m:
                continue
            path_matched = True
            if method != req.method and method != "*":
                continue
            req.params = {k: v for k, v in m.groupdict().items() if v is not None}
            return handler(req)
        return (self.method_not_allowed if path_matched else self.not_found)(req)


@dataclass
class LoggedRequest:
    start: float
    end: float
    method: str
    path: str
    status: int  # 0: no answer (the connection was reset)
    server: str
    user_agent: str = ""


class LabServer:
    """One HTTPS service on 127.0.0.1 and a free port, serving a router in threads."""

    def __init__(self, name: str, router: Router, ca: LabCA, port: int = 0,
                 request_log: list[LoggedRequest] | None = None,
                 errors: ErrorBody = arm_error) -> None:
        """``errors``: the service's error body for a status fault (ARM's by default)."""
        self.name = name
        self.router = router
        self.ca = ca
        self.faults = Faults()
        self.errors = errors
        self.gate: RequestGate | None = None  # the lab's, once added to a lab
        self.log: list[LoggedRequest] = request_log if request_log is not None else []
        self._log_lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _make_handler(self))
        self._httpd.socket = ca.server_context().wrap_socket(
            self._httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = self._httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        # set by services that stream (watch): lets shutdown end open streams
        self.stopping = threading.Event()

    def start(self) -> "LabServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"lab-{self.name}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self.log.append(entry)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client resets
        pass


def _make_handler(server: LabServer) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "wi-lab"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def setup(self) -> None:
            super().setup()
            self.connection.settimeout(60)
            # headers and body are separate writes: without this, Nagle + the client's delayed
            # ACK hold every response ~40 ms
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if server.faults.take_handshake():
                self.connection.context = impostor_context()
            try:
                self.connection.do_handshake()
            except (OSError, socket.timeout):
                self.close_connection = True

        def _handle(self) -> None:
            start = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            req = Request(
                method=self.command,
                path=unquote(split.path),
                raw_path=self.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                server_url=server.url,
            )
            agent = req.headers.get("user-agent", "")

            def record(status: int) -> None:
                server.record(LoggedRequest(start, time.monotonic(), req.method, req.raw_path,
                                            status, server.name, agent))

            held = server.gate is not None and server.gate.arrive(agent)
            if server.faults.latency:
                time.sleep(server.faults.latency)
            rule = server.faults.take(req.method, req.path, agent)
            if rule is not None and rule.action == "reset":
                record(0)
                self.close_connection = True
                reset(self.connection)
                return
            if rule is not None and rule.action == "slow":
                time.sleep(rule.delay)
            try:
                resp = server.errors(rule.status, rule.retry_after, req) \
                    if rule is not None and rule.action == "status" else server.router.dispatch(req)
            except Exception as exc:  # a lab bug must show up as a 500, not a hung client
                import traceback
                traceback.print_exc()
                resp = json_response(500, {"error": {"code": "InternalServerError",
                                                     "message": f"lab error: {exc!r}"}})
            if held and server.gate is not None:
                server.gate.hold(f"{server.name} {req.method} {req.path}")
            # An answer in one piece is logged before it is sent, so a client that has it finds
            # it in the log; a stream (a watch) is logged when it ends.
            streaming = not isinstance(resp.body, (bytes, bytearray))
            if not streaming:
                record(resp.status)
            try:
                self._send(resp)
            finally:
                if streaming:
                    record(resp.status)

        def _send(self, resp: Response) -> None:
            self.send_response(resp.status)
            headers = {"x-ms-request-id": str(uuid.uuid4()), **resp.headers}
            streaming = not isinstance(resp.body, (bytes, bytearray))
            for k, v in headers.items():
                self.send_header(k, v)
            if streaming:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in cast(Iterable[bytes], resp.body):
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True
                finally:
                    close = getattr(resp.body, "close", None)
                    if close:
                        close()
            else:
                self.send_header("Content-Length", str(len(resp.body)))  # type: ignore[arg-type]
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.body)  # type: ignore[arg-type]

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    return H

