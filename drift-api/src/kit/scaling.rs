//! The alternating-scaling loop of a Sinkhorn coupling at one temperature, over one prepared pair
//! set ([`PreparedPairs::scaling_loop`]): the part of a Sinkhorn solve that runs its passes back to
//! back. A host backend runs it here, with its passes; a device backend may run it where the pairs
//! are, so that the potentials stay there between iterations and only the stopping test's error
//! crosses per iteration.

use crate::error::Result;
use crate::kit::backend::check_len;
use crate::kit::pairs::PreparedPairs;
use crate::real::{log_add_exp, Real};

/// One scaling update `log_target − lse` of a point's potential, where `lse` is the log-mass the
/// point receives from the other side.
///
/// A zero-weight point (`log_target = −∞`) gets `−∞` whatever it sees: it carries no mass. A point
/// that no mass reaches (`lse = −∞`: every point on the other side that could reach it has zero
/// weight or is masked) would get `+∞`, and `+∞` meets the `−∞` of zero-weight points as NaN in the
/// next reduction; such a point cannot receive mass in any plan, so it gets `−∞` too, and its unmet
/// mass stays in the reported marginal error. Finite inputs are subtracted as is.
///
/// ```
/// use drift_api::kit::scaling::scaling;
/// assert_eq!(scaling(0.5f64, 2.0), -1.5);
/// assert_eq!(scaling(0.5f64, f64::NEG_INFINITY), f64::NEG_INFINITY);
/// ```
pub fn scaling<T: Real>(log_target: T, lse: T) -> T {
    if lse == T::neg_infinity() {
        T::neg_infinity()
    } else {
        log_target - lse
    }
}

/// [`scaling`] element-wise: the potentials `log_target − lse` of a whole side.
///
/// ```
/// let f = drift_api::kit::scaling::scaling_all(&[0.0f64, 1.0], &[0.5, f64::NEG_INFINITY]);
/// assert_eq!(f, [-0.5, f64::NEG_INFINITY]);
/// ```
pub fn scaling_all<T: Real>(log_target: &[T], lse: &[T]) -> Vec<T> {
    log_target
        .iter()
        .zip(lse)
        .map(|(t, c)| scaling(*t, *c))
        .collect()
}

/// `Σ_j |exp(p_j + c_j) − exp(l_j)|`: the L1 error between a plan's marginal and its target.
///
/// ```
/// let e = drift_api::kit::scaling::marginal_l1(&[0.0f64], &[(0.5f64).ln()], &[0.0]);
/// assert!((e - 0.5).abs() < 1e-15);
/// ```
pub fn marginal_l1<T: Real>(potential: &[T], lse: &[T], log_target: &[T]) -> f64 {
    potential
        .iter()
        .zip(lse)
        .zip(log_target)
        .map(|((p, c), l)| ((*p + *c).exp() - l.exp()).abs().as_f64())
        .sum()
}

/// The iterations of a Sinkhorn loop at one temperature, over the prepared pair sets of one row
/// set against one or more column blocks (guidance negatives and the joint set add blocks).
///
/// * Asymmetric (`symmetric = false`; rows `a`, blocks `b`): from the column potentials `g_b`,
///   `f = log a − LSE_{b,j}(g_bj + ℓ_ij)`, then each block's column log-sums
///   `c_bj = LSE_i(f_i + ℓ_ij)`, the error `Σ_b Σ_j |exp(g_bj + c_bj) − b_bj|` and the next
///   `g_b = log b_b − c_b`.
/// * Symmetric (one block, the rows themselves, weights `a`): from `f`, `c_i = LSE_k(f_k + ℓ_ik)`,
///   the error `Σ_i |exp(f_i + c_i) − a_i|` and the averaged update `f ← ½(f + log a − c)`.
///
/// Updates go through [`scaling`]. The loop stops when the error is at most `tol` or when the count
/// of iterations, starting at `counted`, reaches `cap`; the iteration at the cap runs its row pass
/// as the last one ([`PreparedPairs::last_row_lse`]).
#[derive(Debug)]
pub struct ScalingLoop<'p, T> {
    /// Temperature of every pass.
    pub tau: T,
    /// `log a`, one per row.
    pub row_log_weights: &'p [T],
    /// `log b` of each column block, one per column (unused when symmetric).
    pub col_log_weights: Vec<&'p [T]>,
    /// Rows and columns are the same points (the self problem; one block).
    pub symmetric: bool,
    /// The starting potentials: `g` of each block, or `[f]` when symmetric.
    pub start: Vec<Vec<T>>,
    /// Iterations counted before this loop (earlier stages of a temperature schedule).
    pub counted: usize,
    /// The count at which the loop stops whatever its error.
    pub cap: usize,
    /// The marginal error at which it stops.
    pub tol: f64,
}

