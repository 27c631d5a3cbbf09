//! Every command is a library call: the same work as the binary's, printing to any writer.

mod common;

use common::*;
use drift_bench::apply::{self, ApplyArgs};
use drift_bench::demo::{DemoConfig, KernelChoice};
use drift_bench::{demo, list, validate};

#[test]
fn list_and_validate_print_to_the_given_writers() {
    let mut out = Vec::new();
    list::run(true, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("sinkhorn_drift") && out.contains("example: "),
        "{out}"
    );

    let dir = scratch("library-validate");
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, r#"{"one_sided": (temperature: -1.0)}"#).unwrap();
    let files = [plugins().join("one_sided.ron"), bad.clone()];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(validate::run(&files, &mut out, &mut err).unwrap(), 1);
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert!(
        out.starts_with("ok ") && out.contains("one_sided.ron"),
        "{out}"
    );
    assert!(err.starts_with(&format!("{}:1:", bad.display())), "{err}");
}

#[test]
fn apply_runs_from_arguments_built_in_code() {
    let dir = scratch("library-apply");
    let (x, y, v) = (dir.join("x.csv"), dir.join("y.csv"), dir.join("v.csv"));
    std::fs::write(&x, "0,0\n0.5,0.1\n").unwrap();
    std::fs::write(&y, "1,1\n2,0\n1.5,0.5\n").unwrap();
    let op = plugins().join("one_sided.ron");
    let args = ApplyArgs {
        out: Some(v.clone()),
        ..ApplyArgs::new(op.clone(), x.clone(), y.clone())
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    apply::run(&args, &mut out, &mut err).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("X 2 x 2, Y 3 x 2, f64") && out.contains("wrote V"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&v).unwrap().lines().count(), 2);

    // What the command line refuses to parse is an error, not a silent choice.
    let both = ApplyArgs {
        f32: true,
        f64: true,
        ..ApplyArgs::new(op, x, y)
    };
    let e = apply::run(&both, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("--f32 and --f64"), "{e}");
}

#[test]
fn the_demo_runs_from_a_config_and_checks_it() {
    let config = DemoConfig {
        steps: 1,
        eta: 0.5,
        particles: 16,
        data: 16,
        seed: 0,
        sinkhorn_iters: 10,
        sinkhorn_tol: 1e-3,
        kernels: vec![KernelChoice::Laplace],
        f32: true,
    };
    let mut out = Vec::new();
    demo::run(&config, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("sinkhorn_drift") && out.contains("total"),
        "{out}"
    );
}
