//! One term of a drift: solve a coupling, then one displacement pass per column block.

use super::sides::Side;
use crate::couplings::RowNormalised;
use crate::kernels::Laplace;
use drift_api::kit::Tagged;
use drift_api::kit::{
    log_add_exp, reduce, Backend, Displacement, PairDisplacement, PairSets, RowReduction,
};
use drift_api::{
    ColumnBlock, Context, Coupling, CouplingProblem, CouplingReport, DriftError, Kernel,
    PointCloud, Potentials, Real, Result, RowMasses,
};
use serde::{Deserialize, Serialize};

/// An owned drift term, as written in RON files (`(kernel: ..., coupling: ..., temperature: ...,
/// displacement: mean)`): kernel, coupling, temperature and displacement.
///
/// In RON, a bare struct (no name: it is a field of `cross_minus_self` and `joint`), `kernel`
/// defaulting to `{"laplace": ()}`, `coupling` to `{"row": ()}` and `displacement` to `mean`:
/// `(kernel: {"gaussian": ()}, coupling: {"sinkhorn": (max_iters: 50)}, temperature: 0.1)`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// Kernel giving `ℓ` (default Laplace).
    #[serde(default = "default_kernel")]
    pub kernel: Box<dyn Kernel>,
    /// Coupling giving the plan (default row-normalised, `{"row": ()}`).
    #[serde(default = "default_coupling")]
    pub coupling: Box<dyn Coupling>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Mean or unit displacement.
    #[serde(default)]
    pub displacement: DisplacementKind,
}

fn default_kernel() -> Box<dyn Kernel> {
    Box::new(Laplace)
}
fn default_coupling() -> Box<dyn Coupling> {
    Box::new(RowNormalised)
}

impl Term {
    /// A term with the given parts and the mean displacement.
    pub fn new(kernel: Box<dyn Kernel>, coupling: Box<dyn Coupling>, temperature: f64) -> Self {
        Term {
            kernel,
            coupling,
            temperature,
            displacement: DisplacementKind::Mean,
        }
    }
    /// Borrows the term.
    pub fn as_ref(&self) -> TermRef<'_> {
        TermRef {
            kernel: self.kernel.as_ref(),
            coupling: self.coupling.as_ref(),
            temperature: self.temperature,
            displacement: self.displacement,
            problem: 0,
        }
    }
}

/// A borrowed description of a drift term: the kernel and coupling to use at a temperature, and which
/// displacement to accumulate.
#[derive(Clone, Copy, Debug)]
pub struct TermRef<'a> {
    /// Kernel giving `ℓ`.
    pub kernel: &'a dyn Kernel,
    /// Coupling giving the potentials.
    pub coupling: &'a dyn Coupling,
    /// Temperature `τ`.
    pub temperature: f64,
    /// Mean (barycentre) or unit displacement.
    pub displacement: DisplacementKind,
    /// The problem's index in its batch ([`Context::problem`]), handed to the coupling.
    pub problem: usize,
}

impl<'a> TermRef<'a> {
    /// A term accumulating the mean displacement (barycentre minus particle).
    pub fn mean(kernel: &'a dyn Kernel, coupling: &'a dyn Coupling, temperature: f64) -> Self {
        TermRef {
            kernel,
            coupling,
            temperature,
            displacement: DisplacementKind::Mean,
            problem: 0,
        }
    }

    /// The term at the context's temperature (annealing, multi-temperature and feature-scale
    /// compositions set the factor).
    pub fn in_context(self, context: &Context) -> Self {
        TermRef {
            temperature: self.temperature * context.temperature_factor,
            problem: context.problem,
            ..self
        }
    }

    /// Validates the temperature, kernel and coupling, naming the term in errors.
    pub fn validate(&self, what: &str) -> Result<()> {
        drift_api::check_temperature(&format!("{what}.temperature"), self.temperature)?;
        self.kernel.validate()?;
        self.coupling.validate()
    }
}

/// Which displacement a term accumulates (serialisable subset of [`Displacement`]).
///
/// In RON: `mean` (the default) or `unit` (the `displacement` field of a [`Term`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplacementKind {
    /// `bar_i − x_i`: the barycentric projection minus the particle.
    #[default]
    Mean,
    /// The mean unit displacement (exact gradient direction of non-Gaussian radial kernels).
    Unit,
}

impl From<DisplacementKind> for Displacement {
    fn from(k: DisplacementKind) -> Self {
        match k {
            DisplacementKind::Mean => Displacement::Mean,
            DisplacementKind::Unit => Displacement::Unit,
        }
    }
}

