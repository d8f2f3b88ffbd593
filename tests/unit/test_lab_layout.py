"""The lab's shape (issue 13's guard rails): small modules, and no import from the rest of wi.

The lab stands in for Entra, ARM and Kubernetes; it must not lean on the code it tests, so
nothing under ``wi_cli/lab/`` imports ``wi_cli`` outside ``wi_cli.lab``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wi_cli.lab

LAB = Path(wi_cli.lab.__file__).resolve().parent
REPO = LAB.parents[1]
MAX_LINES = 600

# Lab modules still over MAX_LINES, to be split like lab/arm/ and lab/entra/ were. Another
# change is working on these two now; when one is split (or shrinks), drop it from this list.
LONG_MODULES_TO_SPLIT = {
    "wi_cli/lab/kube/webhook.py",
}


def _lab_modules() -> list[Path]:
    return sorted(LAB.rglob("*.py"))


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute name) for every import in ``source``, relative ones resolved as Python
    does for ``module``; ``from X import a`` yields ``X.a`` (``a`` is a submodule or a name in X)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[:len(base_parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _outside_lab(name: str) -> bool:
    return name.startswith("wi_cli.") and not (name == "wi_cli.lab" or name.startswith("wi_cli.lab."))


def outside_imports(path: Path) -> list[str]:
    found = imported_modules(path.read_text(encoding="utf-8"), _module_name(path),
                             path.name == "__init__.py")
    return [f"{path.relative_to(REPO)}:{line} imports {name}" for line, name in found
            if _outside_lab(name)]


def test_no_lab_module_is_over_the_line_limit() -> None:
    too_long = [f"{path.relative_to(REPO)}: {_lines(path)} lines" for path in _lab_modules()
                if _lines(path) > MAX_LINES
                and str(path.relative_to(REPO)) not in LONG_MODULES_TO_SPLIT]
    assert not too_long, (f"lab modules over {MAX_LINES} lines; split them by concern "
                          f"(see wi_cli/lab/arm/): {too_long}")


@pytest.mark.parametrize("name", sorted(LONG_MODULES_TO_SPLIT))
def test_the_allow_list_names_only_modules_still_too_long(name: str) -> None:
    path = REPO / name
    assert path.exists() and _lines(path) > MAX_LINES, (
        f"{name} is gone or within {MAX_LINES} lines now: remove it from LONG_MODULES_TO_SPLIT")


def test_the_lab_imports_nothing_from_the_rest_of_wi() -> None:
    offending = [hit for path in _lab_modules() for hit in outside_imports(path)]
    assert not offending, f"the lab must not import from wi_cli outside wi_cli.lab: {offending}"


@pytest.mark.parametrize("source, module, is_package, outside", [
    ("from ..core import models", "wi_cli.lab.tokens", False, True),
    ("from ...core.models import Identity", "wi_cli.lab.arm.frontdoor", False, True),
    ("from ... import core", "wi_cli.lab.arm", True, True),
    ("from wi_cli import __version__", "wi_cli.lab.serve", False, True),
    ("import wi_cli.cli.app", "wi_cli.lab.serve", False, True),
    ("def f():\n    from wi_cli.adapters import azure", "wi_cli.lab.admin", False, True),
    ("from ..http import Router", "wi_cli.lab.arm.router", False, False),
    ("from . import rbac", "wi_cli.lab.runtime", False, False),
    ("from .frontdoor import Arm", "wi_cli.lab.arm", True, False),
    ("from .. import kube", "wi_cli.lab.arm", True, False),
    ("from wi_cli import lab", "wi_cli.lab.serve", False, False),
    ("from wi_cli.lab.kube import KubeCluster", "wi_cli.lab.serve", False, False),
])
def test_the_import_check_resolves_relative_imports(source: str, module: str, is_package: bool,
                                                     outside: bool) -> None:
    found = imported_modules(source, module, is_package)
    assert any(_outside_lab(name) for _, name in found) is outside, (source, found)
