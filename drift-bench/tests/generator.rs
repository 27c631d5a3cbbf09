//! The one-step generator: its gradient against finite differences, and training on small data
//! sets (reaching a blob's mean, class-conditional samples, seeding, divergence).

use candle_core::{DType, Device, Tensor};
use drift_api::Context;
use drift_bench::gaussian_blob;
use drift_bench::generator::{drifting_loss, train_generator, GeneratorConfig, Mlp, TrainingData};
use rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;

/// The gradient candle computes of the drifting loss with respect to every parameter of a tiny
/// network equals central finite differences of `mean((f(z) − (f₀(z) + V))²)`, the target frozen
/// at the unperturbed network's output plus a fixed drift (all in f64).
#[test]
fn the_drifting_loss_gradient_matches_finite_differences() {
    let net = Mlp::new(2, 3, 1, 2, DType::F64, &mut StdRng::seed_from_u64(7)).unwrap();
    let z = Tensor::from_vec(
        vec![0.3f64, -1.2, 1.5, 0.4, -0.7, -0.9, 0.05, 2.0],
        (4, 2),
        &Device::Cpu,
    )
    .unwrap();
    let v = Tensor::from_vec(
        vec![0.5f64, -0.25, 1.0, 0.3, -0.8, 0.1, 0.2, -0.6],
        (4, 2),
        &Device::Cpu,
    )
    .unwrap();
    let x0 = net.forward(&z).unwrap();
    let target = (x0.detach() + &v).unwrap();
    let grads = drifting_loss(&x0, &v).unwrap().backward().unwrap();
    let frozen_loss = |net: &Mlp| -> f64 {
        let x = net.forward(&z).unwrap();
        (x - &target)
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar()
            .unwrap()
    };
    let h = 1e-6;
    let mut checked = 0;
    for var in net.vars() {
        let analytic: Vec<f64> = grads
            .get(var)
            .expect("every parameter has a gradient")
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let shape = var.shape().clone();
        let theta: Vec<f64> = var.flatten_all().unwrap().to_vec1().unwrap();
        for k in 0..theta.len() {
            let at = |delta: f64| {
                let mut t = theta.clone();
                t[k] += delta;
                var.set(&Tensor::from_vec(t, shape.clone(), &Device::Cpu).unwrap())
                    .unwrap();
                frozen_loss(&net)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            at(0.0);
            assert!(
                (analytic[k] - numeric).abs() <= 1e-7 * (1.0 + numeric.abs()),
                "parameter {k} of a {:?} variable: candle {} vs finite differences {numeric}",
                shape.dims(),
                analytic[k]
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 3 + 3 + 3 * 2 + 2);
}

fn mean_of(points: &[f64], dim: usize) -> Vec<f64> {
    let n = (points.len() / dim) as f64;
    (0..dim)
        .map(|k| points.iter().skip(k).step_by(dim).sum::<f64>() / n)
        .collect()
}

fn small_config(steps: usize, seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        latent_dim: 4,
        hidden: 32,
        layers: 2,
        steps,
        batch: 64,
        learning_rate: 5e-3,
        max_targets: 256,
        seed,
        ..GeneratorConfig::default()
    }
}

/// A generator trained with the Sinkhorn drift on a 2-D blob away from the origin brings its
/// samples' mean to the data's (the untrained network's samples sit near the origin).
#[test]
fn training_moves_the_samples_to_the_data_mean() {
    let points = gaussian_blob(500, &[2.0, -1.0], 0.4, 3);
    let data = TrainingData {
        points: &points,
        dim: 2,
        labels: None,
        classes: 0,
    };
    let op = drift_ops::SinkhornDrift::new(0.1);
    let started = Instant::now();
    let mut seen = 0;
    let out = train_generator(
        &op,
        &data,
        &small_config(300, 1),
        Context::default(),
        1000,
        &mut |_| seen += 1,
    )
    .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(seen, 300);
    assert_eq!(out.diverged_at, None);
    assert_eq!(out.samples.len(), 2000);
    assert_eq!(out.losses.len(), 300);
    let (want, got) = (mean_of(&points, 2), mean_of(&out.samples, 2));
    for k in 0..2 {
        assert!(
            (want[k] - got[k]).abs() < 0.1,
            "mean {got:?} vs data {want:?}"
        );
    }
    assert!(out.sinkhorn_iters.is_some() && out.sinkhorn_error.is_some());
    assert!(out.last_drift_norm > 0.0 && out.last_drift_norm < out.losses[0].sqrt());
    assert!(out.ms_per_step > 0.0);
    eprintln!(
        "blob: {:.2} ms/step (network {:.2}, drift {:.2}), {elapsed:?} in all, mean {got:?}",
        out.ms_per_step, out.network_ms_per_step, out.drift_ms_per_step
    );
}

/// With two well-separated labelled classes, the samples generated for a class land near it.
#[test]
fn a_conditional_generator_samples_the_class_it_is_asked_for() {
    let mut points = gaussian_blob(200, &[-2.0, 0.0], 0.3, 4);
    points.extend(gaussian_blob(200, &[2.0, 0.5], 0.3, 5));
    let labels: Vec<usize> = (0..400).map(|i| i / 200).collect();
    let data = TrainingData {
        points: &points,
        dim: 2,
        labels: Some(&labels),
        classes: 2,
    };
    let op = drift_ops::SinkhornDrift::new(0.1);
    let out = train_generator(
        &op,
        &data,
        &small_config(200, 2),
        Context::default(),
        301,
        &mut |_| {},
    )
    .unwrap();
    let classes = out
        .sample_classes
        .expect("conditional samples carry classes");
    assert_eq!(classes.iter().filter(|&&c| c == 0).count(), 151);
    assert_eq!(classes.len(), 301);
    let means = [mean_of(&points[..400], 2), mean_of(&points[400..], 2)];
    let nearest = |p: &[f64]| {
        let d = |m: &[f64]| (p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2);
        usize::from(d(&means[1]) < d(&means[0]))
    };
    let correct = out
        .samples
        .chunks_exact(2)
        .zip(&classes)
        .filter(|(p, &c)| nearest(p) == c)
        .count();
    let accuracy = correct as f64 / classes.len() as f64;
    assert!(accuracy > 0.9, "accuracy {accuracy}");
}

/// The same seed gives bit-identical samples; another seed gives others.
#[test]
fn the_seed_fixes_the_samples() {
    let points = gaussian_blob(100, &[1.0, 1.0], 0.5, 6);
    let data = TrainingData {
        points: &points,
        dim: 2,
        labels: None,
        classes: 0,
    };
    // More data than `max_targets`, so the seeded target subsets are exercised too.
    let cfg = |seed| GeneratorConfig {
        max_targets: 50,
        ..small_config(20, seed)
    };
    let op = drift_ops::OneSided::new(0.2);
    let run = |seed| {
        train_generator(&op, &data, &cfg(seed), Context::default(), 50, &mut |_| {})
            .unwrap()
            .samples
    };
    let first = run(11);
    assert_eq!(first, run(11));
    assert_ne!(first, run(12));
}

/// A run whose weights blow up (an absurd learning rate) is reported as diverged, without samples.
#[test]
fn a_diverging_run_reports_its_step_instead_of_panicking() {
    let points = gaussian_blob(100, &[1.0, 1.0], 0.5, 8);
    let data = TrainingData {
        points: &points,
        dim: 2,
        labels: None,
        classes: 0,
    };
    let cfg = GeneratorConfig {
        learning_rate: 1e30,
        ..small_config(20, 0)
    };
    let op = drift_ops::OneSided::new(0.2);
    let out = train_generator(&op, &data, &cfg, Context::default(), 10, &mut |_| {}).unwrap();
    let step = out.diverged_at.expect("the run diverges");
    assert!(step < 20);
    assert!(out.samples.is_empty());
    assert_eq!(out.losses.len(), step);
}

/// Bad settings or data are refused with a message naming what is wrong.
#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let points = [0.0, 0.0, 1.0, 1.0];
    let labels = [0, 3];
    let data = TrainingData {
        points: &points,
        dim: 2,
        labels: Some(&labels),
        classes: 2,
    };
    let op = drift_ops::OneSided::new(0.2);
    let run = |data: &TrainingData, cfg: &GeneratorConfig, n| {
        train_generator(&op, data, cfg, Context::default(), n, &mut |_| {})
            .unwrap_err()
            .to_string()
    };
    assert!(run(&data, &small_config(1, 0), 4).contains("label 3"));
    let unlabelled = TrainingData {
        labels: None,
        ..data
    };
    assert!(run(&unlabelled, &small_config(1, 0), 0).contains("at least 1 sample"));
    let zero_batch = GeneratorConfig {
        batch: 0,
        ..small_config(1, 0)
    };
    assert!(run(&unlabelled, &zero_batch, 4).contains("batch"));
    let bad_context = Context::default().with_temperature_factor(-1.0);
    let err = train_generator(
        &op,
        &unlabelled,
        &small_config(1, 0),
        bad_context,
        4,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("temperature_factor"), "{err:#}");
}

/// Time of a training step at the size of the digits (64-d, 10 classes, 64 samples and about 100
/// data points per class, width 128), split into network and drift, for the one-sided and the
/// Sinkhorn drift at temperature 0.05. The data are ten Gaussian classes scaled so that the mean
/// distance between two points is about 1, like the normalised digits. A measurement, not a
/// check: `cargo test --release -p drift-bench --test generator -- --ignored --nocapture`, also
/// with `CANDLE_NUM_THREADS=1` or `RAYON_NUM_THREADS=1` to see what candle's threads cost.
#[test]
#[ignore = "a measurement; run it explicitly"]
fn step_time_at_digits_size() {
    let (dim, classes, per_class) = (64, 10, 100);
    let centres = gaussian_blob(classes, &[0.0; 64], 0.06, 20);
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for c in 0..classes {
        points.extend(gaussian_blob(
            per_class,
            &centres[c * dim..(c + 1) * dim],
            0.06,
            21 + c as u64,
        ));
        labels.extend(std::iter::repeat_n(c, per_class));
    }
    let data = TrainingData {
        points: &points,
        dim,
        labels: Some(&labels),
        classes,
    };
    let cfg = GeneratorConfig {
        latent_dim: 16,
        hidden: 128,
        layers: 2,
        steps: 100,
        batch: 64,
        learning_rate: 1e-3,
        max_targets: 1024,
        seed: 0,
        ..GeneratorConfig::default()
    };
    let ops: [(&str, Box<dyn drift_api::DriftOperator>); 2] = [
        ("one_sided(0.05)", Box::new(drift_ops::OneSided::new(0.05))),
        (
            "sinkhorn_drift(0.05)",
            Box::new(drift_ops::SinkhornDrift::new(0.05)),
        ),
    ];
    for (name, op) in ops {
        let started = Instant::now();
        let out = train_generator(
            op.as_ref(),
            &data,
            &cfg,
            Context::default(),
            640,
            &mut |_| {},
        )
        .unwrap();
        eprintln!(
            "{name}: {:.2} ms/step = network {:.2} + drift {:.2}; {} steps in {:.2?}; \
             Sinkhorn iterations {:?}, λ {:.3}, loss {:.4} → {:.4}, samples' checksum {:016x}",
            out.ms_per_step,
            out.network_ms_per_step,
            out.drift_ms_per_step,
            cfg.steps,
            started.elapsed(),
            out.sinkhorn_iters,
            out.last_drift_norm,
            out.losses[0],
            out.losses[cfg.steps - 1],
            // Compare across thread counts: the samples must not depend on them.
            out.samples
                .iter()
                .fold(0u64, |h, v| h.rotate_left(5) ^ v.to_bits()),
        );
    }
}
