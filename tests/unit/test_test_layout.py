"""How the tests run wi (issue 13's guard rails): one way, the `wi` fixture of conftest.py (or
`support.run_wi` where a fixture cannot be taken), which holds every run to what any run
promises (no traceback, no raw JWT). No other test module reaches `main()` of wi_cli.cli.app.
Tests that run wi as a user's shell does (`python -m wi_cli`, start-up time, Ctrl-C) start a
subprocess; the script such a test hands to `python -c` is a string, not an import of this file.
An AST walk of every import and attribute, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
APP = "wi_cli.cli.app"
RUNNERS = {"conftest.py", "support.py"}  # the one runner and its fixture, at the top of tests/
# test modules allowed to reach main() themselves, each with why
ALLOWED: dict[str, str] = {}


def reaches_main(source: str) -> list[int]:
    """Lines where a module imports wi's `main` (from wi_cli.cli.app, or the `python -m` entry
    point that calls it), or uses it as an attribute of wi_cli.cli.app."""
    tree = ast.parse(source)
    found: list[int] = []
    modules: set[str] = set()  # the names wi_cli.cli.app is reachable by here
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level:
            if node.module == APP and any(a.name in ("main", "*") for a in node.names):
                found.append(node.lineno)
            elif node.module == "wi_cli" and any(a.name == "__main__" for a in node.names):
                found.append(node.lineno)
            elif node.module == "wi_cli.cli":
                modules.update(a.asname or a.name for a in node.names if a.name == "app")
            elif node.module == "wi_cli.__main__":
                found.append(node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "wi_cli.__main__":
                    found.append(node.lineno)
                elif alias.name == APP:
                    modules.add(alias.asname or APP)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "main" \
                and ast.unparse(node.value) in modules:
            found.append(node.lineno)
    return sorted(found)


def _test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts
                  and p.relative_to(TESTS).as_posix() not in RUNNERS)


def test_no_test_module_runs_main_itself() -> None:
    broken = []
    for path in _test_modules():
        name = path.relative_to(TESTS).as_posix()
        lines = reaches_main(path.read_text(encoding="utf-8"))
        if lines and name not in ALLOWED:
            broken.append(f"tests/{name}:{lines[0]} runs wi's main(): take the `wi` fixture")
    assert not broken, "\n".join(broken)


def test_every_allowed_exception_still_needs_its_place() -> None:
    stale = [name for name in ALLOWED
             if not (TESTS / name).exists() or not reaches_main((TESTS / name).read_text())]
    assert not stale, f"no longer reach main(), drop them from ALLOWED: {stale}"


def test_the_runner_is_where_this_test_expects_it() -> None:
    assert reaches_main((TESTS / "support.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize("source, reaches", [
    ("from wi_cli.cli.app import main", True),
    ("from wi_cli.cli.app import main as run", True),
    ("from wi_cli.cli.app import *", True),
    ("def test():\n    from wi_cli.cli.app import main\n    main([])", True),
    ("import wi_cli.cli.app\nwi_cli.cli.app.main([])", True),
    ("import wi_cli.cli.app as cli\ncli.main([])", True),
    ("from wi_cli.cli import app\napp.main(['--help'])", True),
    ("from wi_cli.cli import app as a\nx = a.main", True),
    ("import wi_cli.__main__", True),
    ("from wi_cli import __main__", True),
    ("from wi_cli.cli.app import _walk", False),
    ("from wi_cli.cli import app\napp.root_command()", False),
    ("script = 'from wi_cli.cli.app import main\\nmain([])'", False),  # a subprocess's script
    ("def main():\n    pass\nmain()", False),
    ("from wi_cli.lab.serve import main\nmain()", False),
])
def test_the_walk_finds_main_however_it_is_reached(source: str, reaches: bool) -> None:
    assert bool(reaches_main(source)) is reaches, source
