#!/usr/bin/env bash
# Side-by-side CPU timings of drift against JAX, PyTorch, OTT-JAX, GeomLoss, KeOps and POT.
#
#   drift-bench/scripts/peers/run.sh [peers.py options]     (e.g. --threads 2 --n 4096 --d 64)
#
# 1. creates (or reuses) a virtual environment in target/peers-venv and installs the peers with pip,
#    each on its own so that one that fails to install is skipped by the run, not fatal;
# 2. builds drift as a user would: cargo build --release (default flags) of the drift-bench binary
#    and of its lse_pass example;
# 3. runs peers.py, which prints the table and writes target/peers-report/peers.{md,csv}.
#
# Environment:
#   PYTHON                 the interpreter that creates the environment (default python3, >= 3.10)
#   PEERS_VENV             where the environment lives (default target/peers-venv)
#   PEERS_TORCH            pip arguments that install PyTorch (default "torch"). PyTorch's wheels on
#                          PyPI for Linux x86-64 pull the CUDA libraries as dependencies (about 4.5 GB
#                          in all); pointing pip at PyTorch's CPU-only wheel index gives a ~200 MB
#                          install, e.g. PEERS_TORCH="torch --index-url <PyTorch's CPU wheel index>".
#   PEERS_REINSTALL=1      reinstall the peers even if a previous run installed them
#   CARGO_TARGET_DIR       as for cargo (drift's binaries are looked up there)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${PEERS_VENV:-$root/target/peers-venv}"
py="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating the virtual environment $venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
pip=("$venv/bin/python" -m pip install --quiet)

# One stamp per peer: installed once, skipped on the next runs.
install() {
    local name="$1"; shift
    local stamp="$venv/.installed-$name"
    if [ -e "$stamp" ] && [ "${PEERS_REINSTALL:-0}" != 1 ]; then return 0; fi
    echo "installing $name: pip install $*"
    if "${pip[@]}" "$@"; then
        touch "$stamp"
    else
        echo "WARNING: could not install $name; its rows will say skipped" >&2
    fi
}
install numpy numpy
# shellcheck disable=SC2086  # PEERS_TORCH is a list of pip arguments
install torch ${PEERS_TORCH:-torch}
install jax "jax[cpu]"
install ott ott-jax
install pot POT
install geomloss geomloss
install pykeops pykeops

# KeOps compiles its CPU kernels with the system C++ compiler (g++) on first use, into a cache
# that must be writable: keep it under target/ with everything else the harness makes.
export KEOPS_CACHE_FOLDER="${KEOPS_CACHE_FOLDER:-$root/target/peers-keops}"
mkdir -p "$KEOPS_CACHE_FOLDER"

echo "building drift: cargo build --release -p drift-bench --bin drift-bench --example lse_pass"
(cd "$root" && cargo build --release -p drift-bench --bin drift-bench --example lse_pass)

# No bytecode next to the scripts: the repository stays clean.
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" "$here/peers.py" --root "$root" --target-dir "$target" "$@"
