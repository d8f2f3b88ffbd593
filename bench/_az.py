"""The Azure CLI the benchmarks compare wi with, and the environment both run in.

`az` is `--az PATH` when given, else the one on PATH, else an `azure-cli` installed (once, a few
minutes) into a throwaway venv under ~/.cache/wi-bench. Both programs run as installed programs
do, with their bytecode cached (pip compiles it at install; a warm-up run writes it for an
editable install): PYTHONDONTWRITEBYTECODE is unset for them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping

AZ_VENV = Path.home() / ".cache" / "wi-bench" / "azure-cli"
# never inherited by a timed program: they would point it at another cloud, account or cluster
OUTER_PREFIXES = ("AZURE_", "ARM_", "WI_", "KUBECONFIG", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def find_az(given: str | None) -> str:
    if given:
        return given
    on_path = shutil.which("az")
    if on_path:
        return on_path
    az = AZ_VENV / "bin" / "az"
    if not az.exists():
        print(f"Installing azure-cli into {AZ_VENV} (once)...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(AZ_VENV)], check=True)
        subprocess.run([str(AZ_VENV / "bin" / "pip"), "install", "-q", "azure-cli"], check=True)
    return str(az)


def find_wi() -> list[str]:
    """The wi beside this interpreter (the project's venv), else on PATH, else ``-m wi_cli``."""
    wi = shutil.which("wi", path=str(Path(sys.executable).parent)) or shutil.which("wi")
    return [wi] if wi else [sys.executable, "-m", "wi_cli"]


def base_env(outer: Mapping[str, str] | None = None, *, isolate: bool = False) -> dict[str, str]:
    """The environment a timed program starts from: ``outer`` (default os.environ) without
    PYTHONDONTWRITEBYTECODE, az's telemetry and colour off; with ``isolate``, also without the
    outer shell's Azure, wi and Kubernetes settings."""
    env = {k: v for k, v in (os.environ if outer is None else outer).items()
           if k != "PYTHONDONTWRITEBYTECODE" and not (isolate and k.startswith(OUTER_PREFIXES))}
    env.update(AZURE_CORE_COLLECT_TELEMETRY="no", AZURE_CORE_NO_COLOR="1", COLUMNS="80")
    return env


def az_version(az: str, env: Mapping[str, str]) -> str:
    return subprocess.run([az, "version", "-o", "tsv", "--query", '"azure-cli"'],
                          capture_output=True, text=True, env=dict(env)).stdout.strip() or "?"
