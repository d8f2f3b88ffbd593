"""How fast `wi` answers before any real work: `wi --help` and friends, against the Azure CLI.

Run by hand: `python bench/startup.py [--runs N]`. Prints the median wall time of each command
and its ratio to the bar (`az --help`, about 0.2 s here; measured when `az` is on PATH).
Not a test: speed is measured, not asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

AZ_HELP_SECONDS = 0.2  # `az --help` on this kind of machine (measured when az is installed)
COMMANDS = [["--help"], ["--version"], ["doctor", "--help"], ["bind", "--help"],
            ["probe", "--help"], ["doctor", "--list-checks"]]


def wall(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    wi = shutil.which("wi") or None
    base = [wi] if wi else [sys.executable, "-m", "wi_cli"]
    bar = AZ_HELP_SECONDS
    az = shutil.which("az")
    if az:
        bar = wall([az, "--help"], args.runs)
        print(f"az --help: {bar:.3f} s (measured)")
    else:
        print(f"az --help: {bar:.3f} s (reference; az not installed here)")
    for cmd in COMMANDS:
        t = wall(base + cmd, args.runs)
        print(f"wi {' '.join(cmd):<24} {t:.3f} s   ratio to az --help: {t / bar:.2f}x")


if __name__ == "__main__":
    main()
