//! Resources of the sliced-Wasserstein operator: its peak memory does not grow with the number of
//! directions, and streaming the directions in blocks leaves its results unchanged.

use drift_api::{Context, DriftOperator, PointCloud};
use drift_ops::random::SplitMix64;
use drift_ops::{sliced_wasserstein_squared, CpuBackend, SlicedWasserstein};
use std::sync::Mutex;

#[path = "support/peak_memory.rs"]
mod peak_memory;
use peak_memory::peak_extra;

// The allocation counters are global: tests of this file run one at a time so that they do not blur each
// other's peaks.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn cloud(name: &str, n: usize, d: usize, freq: f64, shift: f64) -> PointCloud<f64> {
    let data = (0..n * d)
        .map(|k| (k as f64 * freq).sin() + shift)
        .collect();
    PointCloud::new(name, data, d).unwrap()
}

fn sliced(directions: usize, seed: u64, resample_each_step: bool) -> SlicedWasserstein {
    SlicedWasserstein {
        directions,
        seed,
        resample_each_step,
    }
}

fn drift_at<T: drift_api::Real>(
    op: &dyn DriftOperator,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    step: u64,
) -> Vec<T> {
    drift_ops::drift_with(&CpuBackend, op, x, y, &Context::at(step, 0.0))
        .unwrap()
        .0
}

#[test]
fn peak_memory_does_not_grow_with_the_number_of_directions() {
    let _guard = serial();
    let (n, m, d) = (64, 96, 256);
    let x = cloud("x", n, d, 0.37, 0.0);
    let y = cloud("y", m, d, 0.11, 0.5);
    let few = peak_extra(&sliced(64, 3, false), &x, &y);
    let many = peak_extra(&sliced(4096, 3, false), &x, &y);
    println!("peak extra bytes: 64 directions {few}, 4096 directions {many}");
    // Holding all directions would cost 4096 · D · 8 = 8 MiB more; allow 1/8 of one block's size.
    let slack = 64 * d * 8 / 8;
    assert!(
        many <= few + slack,
        "4096 directions peak at {many} bytes, 64 directions at {few}: memory grows with the directions"
    );
}

/// The sliced drift computed the plain way: every direction drawn up front, every projection
/// sorted, each particle's shift `q_l(x_i) − θ_l·x_i` found by a linear scan of the quantile knots.
fn reference(
    x: &PointCloud<f64>,
    y: &PointCloud<f64>,
    directions: usize,
    seed: u64,
) -> (Vec<f64>, f64) {
    let (n, d) = (x.len(), x.dim());
    let (a, b) = (x.probabilities(), y.probabilities());
    let mut rng = SplitMix64::new(seed);
    let thetas: Vec<Vec<f64>> = (0..directions).map(|_| rng.unit_vector(d)).collect();
    let mut field = vec![0.0; n * d];
    let mut sw2 = 0.0;
    for theta in &thetas {
        let proj = |p: &PointCloud<f64>| -> Vec<f64> {
            (0..p.len())
                .map(|i| p.point(i).iter().zip(theta).map(|(c, t)| c * t).sum())
                .collect()
        };
        let (px, py) = (proj(x), proj(y));
        let sorted = |v: &[f64]| {
            let mut idx: Vec<usize> = (0..v.len()).collect();
            idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]).then(i.cmp(&j)));
            idx
        };
        let (ox, oy) = (sorted(&px), sorted(&py));
        let mut knots = Vec::new();
        let mut cum = 0.0;
        for &j in &oy {
            knots.push((cum + 0.5 * b[j], py[j]));
            cum += b[j];
        }
        let mut level = 0.0;
        for &i in &ox {
            let u = level + 0.5 * a[i];
            level += a[i];
            let q = if u <= knots[0].0 {
                knots[0].1
            } else if u >= knots[knots.len() - 1].0 {
                knots[knots.len() - 1].1
            } else {
                let k = knots.iter().rposition(|kn| kn.0 <= u).unwrap();
                let ((u0, q0), (u1, q1)) = (knots[k], knots[k + 1]);
                q0 + (q1 - q0) * (u - u0) / (u1 - u0)
            };
            let s = q - px[i];
            sw2 += a[i] * s * s;
            for (f, t) in field[i * d..(i + 1) * d].iter_mut().zip(theta) {
                *f += d as f64 / directions as f64 * s * t;
            }
        }
    }
    (field, sw2 / directions as f64)
}

