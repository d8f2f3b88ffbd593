#!/usr/bin/env bash
# Run checkov on terraform/ from a venv of its own (checkov pulls many heavy
# dependencies that must not end up in the project's venv).
# Skips are allowed only inline in the .tf files (#checkov:skip=ID:reason);
# this script passes none and no config file is read.
# Takes no arguments. Environment:
#   WI_CHECKOV_VENV     venv directory (default ~/.cache/wi-checkov-venv)
#   WI_CHECKOV_DIR      module to scan (default terraform/; tests scan a copy)
#   WI_CHECKOV_VERSION  checkov version to install (pinned so new upstream
#                       checks arrive as a deliberate bump, not a red CI)
#   PYTHON              interpreter used to create the venv
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module_dir="$(cd "${WI_CHECKOV_DIR:-${repo_root}/terraform}" && pwd)"
venv="${WI_CHECKOV_VENV:-${HOME}/.cache/wi-checkov-venv}"
python="${PYTHON:-python3}"
version="${WI_CHECKOV_VERSION:-3.3.30}"

# Parallel test workers may call this at once: one installs, the others wait.
mkdir -p "$(dirname "${venv}")"
exec 9>"${venv}.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
installed="$("${venv}/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null || true)"
if [ "${installed}" != "${version}" ]; then
  echo "checkov.sh: installing checkov ${version} into ${venv}" >&2
  "${python}" -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    "checkov==${version}" >&2
fi
exec 9>&-

for cfg in "${module_dir}/.checkov.yml" "${module_dir}/.checkov.yaml"; do
  if [ -e "${cfg}" ]; then
    echo "checkov.sh: ${cfg} is not allowed; skip checks inline with #checkov:skip=ID:reason" >&2
    exit 2
  fi
done

# checkov also reads .checkov.yaml from the working directory and from HOME,
# and CKV_* variables from the environment: run it from an empty directory,
# with an empty HOME and a minimal environment, so only inline skips count.
scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT
cd "${scratch}"
env -i PATH="${PATH}" HOME="${scratch}" LANG=C.UTF-8 \
  "${venv}/bin/checkov" \
  --directory "${module_dir}" \
  --framework terraform \
  --compact --quiet --skip-download
