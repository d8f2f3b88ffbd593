"""The lab as one object: a CA, the Azure world, and the HTTPS services that serve it.

    with Lab() as lab:
        lab.entra.url, lab.arm.url, lab.metadata_url, lab.write_ca(path)

Service routers live in their own modules (``entra``, ``arm``, ``kube``); each is built with a
reference to this object and reads URLs, keys and state from it at request time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from .azure_state import AzureState
from .faults import RequestGate
from .http import LabServer, LoggedRequest
from .keys import SigningKey
from .oidc import IssuerHost
from .tls import LabCA


class Lab:
    def __init__(self) -> None:
        from . import admin, arm, dataplane, entra  # routers are built after the shared pieces

        self.ca = LabCA()
        self.azure = AzureState()
        self.entra_key = SigningKey()
        self.request_log: list[LoggedRequest] = []
        self.gate = RequestGate()  # holds the answer to the Nth request (tests interrupt there)
        self._tmp = tempfile.TemporaryDirectory(prefix="wi-lab-")
        self.ca_file = self.write_ca(Path(self._tmp.name) / "ca.pem")
        self.entra = LabServer("entra", entra.build_router(self), self.ca,
                               request_log=self.request_log, errors=entra.fault_response)
        self.arm = LabServer("arm", arm.build_router(self), self.ca, request_log=self.request_log)
        self.oidc = IssuerHost(self)
        self.keyvault = LabServer("keyvault", dataplane.build_keyvault_router(self), self.ca,
                                  request_log=self.request_log)
        self.blob = LabServer("blob", dataplane.build_blob_router(self), self.ca,
                              request_log=self.request_log)
        self.servers: list[LabServer] = [self.entra, self.arm, self.oidc.server, self.keyvault,
                                         self.blob]
        for server in self.servers:
            server.gate = self.gate
        admin.mount(self, self.arm.router)
        self.kube: Any = None  # the Kubernetes half attaches itself here (wi_cli.lab.kube)
        self.kube_clusters: dict[str, Any] = {}  # every lab cluster by name (lab.kube: the first)
        self._stop_callbacks: list[Callable[[], None]] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "Lab":
        for s in self.servers:
            s.start()
        return self

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the lab stops, before its servers go (e.g. kill pod processes)."""
        self._stop_callbacks.append(callback)

    def stop(self) -> None:
        for callback in reversed(self._stop_callbacks):
            try:
                callback()
            except Exception:  # one failing cleanup must not keep the servers running
                import traceback
                traceback.print_exc()
        for s in reversed(self.servers):
            s.stop()
        self._tmp.cleanup()

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_server(self, server: LabServer) -> LabServer:
        """Register (and start, if the lab runs) another service, e.g. an API server."""
        server.gate = self.gate
        self.servers.append(server)
        if self.entra._thread is not None:
            server.start()
        return server

    # -- what clients need --------------------------------------------------------------------
    @property
    def authority_host(self) -> str:
        """The Entra authority host URL, with a trailing slash as AZURE_AUTHORITY_HOST has it."""
        return self.entra.url + "/"

    @property
    def arm_endpoint(self) -> str:
        return self.arm.url + "/"

    @property
    def arm_audience(self) -> str:
        """The ARM token audience; the scope is this + "/.default" (Azure CLI's rule)."""
        return self.arm.url + "/"

    @property
    def metadata_url(self) -> str:
        return f"{self.arm.url}/metadata/endpoints?api-version=2022-09-01"

    def write_ca(self, path: Path) -> Path:
        return self.ca.write_ca(path)

    def server(self, name: str) -> LabServer:
        for s in self.servers:
            if s.name == name:
                return s
        raise KeyError(name)
