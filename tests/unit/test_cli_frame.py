import pytest

from support import Run
from wi_cli import __version__
from wi_cli.core.errors import ExitCode


def test_version(wi) -> None:
    assert wi("--version") == Run(0, f"wi {__version__}\n", "")


@pytest.mark.parametrize("argv", [["--help"], ["doctor", "--help"], ["lab", "up", "--help"], []])
def test_help_explains_and_exits_zero(wi, argv: list[str]) -> None:
    run = wi(*argv)
    assert run.code == 0
    assert "Usage" in run.out and "--output" in run.out


def test_root_help_lists_every_command(wi) -> None:
    out = wi("--help").out
    for cmd in ("provision", "bind", "unbind", "doctor", "probe", "demo", "lab"):
        assert cmd in out


def test_global_options_before_and_after_the_subcommand_agree(wi) -> None:
    before = wi("-o", "json", "doctor", "--check", "no.such-check")
    after = wi("doctor", "--check", "no.such-check", "-o", "json")
    assert before == after
    doc = before.json
    assert doc["command"] == "doctor" and doc["exit_code"] == 2


def test_json_envelope_for_errors_is_pinned(wi) -> None:
    run = wi("bind", "Bad_SA", "some-identity", "--output=json")
    doc = run.json
    assert list(doc) == ["schema", "command", "status", "exit_code", "data", "findings", "errors"]
    assert doc["schema"] == "wi/v1" and doc["status"] == "error" and doc["exit_code"] == run.code == 2
    assert doc["data"] is None and doc["findings"] == []
    (error,) = doc["errors"]
    assert list(error) == ["type", "message", "remediation"]
    assert error["type"] == "UsageError" and isinstance(error["remediation"], list)
    assert doc["command"] == "bind"
    assert run.err == ""


def test_usage_error_is_a_message_not_a_traceback(wi) -> None:
    run = wi("--bogus")  # the fixture holds every run to "no traceback"
    assert run.code == ExitCode.USAGE and run.out == ""
    assert "No such option: --bogus" in run.err and "wi --help" in run.err


def test_usage_error_honours_json_when_asked(wi) -> None:
    run = wi("-o", "json", "lab", "up", "--scenario")
    doc = run.json
    assert run.code == 2 and doc["status"] == "error" and doc["errors"][0]["type"] == "UsageError"
    assert doc["command"] == "lab up"


def test_output_env_var_is_honoured(wi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WI_OUTPUT", "json")
    assert wi("bind", "Bad_SA", "some-identity").json["command"] == "bind"


def test_bad_scenario_changes_nothing(wi, tmp_path) -> None:
    target = tmp_path / "lab"
    run = wi("lab", "up", "--scenario", "nope", "--state-dir", str(target))
    assert run.code == 2 and "Unknown scenario" in run.err
    assert not target.exists()


def test_output_from_the_users_wi_toml_is_one_setting_everywhere(wi, isolated_env) -> None:
    """`output = "json"` in ~/.wi.toml: every command's result and every refusal is the JSON
    envelope, because settings are resolved once, by one precedence."""
    (isolated_env / ".wi.toml").write_text('output = "json"\n')
    run = wi("doctor", "--list-checks")
    assert run.code == 0 and run.json["data"]["checks"]
    run = wi("provision")  # nobody can confirm: refused before any work
    doc = run.json
    assert run.code == 2 and doc["command"] == "provision" and doc["status"] == "error"
    run = wi("--bogus")
    assert run.code == 2 and run.json["errors"][0]["type"] == "UsageError"
