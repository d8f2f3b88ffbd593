import json
import os
from pathlib import Path

import pytest

from wi_cli.core.config import Environment, State, load_state, resolve, save_state, state_path
from wi_cli.core.errors import ConfigError, ExitCode


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    s = resolve({}, Environment({"WI_STATE_DIR": str(tmp_path)}, tmp_path, tmp_path))
    assert (s.output, s.cloud, s.subscription, s.debug) == ("table", "AzureCloud", None, False)
    assert s.sources["output"] == "default"


def test_precedence_flags_env_toml_state(tmp_path: Path) -> None:
    env = {"WI_STATE_DIR": str(tmp_path / "state")}
    save_state(state_path(env), State(subscription_id="sub-from-state", kube_context="ctx-state"))
    project = tmp_path / "proj" / "deep"
    project.mkdir(parents=True)
    (tmp_path / "proj" / ".wi.toml").write_text('subscription = "sub-from-toml"\noutput = "json"\n')

    s = resolve({}, Environment(env, project, tmp_path))
    toml = str(tmp_path / "proj" / ".wi.toml")
    assert (s.subscription, s.sources["subscription"]) == ("sub-from-toml", toml)
    assert s.context == "ctx-state" and s.sources["context"] == "state"
    assert s.json

    s = resolve({}, Environment({**env, "AZURE_SUBSCRIPTION_ID": "sub-from-env"}, project, tmp_path))
    assert s.subscription == "sub-from-env"

    s = resolve({"subscription": "sub-from-flag"},
                Environment({**env, "AZURE_SUBSCRIPTION_ID": "x"}, project, tmp_path))
    assert (s.subscription, s.sources["subscription"]) == ("sub-from-flag", "flag")


def test_cloud_falls_back_to_arm_cloud_metadata_url(tmp_path: Path) -> None:
    env = {"WI_STATE_DIR": str(tmp_path), "ARM_CLOUD_METADATA_URL": "https://x/metadata"}
    assert resolve({}, Environment(env, tmp_path, tmp_path)).cloud == "https://x/metadata"
    env["WI_CLOUD"] = "AzureChinaCloud"
    assert resolve({}, Environment(env, tmp_path, tmp_path)).cloud == "AzureChinaCloud"


@pytest.mark.parametrize("content, fragment", [
    ('outptu = "json"\n', "unknown keys: outptu"),
    ("output = [\n", "not valid TOML"),
    ('output = "yaml"\n', "table, json or junit"),
])
def test_bad_project_file_is_a_config_error(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / ".wi.toml").write_text(content)
    with pytest.raises(ConfigError) as info:
        resolve({}, Environment({"WI_STATE_DIR": str(tmp_path)}, tmp_path, tmp_path))
    assert fragment in info.value.message
    assert info.value.exit_code == ExitCode.CONFIG


def test_state_round_trip_is_private_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "s" / "state.json"
    save_state(path, State(cluster_name="aks", oidc_issuer_url="https://issuer/x/"))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    doc = json.loads(path.read_text())
    assert doc["schema"] == "wi-state/v1"
    assert set(doc) == {"schema", "resource_group", "cluster_name", "oidc_issuer_url",
                        "identity_name", "identity_client_id", "identity_principal_id",
                        "acr_login_server", "key_vault_name", "storage_account", "tenant_id",
                        "subscription_id", "kube_context"}
    assert load_state(path).oidc_issuer_url == "https://issuer/x/"


def test_corrupt_state_file_says_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError) as info:
        load_state(path)
    assert "not valid JSON" in info.value.message and "wi provision" in info.value.remediation[0]


def test_nothing_is_read_at_import_time() -> None:
    import importlib

    import wi_cli.core.config as config

    os.environ["WI_OUTPUT"] = "json"
    try:
        importlib.reload(config)
        assert config.DEFAULTS["output"] == "table"
    finally:
        del os.environ["WI_OUTPUT"]


def test_per_command_defaults_nearest_file_first(tmp_path: Path) -> None:
    from wi_cli.core.config import command_defaults

    home, project = tmp_path / "home", tmp_path / "proj"
    home.mkdir()
    project.mkdir()
    (home / ".wi.toml").write_text('namespace = "mine"\n[probe]\nservice-account = "app"\n'
                                   'timeout = 30\n')
    (project / ".wi.toml").write_text('[probe]\ntimeout = 60\n')
    found = command_defaults(Environment({"WI_STATE_DIR": str(tmp_path)}, project, home))
    assert found["*"] == {"namespace": ("mine", str(home / ".wi.toml"))}
    assert found["probe"] == {"service_account": ("app", str(home / ".wi.toml")),
                              "timeout": (60, str(project / ".wi.toml"))}
    # the global options still resolve as before next to the tables
    assert resolve({}, Environment({"WI_STATE_DIR": str(tmp_path)}, project, home)).output == "table"
