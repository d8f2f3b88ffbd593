"""What the integration tests share: the environment a user of a seeded lab has."""

from __future__ import annotations

from typing import Any

import pytest


def operator_env(lab: Any, seeded: Any, kubeconfig: str) -> dict[str, str]:
    """The variables `source env.sh` gives after `wi lab up`: the lab as a custom cloud, the
    seeded operator service principal, the lab CA, and the cluster's kubeconfig."""
    return {
        "WI_CLOUD": lab.metadata_url,
        "AZURE_TENANT_ID": seeded.tenant_id,
        "AZURE_CLIENT_ID": seeded.operator.client_id,
        "AZURE_CLIENT_SECRET": seeded.operator.secret,
        "AZURE_SUBSCRIPTION_ID": seeded.subscription_id,
        "REQUESTS_CA_BUNDLE": str(lab.ca_file),
        "KUBECONFIG": str(kubeconfig),
    }


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> dict[str, str]:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values
