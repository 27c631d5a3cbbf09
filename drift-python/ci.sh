#!/usr/bin/env bash
# The Python package in a fresh virtual environment: build it with one `pip install` (maturin as
# the PEP 517 backend), run its pytest suite against the drift-bench binary, and run the examples
# on small sizes (the data-parallel one under torchrun, two gloo ranks on the CPU). PyTorch comes
# from PyPI (the wheel pulls its CUDA libraries, a few GB, about two minutes); where it cannot be
# installed, its tests skip and the PyTorch examples are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
venv=$target/drift-python-venv
out=$target/drift-python-examples

# The reference the tests compare with, bit for bit.
cargo build --release -p drift-bench
export DRIFT_BENCH=$target/release/drift-bench

rm -rf "$venv" "$out"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet ./drift-python pytest numpy matplotlib
torch=yes
"$venv/bin/python" -m pip install --quiet torch || torch=no
"$venv/bin/python" -c "import torch" 2>/dev/null || torch=no
echo "PyTorch installed: $torch"

# Tests from outside the source folder, so that the installed package is the one imported.
(cd "$root/drift-python/tests" && "$venv/bin/python" -m pytest -q -p no:cacheprovider .)

mkdir -p "$out"
"$venv/bin/python" drift-python/examples/flow.py --steps 20 --n 256 --out "$out/flow.png"
if [ "$torch" = yes ]; then
    "$venv/bin/python" drift-python/examples/train_generator.py --steps 20 --batch 128 \
        --out "$out/digits.png"
    # Data parallel on the CPU: two gloo ranks, the loss's statistics over both.
    "$venv/bin/torchrun" --standalone --nproc_per_node 2 drift-python/examples/distributed_loss.py \
        --steps 5 --classes 4 --per-class 16
fi
test -s "$out/flow.png"
"$venv/bin/python" drift-python/bench_overhead.py --repeats 3 --sizes 256