/// The outcome of a term, per column block: the row log-sums `lse_i = LSE_j(g_j + ℓ_ij)` of the
/// plan, the row masses `m_i` (in the unit the coupling declares, [`drift_api::RowMasses`]), the
/// kernel log-densities of the block's points when asked for, and the displacements (`N × D`):
/// barycentres measured from the origin for the mean displacement (`from_origin`), unit
/// displacements otherwise.
#[derive(Debug)]
pub struct TermOutput<T> {
    /// `lse_i` per block.
    pub row_lse: Vec<Vec<T>>,
    /// `m_i` per block.
    pub masses: Vec<Vec<T>>,
    /// `log Σ_j w_j k_ij` per block (`w` the block's column weights), or empty when not asked for.
    pub log_densities: Vec<Vec<T>>,
    /// Displacements per block, `N × D` row-major.
    pub displacements: Vec<Vec<T>>,
    /// Whether mean displacements are barycentres measured from an origin.
    pub from_origin: bool,
    /// The coupling's report.
    pub report: CouplingReport,
}

impl<T: Real> TermOutput<T> {
    /// Folds every block after `first` into block `first`, as if they were one column set: the
    /// log-sums and log-densities add in the log domain, the masses add, and the displacements
    /// average with the blocks' shares of the row's plan mass. Used when guidance negatives join
    /// the repulsion.
    pub fn merge_blocks_from(&mut self, first: usize) {
        while self.row_lse.len() > first + 1 {
            let (lse, m, disp) = (
                self.row_lse.pop().unwrap_or_default(),
                self.masses.pop().unwrap_or_default(),
                self.displacements.pop().unwrap_or_default(),
            );
            if self.log_densities.len() > first + 1 {
                let density = self.log_densities.pop().unwrap_or_default();
                for (d0, d) in self.log_densities[first].iter_mut().zip(density) {
                    *d0 = log_add_exp(*d0, d);
                }
            }
            let d = disp.len() / lse.len().max(1);
            let (lse0, m0, disp0) = (
                &mut self.row_lse[first],
                &mut self.masses[first],
                &mut self.displacements[first],
            );
            for i in 0..lse.len() {
                let total = log_add_exp(lse0[i], lse[i]);
                if total == T::neg_infinity() {
                    continue;
                }
                let (w0, w1) = ((lse0[i] - total).exp(), (lse[i] - total).exp());
                for k in i * d..(i + 1) * d {
                    disp0[k] = w0 * disp0[k] + w1 * disp[k];
                }
                lse0[i] = total;
                m0[i] += m[i];
            }
        }
    }

    /// Block `b` as one side of the field.
    pub fn side(&self, b: usize) -> Side<'_, T> {
        Side {
            masses: &self.masses[b],
            log_densities: self.log_densities.get(b).map(|v| v.as_slice()),
            displacements: &self.displacements[b],
            from_origin: self.from_origin,
        }
    }
}

/// What [`evaluate_term`] computes: the term's coupling between `rows` (with log-weights
/// `row_log_weights`) and `blocks`, and for each block one pass that yields the row log-sums and
/// displacements.
#[derive(Clone, Copy, Debug)]
pub struct TermProblem<'a, T> {
    /// The term's label in reports (`attraction`, `repulsion`, `joint`).
    pub label: &'a str,
    /// Where the reductions run.
    pub backend: &'a dyn Backend,
    /// Kernel, coupling, temperature (context already applied) and displacement.
    pub term: TermRef<'a>,
    /// The particles.
    pub rows: &'a PointCloud<T>,
    /// Their normalised log-weights `log a_i`.
    pub row_log_weights: &'a [T],
    /// The column blocks (log-weights normalised over all blocks together).
    pub blocks: &'a [ColumnBlock<'a, T>],
    /// One block that is the row set with the row weights (the self problem).
    pub symmetric: bool,
    /// Measure mean displacements as barycentres from this point (the engines pass the data's
    /// median when the weighting has equal sides), or `None` for plain displacements.
    pub origin: Option<&'a [T]>,
    /// Also compute each block's kernel log-density (for weightings that need it).
    pub densities: bool,
}

