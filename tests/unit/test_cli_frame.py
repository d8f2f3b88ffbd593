import json

import pytest

from wi_cli import __version__
from wi_cli.cli.app import main
from wi_cli.core.errors import ExitCode


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, f"wi {__version__}\n", "")


@pytest.mark.parametrize("argv", [["--help"], ["doctor", "--help"], ["lab", "up", "--help"], []])
def test_help_explains_and_exits_zero(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "Usage" in out and "--output" in out


def test_root_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--help")
    for cmd in ("provision", "bind", "unbind", "doctor", "probe", "demo", "lab"):
        assert cmd in out


def test_global_options_before_and_after_the_subcommand_agree(capsys: pytest.CaptureFixture[str]) -> None:
    before = run(capsys, "-o", "json", "doctor", "--check", "no.such-check")
    after = run(capsys, "doctor", "--check", "no.such-check", "-o", "json")
    assert before == after
    doc = json.loads(before[1])
    assert doc["command"] == "doctor" and doc["exit_code"] == 2


def test_json_envelope_for_errors_is_pinned(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "bind", "Bad_SA", "some-identity", "--output=json")
    doc = json.loads(out)
    assert list(doc) == ["schema", "command", "status", "exit_code", "data", "findings", "errors"]
    assert doc["schema"] == "wi/v1" and doc["status"] == "error" and doc["exit_code"] == code == 2
    assert doc["data"] is None and doc["findings"] == []
    (error,) = doc["errors"]
    assert list(error) == ["type", "message", "remediation"]
    assert error["type"] == "UsageError" and isinstance(error["remediation"], list)
    assert doc["command"] == "bind"
    assert err == ""


def test_usage_error_is_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--bogus")
    assert code == ExitCode.USAGE and out == ""
    assert "No such option: --bogus" in err and "wi --help" in err
    assert "Traceback" not in err


def test_usage_error_honours_json_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-o", "json", "lab", "up", "--scenario")
    doc = json.loads(out)
    assert code == 2 and doc["status"] == "error" and doc["errors"][0]["type"] == "UsageError"
    assert doc["command"] == "lab up"


def test_output_env_var_is_honoured(capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WI_OUTPUT", "json")
    code, out, _ = run(capsys, "bind", "Bad_SA", "some-identity")
    assert json.loads(out)["command"] == "bind"


def test_bad_scenario_changes_nothing(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    target = tmp_path / "lab"
    code, _, err = run(capsys, "lab", "up", "--scenario", "nope", "--state-dir", str(target))
    assert code == 2 and "Unknown scenario" in err
    assert not target.exists()


def test_output_from_the_users_wi_toml_is_one_setting_everywhere(
        capsys: pytest.CaptureFixture[str], isolated_env) -> None:
    """`output = "json"` in ~/.wi.toml: every command's result and every refusal is the JSON
    envelope, because settings are resolved once, by one precedence."""
    (isolated_env / ".wi.toml").write_text('output = "json"\n')
    code, out, _ = run(capsys, "doctor", "--list-checks")
    assert code == 0 and json.loads(out)["data"]["checks"]
    code, out, _ = run(capsys, "provision")  # nobody can confirm: refused before any work
    doc = json.loads(out)
    assert code == 2 and doc["command"] == "provision" and doc["status"] == "error"
    code, out, _ = run(capsys, "--bogus")
    assert code == 2 and json.loads(out)["errors"][0]["type"] == "UsageError"
