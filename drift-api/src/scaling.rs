//! The alternating-scaling loop of a Sinkhorn coupling at one temperature, over one prepared pair
//! set ([`PreparedPairs::scaling_loop`]): the part of a Sinkhorn solve that runs its passes back to
//! back. A host backend runs it here, with its passes; a device backend may run it where the pairs
//! are, so that the potentials stay there between iterations and only the stopping test's error
//! crosses per iteration.

use crate::error::Result;
use crate::pairs::PreparedPairs;
use crate::real::Real;

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
/// use drift_api::scaling::scaling;
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

/// `Σ_j |exp(p_j + c_j) − exp(l_j)|`: the L1 error between a plan's marginal and its target.
///
/// ```
/// let e = drift_api::scaling::marginal_l1(&[0.0f64], &[(0.5f64).ln()], &[0.0]);
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

/// The iterations of a Sinkhorn loop at one temperature, over one prepared pair set.
///
/// * Asymmetric (`symmetric = false`; rows `a`, columns `b`): from the column potential `g`,
///   `f = log a − LSE_j(g_j + ℓ_ij)`, then the column log-sums `c_j = LSE_i(f_i + ℓ_ij)`, the
///   error `Σ_j |exp(g_j + c_j) − b_j|` and the next `g = log b − c`.
/// * Symmetric (rows and columns the same points, weights `a`): from `f`, `c_i = LSE_k(f_k +
///   ℓ_ik)`, the error `Σ_i |exp(f_i + c_i) − a_i|` and the averaged update `f ← ½(f + log a −
///   c)`.
///
/// Updates go through [`scaling`]. The loop stops when the error is at most `tol` or when the count
/// of iterations, starting at `counted`, reaches `cap`; the pass at the cap is announced to the
/// pairs ([`PreparedPairs::keep_next_row_pass`]).
#[derive(Debug)]
pub struct ScalingLoop<'p, T> {
    /// Temperature of every pass.
    pub tau: T,
    /// `log a`, one per row.
    pub row_log_weights: &'p [T],
    /// `log b`, one per column (unused when symmetric).
    pub col_log_weights: &'p [T],
    /// Rows and columns are the same points (the self problem).
    pub symmetric: bool,
    /// The starting potential: `g` (columns), or `f` (rows) when symmetric.
    pub start: Vec<T>,
    /// Iterations counted before this loop (earlier stages of a temperature schedule).
    pub counted: usize,
    /// The count at which the loop stops whatever its error.
    pub cap: usize,
    /// The marginal error at which it stops.
    pub tol: f64,
}

/// What a [`ScalingLoop`] ends with.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingOutcome<T> {
    /// The row potential of the last iteration.
    pub f: Vec<T>,
    /// The column potential `f` was computed from (`g = f` when symmetric).
    pub g: Vec<T>,
    /// The last iteration's marginal error (of `(f, g)` on the columns; of `f` when symmetric).
    pub error: f64,
    /// The iteration count, `counted` included.
    pub iterations: usize,
}

/// The stopping rule every scaling loop shares: from `state`, `step` gives the iteration's output,
/// the next state and the error; the loop returns the output, the state it came from, the error and
/// the count once the error is at most `tol` or the count reaches `cap` (calling `at_cap` before
/// that last step).
pub fn scaling_iterations<S, R>(
    start: S,
    counted: usize,
    cap: usize,
    tol: f64,
    mut at_cap: impl FnMut(),
    mut step: impl FnMut(&S) -> Result<(R, S, f64)>,
) -> Result<(R, S, f64, usize)> {
    let (mut state, mut iterations) = (start, counted);
    loop {
        let last = iterations >= cap;
        if last {
            at_cap();
        }
        let (out, next, error) = step(&state)?;
        if error <= tol || last {
            return Ok((out, state, error, iterations));
        }
        state = next;
        iterations += 1;
    }
}

/// One asymmetric iteration from the column potential `g` ([`ScalingLoop`]): returns `f`, the
/// next `g` and the column marginal error of `(f, g)`. One [`PreparedPairs::sweep`].
pub fn asymmetric_step<T: Real, P: PreparedPairs<T> + ?Sized>(
    pairs: &P,
    tau: T,
    g: &[T],
    log_a: &[T],
    log_b: &[T],
) -> Result<(Vec<T>, Vec<T>, f64)> {
    let update = |i: usize, c: T| scaling(log_a[i], c);
    let mut f = vec![T::zero(); log_a.len()];
    let mut lse = vec![T::zero(); g.len()];
    pairs.sweep(tau, Some(g), &update, &mut f, &mut lse)?;
    let error = marginal_l1(g, &lse, log_b);
    let next = log_b
        .iter()
        .zip(&lse)
        .map(|(b, c)| scaling(*b, *c))
        .collect();
    Ok((f, next, error))
}

/// One symmetric iteration from `f` ([`ScalingLoop`]): the averaged update `½(f + log a − c)` and
/// the marginal error of `f`.
pub fn symmetric_step<T: Real, P: PreparedPairs<T> + ?Sized>(
    pairs: &P,
    tau: T,
    f: &[T],
    log_a: &[T],
) -> Result<(Vec<T>, f64)> {
    let mut lse = vec![T::zero(); f.len()];
    pairs.row_lse(tau, Some(f), &mut lse)?;
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

/// [`PreparedPairs::scaling_loop`] with the pairs' own passes: what the default runs.
pub fn scaling_loop_on_host<T: Real, P: PreparedPairs<T> + ?Sized>(
    pairs: &P,
    l: ScalingLoop<'_, T>,
) -> Result<ScalingOutcome<T>> {
    let (log_a, log_b) = (l.row_log_weights, l.col_log_weights);
    let at_cap = || pairs.keep_next_row_pass();
    if l.symmetric {
        let ((), f, error, iterations) =
            scaling_iterations(l.start, l.counted, l.cap, l.tol, at_cap, |f: &Vec<T>| {
                let (next, error) = symmetric_step(pairs, l.tau, f, log_a)?;
                Ok(((), next, error))
            })?;
        return Ok(ScalingOutcome {
            g: f.clone(),
            f,
            error,
            iterations,
        });
    }
    let (f, g, error, iterations) =
        scaling_iterations(l.start, l.counted, l.cap, l.tol, at_cap, |g: &Vec<T>| {
            asymmetric_step(pairs, l.tau, g, log_a, log_b)
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
            let steps = std::cell::Cell::new(0);
            let mut announced = Vec::new();
            let out = scaling_iterations(
                1.0f64,
                2,
                cap,
                tol,
                || announced.push(steps.get()),
                |e: &f64| {
                    steps.set(steps.get() + 1);
                    Ok((*e * 10.0, *e / 2.0, *e))
                },
            )
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