#[test]
fn many_directions_match_a_plain_reference() {
    let _guard = serial();
    let x = cloud("x", 23, 5, 0.37, 0.0)
        .with_weights((0..23).map(|i| 1.0 + (i % 4) as f64).collect())
        .unwrap();
    let y = cloud("y", 31, 5, 0.11, 0.7);
    // More directions than several blocks, and not a multiple of a block.
    for directions in [1, 63, 64, 65, 1000] {
        let op = sliced(directions, 11, false);
        let v = drift_at(&op, &x, &y, 0);
        let sw2 = sliced_wasserstein_squared(&op, &x, &y, 0).unwrap();
        let (v_ref, sw2_ref) = reference(&x, &y, directions, 11);
        let scale = v_ref.iter().fold(0.0f64, |s, c| s.max(c.abs()));
        for (k, (got, want)) in v.iter().zip(&v_ref).enumerate() {
            assert!(
                (got - want).abs() <= 1e-12 * scale,
                "{directions} directions, value {k}: {got} vs {want}"
            );
        }
        assert!(
            (sw2 - sw2_ref).abs() <= 1e-12 * sw2_ref,
            "{directions} directions: SW2 {sw2} vs {sw2_ref}"
        );
    }
}

/// FNV-1a over the bit patterns of a field: a fingerprint that changes with any bit of any value.
fn fingerprint(values: impl IntoIterator<Item = u64>) -> u64 {
    values.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ v).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn results_are_bit_for_bit_those_of_the_unblocked_operator() {
    let _guard = serial();
    // Fingerprints recorded with the operator that held every direction at once; streaming the
    // directions in blocks must not change a single bit.
    let x = cloud("x", 40, 3, 0.37, 0.0)
        .with_weights((0..40).map(|i| 0.5 + (i % 3) as f64).collect())
        .unwrap();
    let y = cloud("y", 57, 3, 0.11, 0.4);
    let x32 = PointCloud::new("x", x.data().iter().map(|c| *c as f32).collect(), 3).unwrap();
    let y32 = PointCloud::new("y", y.data().iter().map(|c| *c as f32).collect(), 3).unwrap();
    let mut got = Vec::new();
    for (directions, seed, resample, step) in [
        (1, 0, false, 0),
        (64, 1, true, 7),
        (200, 5, false, 0),
        (1000, 9, true, 3),
    ] {
        let op = sliced(directions, seed, resample);
        let v = drift_at(&op, &x, &y, step);
        let v32 = drift_at(&op, &x32, &y32, step);
        let sw2 = sliced_wasserstein_squared(&op, &x, &y, step).unwrap();
        got.push((
            fingerprint(v.iter().map(|c| c.to_bits())),
            fingerprint(v32.iter().map(|c| c.to_bits() as u64)),
            sw2.to_bits(),
        ));
    }
    let want = [
        (
            0x4506_5b61_7b20_e4bc,
            0x701e_1366_ef53_30db,
            0x3f9e_8114_70ce_06ff,
        ),
        (
            0x0a26_1d4b_9e07_2b08,
            0x90c1_3c2b_3b4b_4344,
            0x3fc7_2bb5_6c0f_5fbf,
        ),
        (
            0x6415_f7a1_0f1a_297b,
            0x599a_95e8_5cd7_9fad,
            0x3fc5_c740_273a_5e9b,
        ),
        (
            0x1250_33ec_124d_c153,
            0x0f1e_7941_a974_d248,
            0x3fc5_fd28_ac3c_8469,
        ),
    ];
    assert_eq!(got, want);
}