/// Evaluates one term: solves its coupling, then runs one fused pass per block that yields both the
/// row log-sum and the displacement. Row-normalising couplings leave `f` to that pass.
///
/// ```
/// use drift_api::{ColumnBlock, PointCloud};
/// use drift_ops::engine::{evaluate_term, TermProblem, TermRef};
/// use drift_ops::{CpuBackend, Gaussian, RowNormalised};
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let y = PointCloud::new("y", vec![2.0f64, 3.0], 1).unwrap();
/// let (log_a, log_b) = (x.log_weights(), y.log_weights());
/// let blocks = [ColumnBlock { points: &y, log_weights: &log_b, mask_diagonal: false }];
/// let out = evaluate_term(TermProblem {
///     label: "attraction", backend: &CpuBackend,
///     term: TermRef::mean(&Gaussian, &RowNormalised, 1.0),
///     rows: &x, row_log_weights: &log_a, blocks: &blocks,
///     symmetric: false, origin: None, densities: true,
/// }).unwrap();
/// assert!((out.masses[0][0] - 1.0).abs() < 1e-15); // a softmax row has mass 1
/// let density = 0.5 * ((-4.0f64).exp() + (-9.0f64).exp()); // Σ_j b_j k(x_0, y_j)
/// assert!((out.log_densities[0][0] - density.ln()).abs() < 1e-12);
/// assert!(out.displacements[0][0] > 2.0); // the barycentre minus x_0
/// ```
pub fn evaluate_term<T: Real>(t: TermProblem<'_, T>) -> Result<TermOutput<T>> {
    let TermProblem {
        label,
        backend,
        term,
        rows,
        row_log_weights,
        blocks,
        symmetric,
        origin,
        densities,
    } = t;
    let tau = T::of(term.temperature);
    let mut potentials = Potentials::default();
    // Prepared only if the coupling asks, and kept for the displacement passes below.
    let pairs = PairSets::new(backend, term.kernel, rows, blocks)
        .with_follow_up(term.displacement.into(), origin);
    let mut report = term.coupling.solve(
        CouplingProblem {
            backend,
            kernel: term.kernel,
            tau,
            rows,
            row_log_weights,
            blocks,
            symmetric,
            pairs: &pairs,
            out: &mut potentials,
            problem: term.problem,
        }
        .tagged(),
    )?;
    report.term = label.to_string();
    check_potentials(&potentials, rows, blocks)?;
    let n = rows.len();
    let mut lses = Vec::with_capacity(blocks.len());
    let mut displacements = Vec::with_capacity(blocks.len());
    let mut log_densities = Vec::new();
    for (b, (block, g)) in blocks.iter().zip(&potentials.g).enumerate() {
        let mut lse = vec![T::zero(); n];
        let mut disp = vec![T::zero(); n * rows.dim()];
        let pass = |col_potential, lse: &mut [T], disp: Option<&mut [T]>| {
            let displacement = match disp {
                Some(_) => term.displacement.into(),
                None => Displacement::None,
            };
            reduce(
                backend,
                RowReduction {
                    rows,
                    cols: block.points,
                    kernel: term.kernel,
                    tau,
                    col_potential: Some(col_potential),
                    mask_diagonal: block.mask_diagonal,
                    displacement,
                    origin,
                    lse,
                    disp,
                },
            )
        };
        // The coupling's prepared pairs may answer the displacement pass from what they hold.
        let prepared = match pairs.prepared(b) {
            Some(p) => p.displacement_pass(PairDisplacement {
                tau,
                col_potential: g,
                displacement: term.displacement.into(),
                origin,
                lse: &mut lse,
                disp: &mut disp,
            })?,
            None => false,
        };
        if !prepared {
            pass(g, &mut lse, Some(&mut disp))?;
        }
        if densities {
            // Where the coupling weighs columns by their weights alone the pass above was the
            // density; otherwise one more log-sum-exp pass with the weights.
            if g.as_slice() == block.log_weights {
                log_densities.push(lse.clone());
            } else {
                let mut density = vec![T::zero(); n];
                pass(block.log_weights, &mut density, None)?;
                log_densities.push(density);
            }
        }
        lses.push(lse);
        displacements.push(disp);
    }
    // LSE over every block: the log of a row's total plan mass up to its potential.
    let total = |i: usize| {
        lses.iter()
            .fold(T::neg_infinity(), |acc, l| log_add_exp(acc, l[i]))
    };
    // Row-normalising couplings leave f to this pass: f_i = −LSE over every block.
    let f = potentials
        .f
        .unwrap_or_else(|| (0..n).map(|i| -total(i)).collect());
    let per_row_weight = term.coupling.row_masses() == RowMasses::FractionOfRowWeight;
    let masses = lses
        .iter()
        .map(|lse| {
            (0..n)
                .map(|i| match per_row_weight {
                    false => (lse[i] + f[i]).exp(),
                    // A row without mass: the limit of a vanishing weight, its plan row's shares.
                    true if row_log_weights[i] == T::neg_infinity() => (lse[i] - total(i)).exp(),
                    true => (lse[i] + f[i] - row_log_weights[i]).exp(),
                })
                .collect()
        })
        .collect();
    Ok(TermOutput {
        row_lse: lses,
        masses,
        log_densities,
        displacements,
        from_origin: origin.is_some() && term.displacement == DisplacementKind::Mean,
        report,
    })
}

/// Guards against a (plugin) coupling that returns potentials of the wrong shape.
fn check_potentials<T: Real>(
    p: &Potentials<T>,
    rows: &PointCloud<T>,
    blocks: &[ColumnBlock<'_, T>],
) -> Result<()> {
    let bad = |what: &str, expected: usize, found: usize| DriftError::ShapeMismatch {
        what: format!("coupling potentials {what}"),
        expected,
        found,
    };
    if let Some(f) = &p.f {
        if f.len() != rows.len() {
            return Err(bad("f", rows.len(), f.len()));
        }
    }
    if p.g.len() != blocks.len() {
        return Err(bad("g (blocks)", blocks.len(), p.g.len()));
    }
    for (g, b) in p.g.iter().zip(blocks) {
        if g.len() != b.points.len() {
            return Err(bad("g", b.points.len(), g.len()));
        }
    }
    Ok(())
}
