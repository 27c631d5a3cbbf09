//! The built-ins are registered with typetag: operator trees written in RON deserialise and run.

use drift_api::{DriftOperator, PointCloud};

const EXAMPLE: &str = r#"{"cross_minus_self": (
    attraction:     (kernel: {"gaussian": ()}, coupling: {"sinkhorn": (max_iters: 50, tol: 1e-6)}, temperature: 0.05),
    repulsion: (kernel: {"gaussian": ()}, coupling: {"proxy": ()}, temperature: 0.05),
    mask_self: false,
)}"#;

#[test]
fn a_composed_operator_reads_from_ron_and_runs() {
    let op: Box<dyn DriftOperator> = ron::from_str(EXAMPLE).unwrap();
    op.validate().unwrap();
    let x = PointCloud::new("x", vec![0.0f64, 0.0, 0.3, 0.1], 2).unwrap();
    let y = PointCloud::new("y", vec![1.0f64, 1.0, 1.2, 0.9], 2).unwrap();
    let (v, report) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
    assert!(v.iter().all(|c| c.is_finite()));
    assert_eq!(report.couplings[0].coupling, "sinkhorn");
}

#[test]
fn named_operators_read_with_defaults() {
    for src in [
        r#"{"one_sided": (temperature: 0.05)}"#,
        r#"{"deng_alg2": (temperature: 0.05, kernel: {"laplace": ()})}"#,
        r#"{"sinkhorn_proxy": (temperature: 0.5, mask_self: false)}"#,
        r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 20, epsilon_scaling: Some(0.5)))}"#,
        r#"{"joint": (term: (kernel: {"inverse_multiquadric": (beta: 1.0)}, coupling: {"row": ()}, temperature: 0.3))}"#,
    ] {
        let op: Box<dyn DriftOperator> =
            ron::from_str(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        op.validate().unwrap();
        let back = ron::to_string(&op).unwrap();
        let again: Box<dyn DriftOperator> = ron::from_str(&back).unwrap();
        assert_eq!(format!("{op:?}"), format!("{again:?}"));
    }
}

#[test]
fn unknown_fields_are_errors_not_defaults() {
    let err = ron::from_str::<Box<dyn DriftOperator>>(r#"{"one_sided": (temprature: 0.05)}"#)
        .unwrap_err();
    assert!(err.to_string().contains("temprature"), "{err}");
}
