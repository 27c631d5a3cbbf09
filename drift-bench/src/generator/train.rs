//! Training a one-step generator with the drifting loss, the drift computed by this project's
//! operators.

use super::features::{by_problem, from_problems, FeatureMaps};
use super::latent::{balanced_classes, generator_input};
use super::loss::drifting_loss;
use super::{GeneratorConfig, GeneratorOutcome, Mlp, TrainingData};
use crate::flow::sinkhorn_totals;
use anyhow::{ensure, Context as _, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{BatchSets, ProblemBatch, SingleProcess};
use drift_api::{BatchReport, Context, DriftOperator, PointCloud};
use rand::{rngs::StdRng, seq::index, SeedableRng};
use std::time::{Duration, Instant};

/// Trains an MLP generator `f_θ` (see [`GeneratorConfig`]) on `data` with the drifting loss
/// `mean((f_θ(z) − stopgrad(f_θ(z) + V))²)`, `V` being `op`'s drift of the generated batch toward
/// the data, then generates `n_samples` samples.
///
/// Every step draws `batch` latents (per class when `data` is labelled: the input is then the
/// latent followed by the one-hot class), generates them in one forward pass, computes the drift
/// in f32 in one batched call per feature key ([`GeneratorConfig::features`]: the samples
/// themselves, or a fixed encoder's feature maps) with one problem per class and location (`X`
/// the class's generated features there, `Y` its data's, at most `max_targets` data points, see
/// [`GeneratorConfig::max_targets`]; [`drift_api::batch::apply_drift_batch`], so batch-wide statistics
/// such as `deng_official`'s scale are taken over every problem of the key), and takes one
/// optimiser step on the sum over keys and classes of their drifting losses
/// `mean((φ(x) − stopgrad(φ(x) + V))²)`, with candle's autograd through the encoder. The `context`
/// carries the temperature factor; its step is set to the training step and its time to the
/// step as a number. `on_step` is called with the index of every finished step.
///
/// Seeded: the same seed gives bit-identical samples. A run whose samples, drift or loss leave
/// the finite numbers stops there and returns with [`GeneratorOutcome::diverged_at`] set and no
/// samples. Fails on invalid settings or data (a clear message) and when the operator fails.
pub fn train_generator(
    op: &dyn DriftOperator,
    data: &TrainingData,
    cfg: &GeneratorConfig,
    context: Context,
    n_samples: usize,
    on_step: &mut dyn FnMut(usize),
) -> Result<GeneratorOutcome> {
    op.validate()?;
    cfg.validate()?;
    data.validate()?;
    let backend = cfg.backend.open()?;
    ensure!(n_samples > 0, "a generator must generate at least 1 sample");
    let dim = data.dim;
    let classes = data.conditioning_classes();
    let conditional = data.labels.map(|_| data.classes);
    let targets = data.class_points_f32();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let net = Mlp::new(
        cfg.latent_dim + conditional.unwrap_or(0),
        cfg.hidden,
        cfg.layers,
        dim,
        DType::F32,
        &mut rng,
    )?;
    let params = ParamsAdamW {
        lr: cfg.learning_rate,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimiser = AdamW::new(net.vars().to_vec(), params)?;
    // A class that fits in `max_targets` is the same target set at every step: build it once.
    let fixed_targets = targets
        .iter()
        .map(|t| {
            (t.len() / dim <= cfg.max_targets)
                .then(|| PointCloud::new("data", t.clone(), dim))
                .transpose()
        })
        .collect::<drift_api::Result<Vec<_>>>()?;
    let maps = FeatureMaps::new(cfg.features, dim)?;
    let step_classes: Vec<usize> = (0..classes)
        .flat_map(|c| std::iter::repeat_n(c, cfg.batch))
        .collect();

    let mut outcome = GeneratorOutcome {
        samples: Vec::new(),
        sample_classes: None,
        ms_per_step: 0.0,
        network_ms_per_step: 0.0,
        drift_ms_per_step: 0.0,
        last_drift_norm: 0.0,
        sinkhorn_iters: None,
        sinkhorn_error: None,
        sinkhorn_unconverged: 0,
        diverged_at: None,
        losses: Vec::with_capacity(cfg.steps),
    };
    let (mut network_time, mut drift_time) = (Duration::ZERO, Duration::ZERO);
    let (mut iterations, mut solves) = (0usize, 0usize);
    for step in 0..cfg.steps {
        let started = Instant::now();
        let input = generator_input(&step_classes, cfg.latent_dim, conditional, &mut rng)?;
        let x = net.forward(&input)?;
        let generated: Vec<f32> = x.flatten_all()?.to_vec1()?;
        network_time += started.elapsed();
        if generated.iter().any(|v| !v.is_finite()) {
            outcome.diverged_at = Some(step);
            break;
        }

        let started = Instant::now();
        let step_context = Context {
            step: step as u64,
            time: step as f64,
            ..context
        };
        // The targets of this step, class after class (a fresh subset drawn in class order
        // where the class is larger than `max_targets`), and their feature keys.
        let mut class_keys = Vec::with_capacity(classes);
        for (c, fixed) in fixed_targets.iter().enumerate() {
            let subset;
            let y = match fixed {
                Some(y) => y,
                None => {
                    subset = random_subset(&targets[c], dim, cfg.max_targets, &mut rng)?;
                    &subset
                }
            };
            let points = Tensor::from_slice(y.data(), (y.len(), dim), &Device::Cpu)?;
            class_keys.push(maps.keys(&points)?);
        }
        // One batched call per feature key: one problem per (class, location).
        let keys = maps.keys(&x)?;
        let (mut fields, mut squares, mut marginal_error) = (Vec::new(), 0.0, None::<f64>);
        let mut unconverged = 0;
        for (k, key) in keys.iter().enumerate() {
            let (_, locations, key_dim) = key.dims3()?;
            let generated = by_problem(key, classes)?;
            let (mut y_data, mut y_offsets) = (Vec::new(), vec![0]);
            for per_class in &class_keys {
                let (rows, _, _) = per_class[k].dims3()?;
                y_data.extend(by_problem(&per_class[k], 1)?);
                for _ in 0..locations {
                    y_offsets.push(y_offsets.last().unwrap_or(&0) + rows);
                }
            }
            let batch = ProblemBatch::new(
                BatchSets::dense(
                    "generated",
                    &generated,
                    classes * locations,
                    cfg.batch,
                    key_dim,
                )?,
                BatchSets::ragged("data", &y_data, y_offsets, key_dim)?,
            )?;
            let mut v = vec![0.0f32; generated.len()];
            let report = apply_drift_batch(
                op,
                BatchProblem {
                    backend: backend.as_ref(),
                    batch: &batch,
                    context: &step_context,
                    out: &mut v,
                    scale: 1.0,
                    collective: &SingleProcess,
                },
            )
            .with_context(|| {
                format!(
                    "drift at training step {step}, feature key {k} (problem b = class \
                     b / {locations}, location b % {locations})"
                )
            })?;
            let (i, n) = batch_sinkhorn_totals(&report);
            iterations += i;
            solves += n;
            marginal_error = match (marginal_error, report.max_marginal_error()) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            unconverged += report.unconverged();
            squares += report.drift_norm * report.drift_norm;
            fields.push(v);
        }
        drift_time += started.elapsed();
        let count: usize = fields.iter().map(Vec::len).sum();
        let loss_value = fields
            .iter()
            .flatten()
            .map(|&a| f64::from(a) * f64::from(a))
            .sum::<f64>()
            / count as f64;
        if !loss_value.is_finite() {
            outcome.diverged_at = Some(step);
            break;
        }

        let started = Instant::now();
        // One step on the sum over the keys of the sum over the classes' losses: each class's is
        // the mean over its own batch, so each key's mean times the number of classes.
        let mut loss = None;
        for (key, v) in keys.iter().zip(fields) {
            let v = from_problems(v, classes, key.dims3()?)?;
            let term = (drifting_loss(key, &v)? * classes as f64)?;
            loss = Some(match loss {
                None => term,
                Some(total) => (total + term)?,
            });
        }
        let loss = loss.context("no feature keys")?;
        optimiser.backward_step(&loss)?;
        network_time += started.elapsed();
        let drift_norm = (squares / keys.len() as f64).sqrt();

        outcome.losses.push(loss_value);
        outcome.last_drift_norm = drift_norm;
        outcome.sinkhorn_error = marginal_error;
        outcome.sinkhorn_unconverged = unconverged;
        on_step(step);
    }
    let ran = outcome.losses.len();
    if ran > 0 {
        let ms = |d: Duration| d.as_secs_f64() * 1e3 / ran as f64;
        outcome.network_ms_per_step = ms(network_time);
        outcome.drift_ms_per_step = ms(drift_time);
        outcome.ms_per_step = ms(network_time + drift_time);
    }
    outcome.sinkhorn_iters = (solves > 0).then(|| iterations as f64 / solves as f64);
    if outcome.diverged_at.is_some() {
        return Ok(outcome);
    }

    let sample_classes = balanced_classes(n_samples, classes);
    let input = generator_input(&sample_classes, cfg.latent_dim, conditional, &mut rng)?;
    let samples: Vec<f32> = net.forward(&input)?.flatten_all()?.to_vec1()?;
    if samples.iter().any(|v| !v.is_finite()) {
        outcome.diverged_at = Some(cfg.steps);
        return Ok(outcome);
    }
    outcome.samples = samples.into_iter().map(f64::from).collect();
    outcome.sample_classes = conditional.map(|_| sample_classes);
    Ok(outcome)
}

/// Sinkhorn iterations and solves of a batched evaluation: its problems' and its parts'.
fn batch_sinkhorn_totals(report: &BatchReport) -> (usize, usize) {
    report
        .per_problem
        .iter()
        .map(sinkhorn_totals)
        .chain(report.parts.iter().map(batch_sinkhorn_totals))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// `size` distinct rows of `points` (row-major, `dim` columns) drawn with `rng`, as a point set.
fn random_subset(
    points: &[f32],
    dim: usize,
    size: usize,
    rng: &mut StdRng,
) -> drift_api::Result<PointCloud<f32>> {
    let chosen = index::sample(rng, points.len() / dim, size);
    let mut rows = Vec::with_capacity(size * dim);
    for i in chosen.iter() {
        rows.extend_from_slice(&points[i * dim..(i + 1) * dim]);
    }
    PointCloud::new("data", rows, dim)
}
