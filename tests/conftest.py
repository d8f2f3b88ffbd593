"""Shared fixtures. Every test runs with HOME, kubeconfig, Azure CLI config and wi's state dir
pointed at temp folders, and with no Azure credentials in the environment, so a test that forgot
the lab fails instead of touching a real account."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from support import Run, run_wi

_AMBIENT = (
    "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID",
    "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME", "AZURE_PASSWORD", "WI_CLOUD", "WI_OUTPUT", "WI_CONTEXT", "WI_DEBUG",
    "ARM_CLOUD_METADATA_URL", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "IDENTITY_ENDPOINT",
    "MSI_ENDPOINT", "AZURE_TOKEN_CREDENTIALS",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    for var in _AMBIENT:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KUBECONFIG", str(home / ".kube" / "config"))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(home / ".azure"))
    monkeypatch.setenv("WI_STATE_DIR", str(home / "wi-state"))
    monkeypatch.chdir(home)
    return home


@pytest.fixture()
def wi() -> Callable[..., Run]:
    """Run `wi ARGV...` in this process, as a user would from a shell: ``wi(*argv, columns=None)``
    returns a `Run` (exit code, stdout, stderr, ``.json``). See `support.run_wi`."""
    return run_wi
