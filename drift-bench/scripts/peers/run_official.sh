#!/usr/bin/env bash
# The official drifting loss side by side: Deng et al.'s JAX loss (jitted), a PyTorch port and
# drift's batched `deng_official`, on the training workload's shapes (see official_loss.py).
#
#   drift-bench/scripts/peers/run_official.sh [official_loss.py options]
#       (e.g. --threads 2 --repeats 5 --shapes 256x256 2048x16 32x2048 ragged)
#
# 1. creates (or reuses) the virtual environment of run.sh, target/peers-venv, and installs what
#    this comparison needs with pip (NumPy, JAX for the CPU, PyTorch), each once (a stamp per
#    package, shared with run.sh);
# 2. builds drift as a user would: cargo build --release of the drift-bench binary; if the build
#    fails, the run goes on and drift's columns say why;
# 3. runs official_loss.py, which prints the table and writes
#    target/peers-report/official.{md,csv}.
#
# Environment:
#   PYTHON                 the interpreter that creates the environment (default python3, >= 3.10)
#   PEERS_VENV             where the environment lives (default target/peers-venv)
#   PEERS_TORCH            pip arguments that install PyTorch (default "torch"). PyTorch's wheels on
#                          PyPI for Linux x86-64 pull the CUDA libraries as dependencies (about 4.5 GB
#                          in all); pointing pip at PyTorch's CPU-only wheel index, where it can be
#                          reached, gives a ~200 MB install, e.g.
#                          PEERS_TORCH="torch --index-url <PyTorch's CPU wheel index>".
#   PEERS_REINSTALL=1      reinstall the packages even if a previous run installed them
#   PEERS_NO_BUILD=1       use the drift-bench binary that is there, without building
#   CARGO_TARGET_DIR       as for cargo (drift's binary is looked up there)
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

# One stamp per package (the same stamps as run.sh): installed once, skipped on the next runs.
install() {
    local name="$1"; shift
    local stamp="$venv/.installed-$name"
    if [ -e "$stamp" ] && [ "${PEERS_REINSTALL:-0}" != 1 ]; then return 0; fi
    echo "installing $name: pip install $*"
    if "${pip[@]}" "$@"; then
        touch "$stamp"
    else
        echo "WARNING: could not install $name" >&2
    fi
}
install numpy numpy
install jax "jax[cpu]"
# shellcheck disable=SC2086  # PEERS_TORCH is a list of pip arguments
install torch ${PEERS_TORCH:-torch}

drift_args=()
if [ "${PEERS_NO_BUILD:-0}" != 1 ]; then
    echo "building drift: cargo build --release -p drift-bench --bin drift-bench"
    if ! (cd "$root" && cargo build --release -p drift-bench --bin drift-bench); then
        echo "WARNING: the build of drift-bench failed; drift's columns will say so" >&2
        drift_args=(--skip-drift "cargo build --release -p drift-bench failed")
    fi
fi

# No bytecode next to the scripts: the repository stays clean.
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" "$here/official_loss.py" --root "$root" --target-dir "$target" \
    "${drift_args[@]}" "$@"
