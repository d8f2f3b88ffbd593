"""Shared fixtures. Every test runs with HOME, kubeconfig, Azure CLI config and wi's state dir
pointed at temp folders, and with no Azure credentials in the environment, so a test that forgot
the lab fails instead of touching a real account."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

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


@dataclass
class Run:
    """One `wi` run as a user sees it: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


@pytest.fixture()
def wi(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """Run `wi ARGV...` in this process, as a user would from a shell. Every run is held to what
    any run promises: no traceback, no raw JWT on either stream. ``columns`` sets the terminal
    width the views lay out for."""

    def run(*argv: str, columns: int | None = None) -> Run:
        from wi_cli.cli.app import main
        from wi_cli.render import console

        if columns is not None:
            monkeypatch.setenv("COLUMNS", str(columns))
        console.reset()
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err
        assert "eyJ" not in out and "eyJ" not in err, "a raw JWT was printed"
        return Run(code, out, err)

    return run