impl<T> ScalingLoop<'_, T> {
    /// Checks the loop against its blocks: one potential and one weight vector per block, one
    /// block when symmetric.
    pub fn check(&self, blocks: usize) -> Result<()> {
        check_len(
            "scaling loop: starting potentials",
            self.start.len(),
            blocks,
        )?;
        check_len(
            "scaling loop: column log-weights",
            self.col_log_weights.len(),
            blocks,
        )?;
        if self.symmetric {
            check_len("scaling loop: blocks of a symmetric problem", blocks, 1)?;
        }
        Ok(())
    }
}

/// What a [`ScalingLoop`] ends with.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingOutcome<T> {
    /// The row potential of the last iteration.
    pub f: Vec<T>,
    /// The column potentials `f` was computed from, per block (`[f]` when symmetric).
    pub g: Vec<Vec<T>>,
    /// The last iteration's marginal error (of `(f, g)` on the columns; of `f` when symmetric).
    pub error: f64,
    /// The iteration count, `counted` included.
    pub iterations: usize,
}

/// The stopping rule every scaling loop shares: from `state`, `step` gives the iteration's output,
/// the next state and the error; the loop returns the output, the state it came from, the error and
/// the count once the error is at most `tol` or the count reaches `cap`. `step` is told whether
/// its iteration is the last whatever its error (the one at the cap).
pub fn scaling_iterations<S, R>(
    start: S,
    counted: usize,
    cap: usize,
    tol: f64,
    mut step: impl FnMut(&S, bool) -> Result<(R, S, f64)>,
) -> Result<(R, S, f64, usize)> {
    let (mut state, mut iterations) = (start, counted);
    loop {
        let last = iterations >= cap;
        let (out, next, error) = step(&state, last)?;
        if error <= tol || last {
            return Ok((out, state, error, iterations));
        }
        state = next;
        iterations += 1;
    }
}

/// `f = log a − LSE_{b,j}(g_bj + ℓ_ij)`: the row update over every block's pairs.
/// `last`: the coupling's last iteration ([`PreparedPairs::last_row_lse`]).
pub fn row_potential<T: Real>(
    blocks: &[&dyn PreparedPairs<T>],
    tau: T,
    g: &[Vec<T>],
    log_a: &[T],
    last: bool,
) -> Result<Vec<T>> {
    let mut total = vec![T::neg_infinity(); log_a.len()];
    let mut lse = vec![T::zero(); log_a.len()];
    for (pairs, gb) in blocks.iter().zip(g) {
        if last {
            pairs.last_row_lse(tau, Some(gb), &mut lse)?;
        } else {
            pairs.row_lse(tau, Some(gb), &mut lse)?;
        }
        total
            .iter_mut()
            .zip(&lse)
            .for_each(|(t, l)| *t = log_add_exp(*t, *l));
    }
    Ok(scaling_all(log_a, &total))
}

/// `g_b = log b_b − LSE_i(f_i + ℓ_ij)` for every block, and the column marginal error
/// `Σ_b Σ_j |exp(g_bj + c_bj) − b_bj|` of the plan with the potentials `(f, g)`.
pub fn column_potentials<T: Real>(
    blocks: &[&dyn PreparedPairs<T>],
    tau: T,
    f: &[T],
    g: &[Vec<T>],
    log_b: &[&[T]],
) -> Result<(Vec<Vec<T>>, f64)> {
    let mut next = Vec::with_capacity(blocks.len());
    let mut error = 0.0;
    for ((pairs, gb), lb) in blocks.iter().zip(g).zip(log_b) {
        let mut lse = vec![T::zero(); lb.len()];
        pairs.col_lse(tau, Some(f), &mut lse)?;
        error += marginal_l1(gb, &lse, lb);
        next.push(scaling_all(lb, &lse));
    }
    Ok((next, error))
}

