#!/usr/bin/env bash
# CI for the `mpi` feature: OpenMPI and libclang from Debian packages when mpirun is missing (a
# fresh Debian machine, as root), drift-bench built and linted with the feature, then the MPI tests
# (`mpirun -np 4 --oversubscribe`) and the batched `apply` tests on the feature-enabled binary
# started plainly (it must behave as the default build).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mpirun >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev libclang-dev >/dev/null
fi
# mpirun refuses root unless told; the tests pass --allow-run-as-root, the variables cover the rest.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cargo build --release -p drift-bench --features mpi
cargo clippy --release -p drift-bench --features mpi --all-targets -- -D warnings
CI=true cargo test --release -p drift-bench --features mpi --lib mpi
CI=true cargo test --release -p drift-bench --features mpi --doc mpi
CI=true cargo test --release -p drift-bench --features mpi --test mpi --test mpi_columns --test mpi_faults --test npy_rows --test apply_batch
