//! `NcclCollective`: without the `cuda` feature, a driver, a device or NCCL, a typed
//! `NoDevice` error (the test says it skipped; `DRIFT_REQUIRE_GPU=1` makes a missing device fail,
//! `DRIFT_REQUIRE_NCCL=1` a missing NCCL). On one GPU, a communicator of one rank leaves sums as
//! they are; on two or more, one thread per GPU sums every rank's values, checked against the sum
//! written here.

use drift_api::kit::Collective;
use drift_api::DriftError;
use drift_gpu::{gpu_required, NcclCollective, NcclUniqueId};

/// Whether `DRIFT_REQUIRE_NCCL` asks for NCCL.
fn nccl_required() -> bool {
    std::env::var("DRIFT_REQUIRE_NCCL").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A fresh id, or `None` (after saying why) where NCCL cannot run here.
fn id_or_skip() -> Option<NcclUniqueId> {
    match NcclUniqueId::new() {
        Ok(id) => Some(id),
        Err(DriftError::NoDevice { reason }) => {
            let nccl_missing = reason.contains("NCCL library");
            assert!(
                !(nccl_required() || (gpu_required() && !nccl_missing)),
                "NCCL required but unavailable: {reason}"
            );
            eprintln!("skipping the NCCL test: {reason}");
            None
        }
        Err(e) => panic!("a missing device or library must be NoDevice, got: {e}"),
    }
}

#[test]
fn without_a_device_or_nccl_the_error_is_typed() {
    let id = NcclUniqueId::from_bytes([7; drift_gpu::NCCL_ID_BYTES]);
    assert_eq!(id.to_bytes(), [7; drift_gpu::NCCL_ID_BYTES]);
    if !drift_gpu::CUDA_BUILT {
        let e = NcclCollective::new(0, 0, 1, &id).unwrap_err();
        assert!(matches!(e, DriftError::NoDevice { .. }), "{e}");
        assert!(e.to_string().contains("`cuda` feature"), "{e}");
        assert!(NcclUniqueId::new().is_err());
    }
    // Called as a real rank would; skips (or fails where required) without a device.
    let Some(id) = id_or_skip() else {
        return;
    };
    let e = NcclCollective::new(0, 1, 1, &id).unwrap_err();
    assert!(
        e.to_string().contains("not below the number of ranks"),
        "{e}"
    );
}

#[test]
fn sums_over_every_gpu_equal_the_sum_written_here() {
    let Some(id) = id_or_skip() else {
        return;
    };
    let gpus = drift_gpu::cuda_device_count();
    let ranks = gpus.clamp(1, 4);
    let values = |rank: usize| -> Vec<f64> {
        (0..1000)
            .map(|i| ((i * 31 + rank * 7) % 97) as f64 * 0.25 - 3.0 + rank as f64)
            .collect()
    };
    let expected: Vec<f64> = (0..1000)
        .map(|i| (0..ranks).map(|r| values(r)[i]).sum())
        .collect();
    let results: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..ranks)
            .map(|rank| {
                s.spawn(move || {
                    let collective = NcclCollective::new(rank, rank, ranks, &id).unwrap();
                    let mut v = values(rank);
                    collective.all_reduce_sum(&mut v).unwrap();
                    collective.all_reduce_sum(&mut []).unwrap();
                    v
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (rank, got) in results.iter().enumerate() {
        // Sums of quarters of small integers are exact in f64, whatever the order.
        assert_eq!(got, &expected, "rank {rank} of {ranks}");
    }
    eprintln!("NCCL all-reduce over {ranks} GPU(s) matched");
}
