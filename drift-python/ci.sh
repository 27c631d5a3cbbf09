#!/usr/bin/env bash
# The Python package in a fresh virtual environment: build it with one `pip install` (maturin as
# the PEP 517 backend), run its pytest suite against the drift-bench binary, and run the examples
# on small sizes (the data-parallel one under torchrun, two gloo ranks on the CPU). PyTorch comes
# from PyPI (the wheel pulls its CUDA libraries, a few GB, about two minutes); where it cannot be
# installed, its tests skip and the PyTorch examples are left out. JAX likewise (drift.jax's tests
# and the JAX example).
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
# JAX (CPU wheels, about 400 MB installed): drift.jax's tests and example, skipped without it.
jax=yes
"$venv/bin/python" -m pip install --quiet "jax[cpu]" || jax=no
"$venv/bin/python" -c "import jax" 2>/dev/null || jax=no
echo "JAX installed: $jax"

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
if [ "$jax" = yes ]; then
    "$venv/bin/python" drift-python/examples/train_jax.py --steps 20 --batch 32 --pos 64 \
        --out "$out/digits_jax.png"
    test -s "$out/digits_jax.png"
fi
test -s "$out/flow.png"
"$venv/bin/python" drift-python/bench_overhead.py --repeats 3 --sizes 256
# PyTorch, drift.torch: the class-conditional digits over several feature maps with the step's
# forward under torch.compile(fullgraph=True) (inductor: the first step compiles, about a minute on
# two cores; a graph break fails it), and the data-parallel example with gather=True.
if [ "$torch" = yes ]; then
    "$venv/bin/python" drift-python/examples/conditional_digits.py --compile --steps 3 --log 1 \
        --out "$out/conditional_digits.png"
    test -s "$out/conditional_digits.png"
    "$venv/bin/torchrun" --standalone --nproc_per_node 2 drift-python/examples/distributed_loss.py \
        --steps 3 --classes 4 --per-class 16 --gather
fi
