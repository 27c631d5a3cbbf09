//! The plugin's names resolve from RON next to the built-ins, and its operator matches a dense
//! reference computed here.

use drift_api::{load_operator, registry, DriftOperator, PointCloud};
use drift_example_plugin::{MeanShift, StudentT};

#[test]
fn the_plugin_registers_its_names() {
    let names: Vec<&str> = registry::entries().iter().map(|r| r.name).collect();
    assert!(names.contains(&"example.student_t") && names.contains(&"example.mean_shift"));
    assert!(
        names.contains(&"sinkhorn_drift"),
        "built-ins are linked through drift-ops"
    );
}

#[test]
fn the_ron_file_loads_and_runs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/mean_shift.ron");
    let op = load_operator(path).unwrap();
    let x = PointCloud::new("x", vec![0.0f64, 0.0, 0.5, 0.1], 2).unwrap();
    let y = PointCloud::new("y", vec![1.0f64, 1.0, 2.0, 0.0, 1.5, 0.5], 2).unwrap();
    let (v, report) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
    assert_eq!(report.parts[0].operator, "example.mean_shift");
    assert!(v.iter().all(|c| c.is_finite()));
}

#[test]
fn mean_shift_matches_a_dense_reference() {
    let x: Vec<[f64; 2]> = vec![[0.0, 0.0], [0.3, -0.2], [1.0, 0.4]];
    let y: Vec<[f64; 2]> = vec![[1.0, 1.0], [2.0, 0.0], [1.5, 0.5], [-0.5, 0.3]];
    let (nu, tau) = (2.5, 0.3);
    let op = MeanShift {
        kernel: Box::new(StudentT { nu }),
        temperature: tau,
    };
    let xs = PointCloud::new("x", x.iter().flatten().copied().collect(), 2).unwrap();
    let ys = PointCloud::new("y", y.iter().flatten().copied().collect(), 2).unwrap();
    let (v, _) = drift_ops::drift(&op as &dyn DriftOperator, &xs, &ys).unwrap();
    for (i, xi) in x.iter().enumerate() {
        let k: Vec<f64> = y
            .iter()
            .map(|yj| {
                let d2 = (xi[0] - yj[0]).powi(2) + (xi[1] - yj[1]).powi(2);
                (1.0 + d2 / (nu * tau)).powf(-(nu + 1.0) / 2.0)
            })
            .collect();
        let total: f64 = k.iter().sum();
        for c in 0..2 {
            let want: f64 = k
                .iter()
                .zip(&y)
                .map(|(w, yj)| w * (yj[c] - xi[c]))
                .sum::<f64>()
                / total;
            assert!((v[i * 2 + c] - want).abs() < 1e-12);
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let op = MeanShift {
        kernel: Box::new(StudentT { nu: -1.0 }),
        temperature: 0.3,
    };
    assert!(op.validate().unwrap_err().to_string().contains("nu"));
}
