//! One problem of a fused batched evaluation, prepared in per-thread buffers: its points centred
//! on the data's coordinate-wise median, its column log-weights, its squared distances, and each
//! leaf's scratch.

use super::joint::{joint_field, JointScratch, JointTerm};
use super::lanes::{sized, sq_distances};
use super::one_sided::{one_sided_field, OneSidedTerm};
use super::plan::{Leaf, Radial};
use super::sinkhorn::{transport, LoopScratch, Stop, Term};
use drift_api::batch::support_len;
use drift_api::batch::BatchProblem;
use drift_api::kit::BatchSets;
use drift_api::{CouplingReport, Real, Result};

/// Normalised log-weights of a side of problem `b` (as [`drift_api::PointCloud::log_weights`]).
fn log_weights_into<T: Real>(sets: &BatchSets<'_, T>, b: usize, out: &mut Vec<T>) {
    out.clear();
    match sets.weights_of(b) {
        None => out.extend(std::iter::repeat_n(
            T::of(-(sets.len(b) as f64).ln()),
            sets.len(b),
        )),
        Some(w) => {
            let total: f64 = w.iter().map(|v| v.as_f64()).sum();
            out.extend(w.iter().map(|v| T::of((v.as_f64() / total).ln())));
        }
    }
}

/// One problem's inputs, centred on the data's coordinate-wise median (the point the general
/// path measures barycentres from): rows `x`, columns (`[y; negatives]` for the Sinkhorn drift,
/// `[y; x; negatives]` for the one-sided drift), and log-weights.
#[derive(Default)]
pub(super) struct Prepared<T> {
    x: Vec<T>,
    columns: Vec<T>,
    pub(super) log_a: Vec<T>,
    pub(super) log_b: Vec<T>,
    log_n: Vec<T>,
    /// The one-sided drift's column log-weights: `log b`, then the repulsion's shares.
    log_w: Vec<T>,
    median: Vec<f64>,
    /// The median in `T`, and one coordinate of the data (scratch of the median).
    origin: Vec<T>,
    column: Vec<f64>,
    norms: Vec<T>,
    pub(super) sq: Vec<T>,
    /// Distances `d` (the Laplace kernel's), from `sq`.
    pub(super) dist: Vec<T>,
    terms: LoopScratch<T>,
    /// The one-sided drift's plan.
    plan: Vec<T>,
    joint: JointScratch<T>,
    /// The targets' weights `b_j` in f64 (the scale's sums).
    weights: Vec<f64>,
}

/// The negatives of problem `b`, when it has some of positive total weight.
pub(super) fn negatives_of<'a, T: Real>(
    batch: &'a BatchProblem<'_, T>,
    b: usize,
) -> Option<&'a [T]> {
    let neg = batch.batch.negatives.as_ref()?;
    (support_len(neg, b) > 0).then(|| neg.points(b))
}

impl<T: Real> Prepared<T> {
    /// Fills the buffers for problem `b`; returns the largest squared distance of a point to the
    /// median (the general path's precision bound is four times it).
    pub(super) fn of(&mut self, p: &BatchProblem<'_, T>, b: usize, leaf: Leaf) -> f64 {
        let batch = p.batch;
        let (dim, y) = (batch.dim(), batch.y.points(b));
        let neg = negatives_of(p, b).unwrap_or(&[]);
        let column = &mut self.column;
        self.median.clear();
        for k in 0..dim {
            column.clear();
            column.extend(y.chunks_exact(dim).map(|v| v[k].as_f64()));
            let mid = column.len() / 2;
            self.median
                .push(*column.select_nth_unstable_by(mid, f64::total_cmp).1);
        }
        self.origin.clear();
        self.origin.extend(self.median.iter().map(|c| T::of(*c)));
        let origin = &self.origin;
        let mut radius = 0.0f64;
        let mut centre = |points: &[T], into: &mut Vec<T>| {
            for v in points.chunks_exact(dim) {
                let mut r = 0.0;
                for ((c, o), m) in v.iter().zip(origin.iter()).zip(&self.median) {
                    into.push(*c - *o);
                    r += (c.as_f64() - m).powi(2);
                }
                radius = radius.max(r);
            }
        };
        self.x.clear();
        self.columns.clear();
        centre(batch.x.points(b), &mut self.x);
        centre(y, &mut self.columns);
        if !matches!(leaf, Leaf::Sinkhorn { .. }) {
            centre(batch.x.points(b), &mut self.columns);
        }
        centre(neg, &mut self.columns);
        log_weights_into(&batch.x, b, &mut self.log_a);
        log_weights_into(&batch.y, b, &mut self.log_b);
        self.log_n.clear();
        if let Some(sets) = batch.negatives.as_ref().filter(|_| !neg.is_empty()) {
            log_weights_into(sets, b, &mut self.log_n);
        }
        match leaf {
            Leaf::Sinkhorn { .. } => {}
            Leaf::OneSided { .. } => self.shared_weights(p, b, false),
            Leaf::Joint { .. } => self.shared_weights(p, b, true),
        }
        radius
    }

