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
# A one-node Slurm cluster and a PostgreSQL server for tests/test_slurm.py and tests/test_postgres.py.
for pkg in slurm-wlm munge postgresql; do
    dpkg -s "$pkg" >/dev/null 2>&1 || APT_PACKAGES+=("$pkg")
done
# --- end section: cluster ---
# --- section: dft (GPAW build dependencies) ---
# GPAW is compiled from PyPI against Debian's libxc and OpenBLAS (with g++, see python extras); its
# PAW setups come with the gpaw-data wheel it depends on (or set GPAW_SETUP_PATH, e.g. to Debian's
# gpaw-data in /usr/share/gpaw-setups).
for pkg in g++ libxc-dev libopenblas-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || APT_PACKAGES+=("$pkg")
done
# Quantum ESPRESSO: pw.x 6.7 (OpenMPI build) and quantum-espresso-data, whose pseudopotentials in
# /usr/share/espresso/pseudo are the espresso calculator's default table (calculators/espresso.py).
# quantum-espresso pulls in the mpicc/mpic++ wrappers but not mpi.h: GPAW's pip build then sees
# mpicc, compiles with MPI and fails on 'mpi.h: No such file'; libopenmpi-dev provides it.
for pkg in quantum-espresso quantum-espresso-data libopenmpi-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || APT_PACKAGES+=("$pkg")
done
# --- end section: dft ---
# --- section: report (headless Chromium renders the HTML report in tests/test_html_report.py) ---
dpkg -s chromium >/dev/null 2>&1 || APT_PACKAGES+=(chromium)
# --- end section: report ---
if (( ${#APT_PACKAGES[@]} )); then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
fi

$PIP install -q -e '.[test]'
# --- section: python extras (ML potentials, GPAW, PostgreSQL driver, benchmarks) ---
# torch first, and exactly the CPU build that lies on this machine's disk: a plain 'torch' (or a
# package that asks for a newer one) would pull a multi-GB CUDA build.  Then the ML potentials
# (CHGNet, SevenNet: weights inside their wheels) and GPAW, which builds only with CC=g++ here.
.venv/bin/python -c "import torch" 2>/dev/null || $PIP install -q torch==2.13.0
.venv/bin/python -c "import gpaw, _gpaw" 2>/dev/null || CC=g++ $PIP install -q 'gpaw>=26.7,<27'
$PIP install -q -e '.[ml,gpaw]'
$PIP install -q -e '.[postgres]'
$PIP install -q -e '.[bench]'   # python -m benchmarks (pymatgen site finder, psutil)
$PIP install -q -e '.[notebook]'   # pandas: descriptors.report.export.tables()
# --- end section: python extras ---

# --- section: services (started for the test suite) ---
# munge + a one-node Slurm (slurmctld and slurmd on this machine; proctrack/linuxproc and task/none
# need no cgroups, so this works in containers), and PostgreSQL with role/db no3rr/no3rr_test.
as_user() {  # as_user USER CMD...: run CMD as USER (root uses runuser, others sudo)
    local u=$1; shift
    if [[ $(id -u) == 0 ]]; then runuser -u "$u" -- "$@"; else sudo -u "$u" "$@"; fi
}
start_slurm() {
    local host ncpu conf
    host=$(hostname -s)
    ncpu=$(nproc)
    $SUDO mkdir -p /etc/slurm /var/spool/slurmd /var/spool/slurmctld /var/log/slurm /run/munge
    conf=$(cat <<EOC
# written by no3rr-descriptors scripts/setup.sh --full: a one-node test cluster
ClusterName=no3rr
SlurmctldHost=${host}
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${host} CPUs=${ncpu} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOC
)
    if [[ ! -f /etc/slurm/slurm.conf ]] || [[ "$(cat /etc/slurm/slurm.conf)" != "$conf" ]]; then
        echo "$conf" | $SUDO tee /etc/slurm/slurm.conf >/dev/null
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        $SUDO mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
            || $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    $SUDO chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    $SUDO chmod 0400 /etc/munge/munge.key
    munge -n >/dev/null 2>&1 || as_user munge /usr/sbin/munged
    scontrol ping 2>/dev/null | grep -q UP || $SUDO /usr/sbin/slurmctld
    [[ -f /run/slurmd.pid ]] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null || $SUDO /usr/sbin/slurmd
    for _ in $(seq 30); do
        sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)' && break
        $SUDO scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    sinfo
}
start_postgres() {
    local ver
    ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_lsclusters -h | grep -q online || $SUDO pg_ctlcluster "$ver" main start
    as_user postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='no3rr'" | grep -q 1 \
        || as_user postgres psql -qc "CREATE ROLE no3rr LOGIN PASSWORD 'no3rr' CREATEDB"
    as_user postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname='no3rr_test'" | grep -q 1 \
        || as_user postgres createdb -O no3rr no3rr_test
}
start_slurm
start_postgres
# --- end section: services ---