/// One asymmetric iteration from the column potentials `g` ([`ScalingLoop`]): returns `f`, the
/// next `g` and the column marginal error of `(f, g)`. With one block it is one
/// [`PreparedPairs::sweep`] (one read of the pairs where they are cached).
pub fn asymmetric_step<T: Real>(
    blocks: &[&dyn PreparedPairs<T>],
    tau: T,
    g: &[Vec<T>],
    log_a: &[T],
    log_b: &[&[T]],
    last: bool,
) -> Result<(Vec<T>, Vec<Vec<T>>, f64)> {
    if let ([pairs], [g0], [lb]) = (blocks, g, log_b) {
        let update = |i: usize, c: T| scaling(log_a[i], c);
        let mut f = vec![T::zero(); log_a.len()];
        let mut lse = vec![T::zero(); g0.len()];
        if last {
            pairs.last_sweep(tau, Some(g0), &update, &mut f, &mut lse)?;
        } else {
            pairs.sweep(tau, Some(g0), &update, &mut f, &mut lse)?;
        }
        let error = marginal_l1(g0, &lse, lb);
        return Ok((f, vec![scaling_all(lb, &lse)], error));
    }
    let f = row_potential(blocks, tau, g, log_a, last)?;
    let (next, error) = column_potentials(blocks, tau, &f, g, log_b)?;
    Ok((f, next, error))
}

/// One symmetric iteration from `f` ([`ScalingLoop`]): the averaged update `½(f + log a − c)` and
/// the marginal error of `f` (`last`: the coupling's last iteration, [`PreparedPairs::last_row_lse`]).
pub fn symmetric_step<T: Real>(
    pairs: &dyn PreparedPairs<T>,
    tau: T,
    f: &[T],
    log_a: &[T],
    last: bool,
) -> Result<(Vec<T>, f64)> {
    let mut lse = vec![T::zero(); f.len()];
    if last {
        pairs.last_row_lse(tau, Some(f), &mut lse)?;
    } else {
        pairs.row_lse(tau, Some(f), &mut lse)?;
    }
    let error = marginal_l1(f, &lse, log_a);
    let half = T::of(0.5);
    let next = f
        .iter()
        .zip(&lse)
        .zip(log_a)
        .map(|((fi, c), la)| half * scaling(*fi + *la, *c))
        .collect();
    Ok((next, error))
}

/// [`PreparedPairs::scaling_loop`] with the blocks' own passes: what the default runs.
pub fn scaling_loop_on_host<T: Real>(
    blocks: &[&dyn PreparedPairs<T>],
    l: ScalingLoop<'_, T>,
) -> Result<ScalingOutcome<T>> {
    l.check(blocks.len())?;
    let log_a = l.row_log_weights;
    if l.symmetric {
        let ((), f, error, iterations) =
            scaling_iterations(l.start, l.counted, l.cap, l.tol, |f: &Vec<Vec<T>>, last| {
                let (next, error) = symmetric_step(blocks[0], l.tau, &f[0], log_a, last)?;
                Ok(((), vec![next], error))
            })?;
        return Ok(ScalingOutcome {
            f: f[0].clone(),
            g: f,
            error,
            iterations,
        });
    }
    let (f, g, error, iterations) =
        scaling_iterations(l.start, l.counted, l.cap, l.tol, |g: &Vec<Vec<T>>, last| {
            asymmetric_step(blocks, l.tau, g, log_a, &l.col_log_weights, last)
        })?;
    Ok(ScalingOutcome {
        f,
        g,
        error,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_stops_at_the_tolerance_or_at_the_cap_announcing_the_last_pass() {
        // A state that halves its error each step.
        let run = |tol: f64, cap: usize| {
            let mut steps = 0;
            let mut announced = Vec::new();
            let out = scaling_iterations(1.0f64, 2, cap, tol, |e: &f64, last| {
                if last {
                    announced.push(steps);
                }
                steps += 1;
                Ok((*e * 10.0, *e / 2.0, *e))
            })
            .unwrap();
            (out, announced)
        };
        // Tolerance first: error 1, 0.5, 0.25 → stops on the third step (count 4), not announced.
        assert_eq!(run(0.3, 100), ((2.5, 0.25, 0.25, 4), vec![]));
        // Cap first: counted 2, cap 3 → two steps, the second announced.
        assert_eq!(run(0.0, 3), ((5.0, 0.5, 0.5, 3), vec![1]));
        // Already at the cap: one announced step.
        assert_eq!(run(0.0, 2), ((10.0, 1.0, 1.0, 2), vec![0]));
    }
}
