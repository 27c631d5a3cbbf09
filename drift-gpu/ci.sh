#!/usr/bin/env bash
# CI for the CUDA backend on a machine without a GPU (and on one with it):
#   1. the crate builds, lints and tests without the `cuda` feature (no CUDA anywhere);
#   2. with the feature, NVRTC is installed from the Python package index into a virtual
#      environment under the cargo target directory, and every CUDA source the backend generates
#      is compiled to PTX (tests/ptx.rs); the conformance suite runs against the CPU backend, and
#      against the GPU where one exists (DRIFT_REQUIRE_GPU=1 makes a missing one fail).
# When pip cannot install NVRTC (no network, no Python), the PTX step says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
mode="${DRIFT_GPU_CI_PROFILE:---release}"

echo "== drift-gpu without the cuda feature"
cargo build $mode -p drift-gpu
cargo clippy $mode -p drift-gpu --all-targets -- -D warnings
cargo test $mode -p drift-gpu

echo "== drift-gpu with the cuda feature (no CUDA toolkit needed to build)"
cargo build $mode -p drift-gpu --features cuda --all-targets
cargo clippy $mode -p drift-gpu --features cuda --all-targets -- -D warnings

venv="$target/drift-gpu-venv"
nvrtc_lib=""
if python3 -m venv "$venv" >/dev/null 2>&1 \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check "nvidia-cuda-nvrtc-cu12>=12.8,<13"; then
    nvrtc_lib="$("$venv/bin/python" - <<'PY'
import pathlib, nvidia.cuda_nvrtc as m
for p in m.__path__:
    lib = pathlib.Path(p) / "lib"
    if (lib / "libnvrtc.so.12").exists():
        print(lib)
        break
PY
)"
fi

if [ -n "$nvrtc_lib" ]; then
    echo "== NVRTC from $nvrtc_lib: compiling every CUDA source to PTX"
    # cudarc finds NVRTC by name through the dynamic loader, which reads LD_LIBRARY_PATH at start.
    LD_LIBRARY_PATH="$nvrtc_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" DRIFT_REQUIRE_NVRTC=1 \
        cargo test $mode -p drift-gpu --features cuda -- --nocapture
else
    echo "== NVRTC could not be installed (pip nvidia-cuda-nvrtc-cu12): PTX compilation SKIPPED"
    cargo test $mode -p drift-gpu --features cuda -- --nocapture
fi
echo "drift-gpu CI passed"
