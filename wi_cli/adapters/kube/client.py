"""Kubernetes API access through the official client, built from a kubeconfig on first use."""

from __future__ import annotations

import json
import os
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
)


def _status_message(exc: Any) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(getattr(exc, "reason", exc))


class KubeClients:
    def __init__(self, kubeconfig: str, context: str | None = None) -> None:
        """``kubeconfig``: the path (or an os.pathsep list, like KUBECONFIG) the settings
        resolved."""
        self.kubeconfig = kubeconfig
        self.context = context

    @cached_property
    def api_client(self) -> Any:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        first = self.kubeconfig.split(os.pathsep)[0]
        if not Path(first).is_file():
            raise ConfigError(f"No kubeconfig found at {first}.",
                              ["Run 'wi provision' (or 'az aks get-credentials'), or pass "
                               "--kubeconfig PATH."])
        try:
            return config.new_client_from_config(config_file=first, context=self.context)
        except ConfigException as exc:
            raise ConfigError(f"The kubeconfig {first} cannot be used: {exc}.",
                              ["Check the file and the --context name "
                               "('kubectl config get-contexts')."]) from None

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    @cached_property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    @cached_property
    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api_client)

    @cached_property
    def well_known(self) -> Any:
        from kubernetes import client

        return client.WellKnownApi(self.api_client)


@contextmanager
def kube_errors(doing: str, server: str = "the Kubernetes API server") -> Iterator[None]:
    """Translate kubernetes-client and urllib3 exceptions raised inside the block."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        status, message = exc.status, _status_message(exc)
        if status == 401:
            raise CredentialError(f"The cluster refused the kubeconfig's credentials while "
                                  f"{doing}.",
                                  ["Refresh the kubeconfig ('az aks get-credentials' or "
                                   "'wi provision')."]) from None
        if status == 403:
            raise KubernetesError(f"Kubernetes refused the request while {doing}: {message}",
                                  ["Ask a cluster admin for the RBAC permission named above."],
                                  status=403, reason="Forbidden") from None
        if status == 404:
            raise KubernetesNotFound(f"Not found while {doing}: {message}", status=404,
                                     reason="NotFound") from None
        if status == 409:
            raise ConflictError(f"Kubernetes reported a conflict while {doing}: {message}",
                                ["Run the command again."]) from None
        raise KubernetesError(f"Kubernetes refused the request while {doing} ({status}): "
                              f"{message}", status=status) from None
    except HTTPError as exc:
        raise KubernetesError(f"Could not reach {server} while {doing}: "
                              f"{type(exc).__name__}.",
                              ["Check that the cluster is running and the kubeconfig's server "
                               "address is reachable."]) from None
