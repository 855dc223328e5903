#!/usr/bin/env bash
# Set up no3rr-descriptors on a fresh Debian machine.
#
#   bash scripts/setup.sh           # Python venv .venv with the package (enough for every screen on EMT/xtb)
#   bash scripts/setup.sh --full    # + everything the full test suite exercises: system packages (apt-get),
#                                   #   optional backends (GPAW, ML potentials, PostgreSQL driver), and the
#                                   #   local services the tests talk to (munge + Slurm, PostgreSQL).
#
# Idempotent: re-running it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
FULL=0
[[ "${1:-}" == "--full" ]] && FULL=1

PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
PIP=".venv/bin/pip"

if [[ $FULL == 0 ]]; then
    $PIP install -q -e '.[test]'
    exit 0
fi

SUDO=""
[[ $(id -u) != 0 ]] && SUDO="sudo"
APT_PACKAGES=()
# --- section: cluster (Slurm, munge, PostgreSQL) ---
# --- end section: cluster ---
# --- section: dft (GPAW build dependencies) ---
# --- end section: dft ---
if (( ${#APT_PACKAGES[@]} )); then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
fi

$PIP install -q -e '.[test]'
# --- section: python extras (ML potentials, GPAW, PostgreSQL driver, benchmarks) ---
# --- end section: python extras ---

# --- section: services (started for the test suite) ---
# --- end section: services ---
