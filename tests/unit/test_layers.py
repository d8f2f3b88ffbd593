"""The architecture as tests (issue 13, ../shared/DESIGN.md §2): which package may import which,
no SDK or HTTP library below the adapters, the in-pod agent stdlib-only, and no module too long
to read. An AST walk of every import, including those inside functions."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wi_cli"
SDKS = ("azure", "kubernetes", "urllib3", "requests", "msal", "httpx", "aiohttp")
HTTP = ("urllib.request", "http.client")
# package -> packages of wi_cli it must not import
FORBIDDEN = {
    "core": ("adapters", "cli", "doctor", "render", "lab", "agent"),
    "doctor": ("adapters", "cli", "render", "lab", "agent"),
    "render": ("adapters", "cli", "doctor", "lab", "agent"),
    "adapters": ("cli", "doctor", "render", "lab", "agent"),
}
MAX_LINES = 400
# modules allowed over MAX_LINES, each with why (the lab has its own limit: test_lab_layout)
LONG_MODULES = {
    "agent/agent.py": "the in-pod agent is ONE stdlib-only file, shipped in a ConfigMap",
}


def _modules(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module name the file imports, relative imports resolved."""
    module = _name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
                found.add(target)
                if not node.module:  # from . import x: x may be a module
                    found.update(f"{prefix}.{a.name}" for a in node.names)
            else:
                found.add(node.module or "")
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "wi_cli" else None


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    broken = []
    for path in _modules(PACKAGE / layer):
        for target in imports(path):
            top = target.split(".")[0]
            if layer != "adapters" and (top in SDKS or target.startswith(HTTP)):
                broken.append(f"{_name(path)} imports {target} (SDKs and HTTP live in adapters)")
            if _layer(target) in FORBIDDEN[layer]:
                broken.append(f"{_name(path)} imports {target}")
    assert not broken, "\n".join(broken)


def test_the_agent_is_standard_library_only() -> None:
    agent = PACKAGE / "agent" / "agent.py"
    outside = sorted(t for t in imports(agent)
                     if t.split(".")[0] not in sys.stdlib_module_names and t != "__future__")
    assert not outside, f"the agent runs in a bare python3 image: {outside}"


def test_no_module_is_too_long_to_read() -> None:
    too_long = []
    for path in _modules(PACKAGE):
        rel = str(path.relative_to(PACKAGE))
        if rel.startswith("lab/") or rel in LONG_MODULES:
            continue
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            too_long.append(f"{rel}: {lines} lines")
    assert not too_long, f"modules over {MAX_LINES} lines (split by concern): {too_long}"


def test_the_allow_list_is_not_stale() -> None:
    for rel in LONG_MODULES:
        path = PACKAGE / rel
        assert path.is_file() and len(path.read_text().splitlines()) > MAX_LINES, \
            f"{rel} is gone or short now: drop it from LONG_MODULES"


def test_relative_imports_resolve() -> None:
    probe = PACKAGE / "doctor" / "checks" / "workload" / "pods.py"
    assert "wi_cli.core.models" in imports(probe)
    assert "wi_cli.doctor.registry" in imports(probe)


def test_only_the_settings_read_the_process_environment() -> None:
    """core/config.py's Environment is the one reader of os.environ (the lab and the in-pod agent
    are programs of their own): everything else gets its values from Settings, so a command can
    run against other settings (`wi demo` against its lab) without touching the process's."""
    readers = []
    for path in _modules(PACKAGE):
        rel = str(path.relative_to(PACKAGE))
        if rel.startswith(("lab/", "agent/")) or rel == "core/config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.append(f"{rel}:{node.lineno}")
    assert not readers, readers
