"""Kubernetes API access through the official client, built from a kubeconfig on first use."""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

from ...core.errors import (
    ConfigError,
    ConflictError,
    CredentialError,
    KubernetesError,
    KubernetesNotFound,
    sentence,
)
from ...core.redact import redact_text


def _status_message(exc: Any) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(getattr(exc, "reason", exc))


class KubeClients:
    def __init__(self, kubeconfig: str, context: str | None = None,
                 timeout: float | tuple[float, float] | None = None) -> None:
        """``kubeconfig``: the path (or an os.pathsep list, like KUBECONFIG) the settings
        resolved; ``timeout``: seconds for each API call, or (connect, read) seconds, the
        kubernetes client's ``_request_timeout`` (None: the client's default, no limit)."""
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout = timeout

    @cached_property
    def api_client(self) -> Any:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        from .kubeconfig import entry, load_merged

        doc, read = load_merged(self.kubeconfig)
        if not read:
            raise ConfigError(f"No kubeconfig found at {self.kubeconfig}.",
                              ["Run 'wi provision' (or 'az aks get-credentials'), or pass "
                               "--kubeconfig PATH."])
        where = os.pathsep.join(str(p) for p in read)
        name = self.context or doc.get("current-context")
        context = entry(doc, "contexts", name) if name else None
        if context is None:
            raise ConfigError(f"The kubeconfig {where} has no context {name!r}." if name else
                              f"The kubeconfig {where} names no current context.",
                              ["Pass --context NAME ('kubectl config get-contexts' lists them)."])
        if entry(doc, "clusters", context.get("cluster")) is None:
            raise ConfigError(f"The context {name!r} of the kubeconfig {where} names the cluster "
                              f"{context.get('cluster')!r}, which the kubeconfig does not "
                              "define.", ["Fix the context, or pass --context NAME "
                                          "('kubectl config get-contexts' lists them)."])
        user_name = context.get("user")
        plugin = (entry(doc, "users", user_name) or {}).get("exec")
        if isinstance(plugin, dict):
            _check_plugin(plugin, str(user_name))
        with _client_log() as logged:
            try:
                client = config.new_client_from_config_dict(doc, context=name)
            except ConfigException as exc:
                raise ConfigError(f"The kubeconfig {where} cannot be used: {exc}.",
                                  ["Check the file and the --context name "
                                   "('kubectl config get-contexts')."]) from None
        if isinstance(plugin, dict) and logged:
            raise CredentialError(f"The credential plugin '{plugin.get('command')}' of the "
                                  f"kubeconfig user '{user_name}' failed: "
                                  f"{redact_text(logged[0])}",
                                  ["Run the plugin's command by hand to see why (for "
                                   "kubelogin on AKS: 'az login', then 'kubelogin "
                                   "convert-kubeconfig -l azurecli')."])
        return client

    @cached_property
    def context_name(self) -> str | None:
        """The context in use: --context, else the kubeconfig's current-context."""
        if self.context:
            return self.context
        from kubernetes import config

        try:
            _, active = config.list_kube_config_contexts(
                config_file=self.kubeconfig.split(os.pathsep)[0])
        except Exception:  # noqa: BLE001 - api_client reports a broken kubeconfig
            return None
        return (active or {}).get("name")

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    def request(self, method: str, path: str, doing: str, *,
                query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", text: bool = False) -> Any:
        """One API call as plain JSON (the kubeconfig's auth, TLS and exec plugins apply, but
        none of the client's generated API or model classes, which cost seconds to import);
        ``text``: the answer as text (a pod's log)."""
        api = self.api_client
        headers = {"Accept": "*/*" if text else "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        with kube_errors(doing, self.server):
            method, url, headers, payload, _ = api.param_serialize(
                method, path, query_params=[(k, v) for k, v in (query or {}).items()
                                            if v is not None],
                header_params=headers, body=body, auth_settings=["BearerToken"])
            resp = api.call_api(method, url, header_params=headers, body=payload,
                                _request_timeout=self.timeout)
            data = resp.read()
            if not 200 <= resp.status < 300:
                raise_status(resp.status, _message(data, resp.reason), doing)
        if text:
            return (data or b"").decode("utf-8", errors="replace")
        return json.loads(data) if data else None

    def get(self, path: str, doing: str, **query: Any) -> dict[str, Any]:
        return self.request("GET", path, doing, query=query) or {}

    def list_items(self, path: str, doing: str, **query: Any) -> list[dict[str, Any]]:
        """Every item of a list, following ``continue`` tokens in pages of 500."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.get(path, doing, limit=500, **{"continue": token}, **query)
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items


def _check_plugin(plugin: dict[str, Any], user: str) -> None:
    """An exec credential plugin that is not installed is named, with the kubeconfig's own
    installHint (kubectl prints it too; AKS's kubelogin entry carries one), before any call:
    otherwise the client logs the failure and every request is refused as unauthenticated."""
    command = plugin.get("command")
    if not isinstance(command, str) or not command:
        raise ConfigError(f"The kubeconfig user '{user}' has an exec plugin with no command.",
                          ["Fix the user's 'exec' entry, or fetch the kubeconfig again."])
    found = Path(command).is_file() if os.sep in command else shutil.which(command)
    if found:
        return
    hint = " ".join(str(plugin.get("installHint") or "").split())
    advice = [hint] if hint else []
    if Path(command).name == "kubelogin":
        advice.append("Install kubelogin with 'az aks install-cli' (or from "
                      "https://aka.ms/aks/kubelogin) and make sure it is on PATH.")
    raise ConfigError(f"The kubeconfig user '{user}' needs the credential plugin '{command}', "
                      "which is not installed (not found on PATH).",
                      advice or [f"Install '{command}' and make sure it is on PATH."])


@contextmanager
def _client_log() -> Iterator[list[str]]:
    """What the kubernetes client logs while it loads a kubeconfig: it reports a failed exec
    plugin with ``logging.error`` on the root logger and carries on without credentials."""
    import logging

    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                messages.append(record.getMessage())

    root = logging.getLogger()
    handler = Keep()
    root.addHandler(handler)
    try:
        yield messages
    finally:
        root.removeHandler(handler)


def _message(data: bytes | None, reason: str | None) -> str:
    """The message of a Kubernetes Status body, else the HTTP reason."""
    try:
        return json.loads(data or b"").get("message") or reason or ""
    except (TypeError, ValueError, AttributeError):
        return reason or ""


def raise_status(status: int, message: str, doing: str) -> None:
    """An API server's refusal as the WiError that says what to do."""
    if status == 401:
        raise CredentialError(f"The cluster refused the kubeconfig's credentials while "
                              f"{doing}.",
                              ["Refresh the kubeconfig ('az aks get-credentials' or "
                               "'wi provision')."])
    if status == 403:
        raise KubernetesError(f"Kubernetes refused the request while {doing}: {message}",
                              ["Ask a cluster admin for the RBAC permission named above."],
                              status=403, reason="Forbidden")
    if status == 404:
        raise KubernetesNotFound(f"Not found while {doing}: {message}", status=404,
                                 reason="NotFound")
    if status == 409:
        raise ConflictError(f"Kubernetes reported a conflict while {doing}: {message}",
                            ["Run the command again."])
    raise KubernetesError(f"Kubernetes refused the request while {doing} ({status}): "
                          f"{sentence(message)}", status=status)


@contextmanager
def kube_errors(doing: str, server: str = "the Kubernetes API server") -> Iterator[None]:
    """Translate kubernetes-client and urllib3 exceptions raised inside the block."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        raise_status(exc.status, _status_message(exc), doing)
    except HTTPError as exc:
        raise KubernetesError(f"Could not reach the Kubernetes API server {server} while "
                              f"{doing}: {_network_reason(exc)}.",
                              ["Check that the cluster is running and the kubeconfig's server "
                               "address is reachable; WI_CONNECT_TIMEOUT and WI_READ_TIMEOUT "
                               "set how long wi waits."]) from None


def _network_reason(exc: Exception) -> str:
    """What urllib3 met, in a few words (a retried failure is wrapped in MaxRetryError)."""
    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )

    cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    text = str(cause)
    if isinstance(cause, SSLError):
        return ("TLS failed: the server's certificate is not trusted (check the kubeconfig's "
                "certificate-authority)" if "CERTIFICATE_VERIFY_FAILED" in text else "TLS failed")
    if isinstance(cause, ConnectTimeoutError):
        return "no connection within the connect timeout"
    if isinstance(cause, ReadTimeoutError):
        return "no answer within the read timeout"
    if isinstance(cause, NewConnectionError):
        return "connection refused" if "refused" in text.lower() else "cannot connect"
    if isinstance(cause, ProtocolError):
        return "the connection was closed without an answer"
    return type(cause).__name__
