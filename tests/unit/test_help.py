"""Help and discovery (issue 14): help printed once, plain metavars, examples that parse, and
the command names people bring from other tools. At 80 columns, as a terminal would be."""

from __future__ import annotations

import re
import shlex
from functools import partial

import pytest

from wi_cli.cli.app import _walk

COMMANDS = [["bind"], ["unbind"], ["doctor"], ["probe"], ["provision"], ["demo"], ["lab", "up"],
            ["lab", "status"], ["lab", "down"]]
EVERY_HELP = [[], ["lab"], *COMMANDS]


@pytest.fixture()
def run(wi):
    """`wi ARGV...` on an 80-column terminal."""
    return partial(wi, columns=80)


@pytest.mark.parametrize("argv", [[], ["lab"], ["--debug"], ["--help"], ["lab", "-h"]])
def test_a_group_without_its_command_prints_the_help_once(run, argv: list[str]) -> None:
    result = run(*argv)
    assert result.code == 0 and result.err == ""
    assert result.out.count("Usage:") == 1 and "Commands:" in result.out


@pytest.mark.parametrize("argv", [["-o", "json", "lab"], ["-o", "json"], ["--output=json", "lab"]])
def test_with_json_a_missing_command_is_a_usage_error_envelope(run, argv: list[str]) -> None:
    result = run(*argv)
    doc = result.json
    assert result.code == 2 and doc["exit_code"] == 2 and doc["errors"][0]["type"] == "UsageError"
    assert "needs a command" in doc["errors"][0]["message"]


@pytest.mark.parametrize("argv", EVERY_HELP)
def test_help_shows_no_python_types_and_fits_80_columns(run, argv: list[str]) -> None:
    result = run(*argv, "--help")
    out = result.out
    assert result.code == 0
    assert not re.search(r"<(bool|str|int|float|path|list\[[a-z]+\])>", out), out
    assert "{" not in out.split("\n", 1)[0] and "\\[" not in out and "[bold]" not in out
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert not too_wide


def test_usage_names_the_arguments_plainly(run) -> None:
    out = run("bind", "--help").out
    assert out.startswith("Usage: wi bind [OPTIONS] SERVICE_ACCOUNT IDENTITY\n")
    assert "-n, --namespace NS " in out and "--issuer URL " in out and "--role ROLE " in out
    assert re.search(r"--dry-run +Print the plan", out)  # a flag shows no metavar


def test_every_option_of_unbind_is_described(run) -> None:
    out = run("unbind", "--help").out
    section = out.split("Options:\n", 1)[1].split("\n\n", 1)[0]
    terms = [line for line in section.splitlines() if line.startswith("  -")]
    assert len(terms) >= 10
    for line in terms:  # each option has text on its line or the next
        assert len(line.split("  ")) > 2 or section.split(line, 1)[1].startswith("\n      "), line


def test_dash_h_is_help(run) -> None:
    assert run("doctor", "-h") == run("doctor", "--help")


@pytest.mark.parametrize("word,meant", [("version", "wi --version"), ("help", "wi --help")])
def test_words_from_other_tools_point_at_what_is_meant(run, word: str, meant: str) -> None:
    result = run(word)
    assert result.code == 2 and result.out == ""
    assert f"Did you mean '{meant}'?" in result.err and "provision" not in result.err


def _examples(help_text: str) -> list[str]:
    """The example commands of a help text, continuation lines joined."""
    section = help_text.split("Examples:\n", 1)[1]
    commands: list[str] = []
    for line in section.splitlines():
        line = line.strip()
        if commands and commands[-1].endswith("\\"):
            commands[-1] = commands[-1][:-1] + line
        elif line.startswith("wi "):
            commands.append(line)
    return commands


@pytest.mark.parametrize("argv", COMMANDS)
def test_each_command_has_two_to_four_examples_that_parse(run, argv: list[str]) -> None:
    out = run(*argv, "--help").out
    examples = _examples(out)
    assert 2 <= len(examples) <= 4, examples
    for example in examples:
        words = shlex.split(example.split(" > ")[0])[1:]
        walked = _walk(words)
        assert walked is not None, f"{example!r} names an unknown command or option"
        assert walked[0].command_path.startswith("wi " + " ".join(argv)), example
