//! The official loss against the dense f64 reference.

use super::fixtures::*;

use drift_api::kit::SingleProcess;
use drift_api::operator_from_str;

#[test]
fn official_loss_matches_the_dense_reference() {
    let sizes = [(6, 3, 9), (6, 3, 9), (6, 3, 9), (6, 3, 9)];
    for (dim, weighted, negatives) in [
        (3, false, false),
        (3, true, true),
        (20, false, true),
        (20, true, false),
        // Several blocks of coordinates in the CPU passes (f64: 1808 each for 18 targets; f32:
        // 3632).
        (4000, true, true),
    ] {
        let mut r = raw(7 + dim as u64, dim, &sizes, weighted);
        if !negatives {
            r.neg = vec![vec![]; sizes.len()];
            r.wn = None;
        }
        for over in ["Batch", "Problem"] {
            let op =
                operator_from_str(&format!(r#"{{"deng_official": (over: {over})}}"#), "t").unwrap();
            let (want, _) = official_reference(&r, &TEMPS, over == "Problem");
            let want: Vec<f64> = want.concat();
            let f64s = flat::<f64>(&r, negatives);
            let (v64, report) = run_batch(op.as_ref(), &f64s.batch(), &SingleProcess).unwrap();
            assert!(
                rel(&v64, &want) < 1e-12,
                "f64 D={dim} {over}: {}",
                rel(&v64, &want)
            );
            let f32s = flat::<f32>(&r, negatives);
            let (v32, _) = run_batch(op.as_ref(), &f32s.batch(), &SingleProcess).unwrap();
            assert!(
                rel(&v32, &want) < 1e-5,
                "f32 D={dim} {over}: {}",
                rel(&v32, &want)
            );
            assert_eq!(report.temperature_norms.len(), 3);
            assert!(report.scale.unwrap() > 0.0);
        }
    }
}

#[test]
fn official_loss_on_a_ragged_batch_takes_its_statistics_over_every_problem() {
    let r = raw(3, 5, &[(4, 2, 7), (9, 0, 3), (5, 4, 11)], true);
    let (want, scale) = official_reference(&r, &TEMPS, false);
    let f = flat::<f64>(&r, true);
    let op = operator_from_str(r#"{"deng_official": ()}"#, "t").unwrap();
    let (v, report) = run_batch(op.as_ref(), &f.batch(), &SingleProcess).unwrap();
    assert!(rel(&v, &want.concat()) < 1e-12);
    assert!((report.scale.unwrap() - scale).abs() < 1e-12 * scale);
    // Per problem, each problem is on its own: the first problem alone gives its own field.
    let alone = Raw {
        x: vec![r.x[0].clone()],
        neg: vec![r.neg[0].clone()],
        pos: vec![r.pos[0].clone()],
        wx: r.wx.as_ref().map(|w| vec![w[0].clone()]),
        wn: r.wn.as_ref().map(|w| vec![w[0].clone()]),
        wp: r.wp.as_ref().map(|w| vec![w[0].clone()]),
        ..r.clone()
    };
    let (want_alone, _) = official_reference(&alone, &TEMPS, false);
    let op = operator_from_str(r#"{"deng_official": (over: Problem)}"#, "t").unwrap();
    let (v, _) = run_batch(op.as_ref(), &f.batch(), &SingleProcess).unwrap();
    assert!(rel(&v[..4 * 5], &want_alone[0]) < 1e-12);
}
