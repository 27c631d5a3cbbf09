//! One term of a drift: solve a coupling, then one displacement pass per column block.

use super::weighting::Side;
use drift_api::{
    log_add_exp, reduce, solve_coupling, Backend, ColumnBlock, Coupling, CouplingProblem,
    CouplingReport, Displacement, DriftError, Kernel, PointCloud, Potentials, Real, Result,
    RowReduction,
};
use serde::{Deserialize, Serialize};

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
}

impl<'a> TermRef<'a> {
    /// A term accumulating the mean displacement (barycentre minus particle).
    pub fn mean(kernel: &'a dyn Kernel, coupling: &'a dyn Coupling, temperature: f64) -> Self {
        TermRef {
            kernel,
            coupling,
            temperature,
            displacement: DisplacementKind::Mean,
        }
    }

    /// The term at the context's temperature (annealing, multi-temperature and feature-scale
    /// compositions set the factor).
    pub fn in_context(self, context: &drift_api::Context) -> Self {
        TermRef {
            temperature: self.temperature * context.temperature_factor,
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

/// The outcome of a term: per column block, the row log-densities `lse_i = LSE_j(g_j + ℓ_ij)`, the
/// plan's row masses `m_i = exp(f_i + lse_i)` and the displacements (`N × D`): barycentres measured
/// from the origin for the mean displacement (`from_origin`), unit displacements otherwise.
#[derive(Debug)]
pub(crate) struct TermOutput<T> {
    pub log_densities: Vec<Vec<T>>,
    pub masses: Vec<Vec<T>>,
    pub displacements: Vec<Vec<T>>,
    pub from_origin: bool,
    pub report: CouplingReport,
}

impl<T: Real> TermOutput<T> {
    /// Folds every block after `first` into block `first`, as if they were one column set: the
    /// log-densities add in the log domain, the masses add, and the displacements average with the
    /// blocks' shares of the row's density. Used when guidance negatives join the repulsion.
    pub fn merge_blocks_from(&mut self, first: usize) {
        while self.log_densities.len() > first + 1 {
            let (ld, m, disp) = (
                self.log_densities.pop().unwrap_or_default(),
                self.masses.pop().unwrap_or_default(),
                self.displacements.pop().unwrap_or_default(),
            );
            let d = disp.len() / ld.len().max(1);
            let (ld0, m0, disp0) = (
                &mut self.log_densities[first],
                &mut self.masses[first],
                &mut self.displacements[first],
            );
            for i in 0..ld.len() {
                let total = log_add_exp(ld0[i], ld[i]);
                if total == T::neg_infinity() {
                    continue;
                }
                let (w0, w1) = ((ld0[i] - total).exp(), (ld[i] - total).exp());
                for k in i * d..(i + 1) * d {
                    disp0[k] = w0 * disp0[k] + w1 * disp[k];
                }
                ld0[i] = total;
                m0[i] += m[i];
            }
        }
    }

    /// Block `b` as one side of the field.
    pub fn side(&self, b: usize) -> Side<'_, T> {
        Side {
            log_density: &self.log_densities[b],
            masses: &self.masses[b],
            displacements: &self.displacements[b],
            from_origin: self.from_origin,
        }
    }
}

/// Solves the term's coupling between `rows` and `blocks`, then runs one fused pass per block that
/// yields both the row log-mass and the displacement (mean displacements as barycentres measured
/// from `origin` when one is given).
pub(crate) fn evaluate<T: Real>(
    label: &str,
    backend: &dyn Backend,
    term: TermRef<'_>,
    rows: &PointCloud<T>,
    row_log_weights: &[T],
    blocks: &[ColumnBlock<'_, T>],
    symmetric: bool,
    origin: Option<&[T]>,
) -> Result<TermOutput<T>> {
    let tau = T::of(term.temperature);
    let mut potentials = Potentials::default();
    let mut report = solve_coupling(
        term.coupling,
        CouplingProblem {
            backend,
            kernel: term.kernel,
            tau,
            rows,
            row_log_weights,
            blocks,
            symmetric,
            out: &mut potentials,
        },
    )?;
    report.term = label.to_string();
    check_potentials(&potentials, rows, blocks)?;
    let n = rows.len();
    let mut lses = Vec::with_capacity(blocks.len());
    let mut displacements = Vec::with_capacity(blocks.len());
    for (block, g) in blocks.iter().zip(&potentials.g) {
        let mut lse = vec![T::zero(); n];
        let mut disp = vec![T::zero(); n * rows.dim()];
        reduce(
            backend,
            RowReduction {
                rows,
                cols: block.points,
                kernel: term.kernel,
                tau,
                col_potential: Some(g),
                mask_diagonal: block.mask_diagonal,
                displacement: term.displacement.into(),
                origin,
                lse: &mut lse,
                disp: Some(&mut disp),
            },
        )?;
        lses.push(lse);
        displacements.push(disp);
    }
    // Row-normalising couplings leave f to this pass: f_i = −LSE over every block.
    let f = potentials.f.unwrap_or_else(|| {
        (0..n)
            .map(|i| {
                -lses
                    .iter()
                    .fold(T::neg_infinity(), |acc, l| log_add_exp(acc, l[i]))
            })
            .collect()
    });
    let masses = lses
        .iter()
        .map(|lse| lse.iter().zip(&f).map(|(l, fi)| (*l + *fi).exp()).collect())
        .collect();
    Ok(TermOutput {
        log_densities: lses,
        masses,
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