    /// The column log-weights over `[y; x; negatives]` (the general path's `NegativeColumns`):
    /// the blocks have masses `n : Σ w` (points of positive weight, each negative its own
    /// weight), `m : n : Σ w` when `joint` (`y` then shares the total), each block's mass spread
    /// by its own weights; without `joint`, `y` keeps `log b`.
    fn shared_weights(&mut self, p: &BatchProblem<'_, T>, b: usize, joint: bool) {
        let batch = p.batch;
        let n = support_len(&batch.x, b) as f64;
        let m = if joint {
            support_len(&batch.y, b) as f64
        } else {
            0.0
        };
        let extra = match (&batch.negatives, self.log_n.is_empty()) {
            (Some(sets), false) => match sets.weights_of(b) {
                Some(w) => w.iter().map(|v| v.as_f64()).sum(),
                None => sets.len(b) as f64,
            },
            _ => 0.0,
        };
        let total = m + n + extra;
        let (own, other) = (T::of((n / total).ln()), T::of((extra / total).ln()));
        let data = if joint {
            T::of((m / total).ln())
        } else {
            T::zero()
        };
        self.log_w.clear();
        self.log_w.extend(self.log_b.iter().map(|l| *l + data));
        self.log_w.extend(self.log_a.iter().map(|l| *l + own));
        self.log_w.extend(self.log_n.iter().map(|l| *l + other));
    }

    /// `Σ_i a_i Σ_j b_j ‖x_i − y_j‖` over the first `ny` columns of the squared distances `sq`
    /// (rows `stride` apart): the problem's weighted mean distance to the data (`a`, `b`
    /// normalised), each weight exponentiated once rather than once per pair.
    pub(super) fn mean_distance(&mut self, sq: &[T], stride: usize, ny: usize) -> f64 {
        self.weights.clear();
        self.weights
            .extend(self.log_b.iter().map(|lb| lb.exp().as_f64()));
        let mut mean = 0.0f64;
        for (i, la) in self.log_a.iter().enumerate() {
            let row = &sq[i * stride..i * stride + ny];
            let inner: f64 = row
                .iter()
                .zip(&self.weights)
                .map(|(d, w)| w * d.as_f64().sqrt())
                .sum();
            mean += la.exp().as_f64() * inner;
        }
        mean
    }

    /// `‖x_i − t_j‖²` for the columns `[y; negatives]` into `sq`.
    pub(super) fn distances(&mut self, dim: usize, sq: &mut [T]) {
        sq_distances(&self.x, dim, &self.columns, sq, &mut self.norms);
    }
}

/// The kernel's distances from `sq`: `sq` itself (Gaussian) or its square roots in `dist`.
pub(super) fn kernel_distances<'s, T: Real>(
    kernel: Radial,
    sq: &'s [T],
    dist: &'s mut Vec<T>,
) -> &'s [T] {
    match kernel {
        Radial::Gaussian => sq,
        Radial::Laplace => {
            let d = sized(dist, sq.len());
            d.copy_from_slice(sq);
            T::sqrt_in_place(d);
            d
        }
    }
}

/// One temperature's field `V` (`N × D`, data units) of one problem into `g`: `shape` is
/// `(N, M, columns, D)`, `kd` the kernel distances to the columns, `inv_tau` `1/τ` in their units.
pub(super) fn leaf_field<T: Real>(
    leaf: Leaf,
    s: &mut Prepared<T>,
    kd: &[T],
    (n, m, stride, dim): (usize, usize, usize, usize),
    inv_tau: T,
    g: &mut [T],
    couplings: &mut Vec<CouplingReport>,
) -> Result<()> {
    match leaf {
        Leaf::Sinkhorn { max_iters, tol } => {
            g.fill(T::zero());
            let stop = Stop { max_iters, tol };
            let terms = ["attraction", "repulsion"];
            let halves = [
                (&s.log_b, &s.columns[..m * dim], 0, T::one()),
                (&s.log_n, &s.columns[m * dim..], m, -T::one()),
            ];
            for ((log_b, columns, first, sign), term_name) in halves.into_iter().zip(terms) {
                let term = Term {
                    log_a: &s.log_a,
                    log_b,
                    columns,
                    sq: kd,
                    stride,
                    first,
                    inv_tau,
                };
                let (iterations, error) = transport(&term, stop, dim, &mut s.terms, g, sign)?;
                // What the general path's Sinkhorn coupling reports, so that a batch's
                // unconverged problems and worst marginal error show on this path too.
                couplings.push(CouplingReport {
                    coupling: "sinkhorn".into(),
                    term: term_name.into(),
                    iterations,
                    marginal_error: Some(error),
                    converged: error <= tol,
                    path: None,
                });
            }
        }
        Leaf::OneSided { mask_self } => {
            let term = OneSidedTerm {
                kd,
                log_w: &s.log_w,
                m,
                mask_self,
                inv: inv_tau,
                columns: &s.columns,
            };
            one_sided_field(&term, n, dim, &mut s.plan, g);
        }
        Leaf::Joint { mask_self } => {
            let term = JointTerm {
                kd,
                log_a: &s.log_a,
                log_w: &s.log_w,
                m,
                mask_self,
                inv: inv_tau,
                columns: &s.columns,
            };
            joint_field(&term, dim, &mut s.joint, g);
        }
    }
    Ok(())
}
