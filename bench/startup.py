"""How fast `wi` answers before any real work, side by side with the Azure CLI.

    python bench/startup.py [--runs N] [--az PATH]

Each `wi ... --help` is paired with the matching `az` help (`wi bind --help` with `az identity
federated-credential create --help`, ...). The two of a pair run alternately (wi first on even
runs, az first on odd ones, after one warm-up each) and the medians are compared: a ratio <= 1
means wi answers as fast as az or faster. `wi doctor --list-checks` is held to 0.3 s.

Which `az`, and the environment both run in: bench/_az.py. Not a test: speed is measured, not
asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from _az import az_version, base_env, find_az, find_wi

PAIRS = [
    (["--help"], ["--help"]),
    (["bind", "--help"], ["identity", "federated-credential", "create", "--help"]),
    (["unbind", "--help"], ["identity", "federated-credential", "delete", "--help"]),
    (["doctor", "--help"], ["aks", "show", "--help"]),
    (["probe", "--help"], ["aks", "command", "invoke", "--help"]),
    (["provision", "--help"], ["aks", "create", "--help"]),
    (["lab", "up", "--help"], ["aks", "start", "--help"]),
]
ALONE = [(["--version"], None), (["doctor", "--list-checks"], 0.3)]


def once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   env=env)
    return time.perf_counter() - start


def pair(wi: list[str], az: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    once(wi, env), once(az, env)  # warm-up: byte code, az's command index
    times: dict[str, list[float]] = {"wi": [], "az": []}
    for i in range(runs):
        order = [("wi", wi), ("az", az)] if i % 2 == 0 else [("az", az), ("wi", wi)]
        for name, argv in order:
            times[name].append(once(argv, env))
    return statistics.median(times["wi"]), statistics.median(times["az"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--az", help="the az executable (default: on PATH, else installed)")
    args = parser.parse_args()
    base = find_wi()
    az = find_az(args.az)
    env = base_env()
    print(f"median of {args.runs} alternated runs; az {az_version(az, env)} at {az}")
    worst = 0.0
    for wi_args, az_args in PAIRS:
        t_wi, t_az = pair(base + wi_args, [az, *az_args], args.runs, env)
        worst = max(worst, t_wi / t_az)
        print(f"wi {' '.join(wi_args):<24} {t_wi:.3f} s   az {' '.join(az_args):<44} "
              f"{t_az:.3f} s   ratio {t_wi / t_az:.2f}")
    for wi_args, bar in ALONE:
        t = statistics.median(once(base + wi_args, env) for _ in range(args.runs))
        verdict = f"   bar {bar:.1f} s: {'met' if t <= bar else 'NOT met'}" if bar else ""
        print(f"wi {' '.join(wi_args):<24} {t:.3f} s{verdict}")
    print(f"worst help ratio {worst:.2f} ({'met' if worst <= 1.0 else 'NOT met'}: <= 1.00)")


if __name__ == "__main__":
    main()
