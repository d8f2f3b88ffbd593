"""What the tests share: how `wi` is run in-process, and the environment a user of a seeded lab
has."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest


@dataclass
class Run:
    """One `wi` run as a user sees it: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        """stdout as the JSON envelope; its exit_code is the one the process exits with."""
        doc = json.loads(self.out)
        assert doc.get("exit_code", self.code) == self.code, (doc.get("exit_code"), self.code)
        return doc


def run_wi(*argv: str, columns: int | None = None, traceback_asked: bool = False) -> Run:
    """Run `wi ARGV...` in this process, as a user would from a shell, and catch what it prints.
    Every run is held to what any run promises: no traceback, no raw JWT on either stream.
    ``columns`` sets the terminal width the views lay out for (for this run only);
    ``traceback_asked``: the run has --debug and fails, so a traceback is what was asked for
    (a raw JWT still is not). Tests take
    the `wi` fixture (conftest.py); a module-scoped fixture or a hypothesis test, which cannot
    take it, calls this. The one place the tests call `main`."""
    from wi_cli.cli.app import main
    from wi_cli.render import console

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        if columns is not None:
            mp.setenv("COLUMNS", str(columns))
        console.reset()  # rich's consoles are cached; these streams are new
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(list(argv))
        finally:
            console.reset()
    run = Run(code, out.getvalue(), err.getvalue())
    if traceback_asked:
        assert "--debug" in argv, "a traceback is only ever asked for with --debug"
    else:
        assert "Traceback" not in run.err, run.err
    assert "eyJ" not in run.out and "eyJ" not in run.err, "a raw JWT was printed"
    return run


LAB_TF_MODULE = Path(__file__).resolve().parent / "fixtures" / "terraform" / "lab"


def lab_tf_vars(seeded: Any) -> list[str]:
    """`--var` pairs that point the lab Terraform module (a terraform_data stand-in for the real
    one) at the seeded lab's resource group, cluster, identity, tenant and subscription."""
    pairs = {"resource_group": seeded.resource_group, "cluster_name": seeded.cluster_name,
             "identity_name": seeded.identity.name,
             "identity_client_id": seeded.identity.client_id,
             "tenant_id": seeded.tenant_id, "subscription_id": seeded.subscription_id}
    return [arg for k, v in pairs.items() for arg in ("--var", f"{k}={v}")]


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


@contextmanager
def seeded_lab(scenario: str, folder: Path) -> Iterator[dict[str, Any]]:
    """A running lab seeded with ``scenario`` and its cluster's kubeconfig in ``folder``: the
    world a module's tests share (keys lab, seeded, kubeconfig, folder, store)."""
    from wi_cli.lab.kube import scenarios
    from wi_cli.lab.runtime import Lab

    with Lab() as lab:
        seeded = scenarios.seed(lab, scenario)
        kubeconfig = seeded.cluster.write_kubeconfig(folder / "kubeconfig")
        yield {"lab": lab, "seeded": seeded, "kubeconfig": str(kubeconfig), "folder": folder,
               "store": seeded.cluster.store}


SHARED_CONTRACTS = Path(__file__).resolve().parents[2] / "shared" / "contracts"


def contract_file(relative: str) -> Path:
    """A file of ../shared/contracts (official API examples the lab is held to). Missing: a
    failure in CI (the env var CI is set: the contract tests must run there), a skip on a
    machine without the shared folder."""
    import os

    path = SHARED_CONTRACTS / relative
    if not path.exists():
        message = (f"shared contracts not found at {path}: check ../shared out beside the "
                   "repository")
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(message)
    return path
