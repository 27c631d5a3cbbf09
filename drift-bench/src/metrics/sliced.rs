//! The sliced Wasserstein-2 distance: exact 1-D `W2` along random directions, averaged.

use super::input::rows;
use anyhow::Result;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Sliced Wasserstein-2 distance between two uniformly weighted point sets (row-major, `dim` columns):
///
/// ```text
/// SW2(X, Y) = sqrt( (1/L) Σ_l W2²(θ_l·X, θ_l·Y) )
/// ```
///
/// over `directions` unit vectors `θ_l` drawn uniformly on the sphere from `seed`. Each 1-D `W2²` is
/// computed by sorting both projections and comparing quantiles: with `n = m` it is the mean squared
/// difference of the sorted values; otherwise both empirical quantile functions are evaluated at the
/// `max(n, m)` mid-levels `(k + ½)/max(n, m)`, which is exact when the larger size is a multiple of
/// the smaller (both quantile functions are then constant on every level's cell) and a midpoint-rule
/// approximation of `∫₀¹ (F⁻¹(u) − G⁻¹(u))² du` otherwise.
///
/// Panics if either set is empty, `dim` is zero, or a length is not a multiple of `dim`;
/// [`sliced_w2_checked`] returns those, and non-finite coordinates, as errors instead.
pub fn sliced_w2(x: &[f64], y: &[f64], dim: usize, directions: usize, seed: u64) -> f64 {
    assert!(dim > 0, "sliced_w2 needs a positive dimension");
    let (n, m) = (x.len() / dim, y.len() / dim);
    assert!(
        n * dim == x.len() && m * dim == y.len(),
        "lengths must be multiples of dim"
    );
    assert!(n > 0 && m > 0, "sliced_w2 needs non-empty point sets");
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut px, mut py) = (vec![0.0; n], vec![0.0; m]);
    let mut total = 0.0;
    for _ in 0..directions {
        let theta = crate::datasets::random_direction(dim, &mut rng);
        project(x, &theta, &mut px);
        project(y, &theta, &mut py);
        px.sort_unstable_by(f64::total_cmp);
        py.sort_unstable_by(f64::total_cmp);
        total += w2_sq_sorted(&px, &py);
    }
    (total / directions.max(1) as f64).sqrt()
}

/// [`sliced_w2`] with its input checked: empty sets, lengths that are not whole rows, non-finite
/// coordinates and `directions = 0` are errors that name the problem.
pub fn sliced_w2_checked(
    x: &[f64],
    y: &[f64],
    dim: usize,
    directions: usize,
    seed: u64,
) -> Result<f64> {
    rows("sliced W2 samples X", x, dim)?;
    rows("sliced W2 data Y", y, dim)?;
    if directions == 0 {
        anyhow::bail!("sliced W2: needs at least one direction");
    }
    Ok(sliced_w2(x, y, dim, directions, seed))
}

/// `W2²` between two sorted 1-D samples with uniform weights.
fn w2_sq_sorted(a: &[f64], b: &[f64]) -> f64 {
    let k = a.len().max(b.len());
    let at = |s: &[f64], q: usize| s[(q * s.len()) / k];
    (0..k)
        .map(|q| {
            let d = at(a, q) - at(b, q);
            d * d
        })
        .sum::<f64>()
        / k as f64
}

fn project(points: &[f64], theta: &[f64], out: &mut [f64]) {
    for (p, o) in points.chunks_exact(theta.len()).zip(out.iter_mut()) {
        *o = p.iter().zip(theta).map(|(a, b)| a * b).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::{gaussian_blob, GaussianMixture};

    #[test]
    fn sw2_of_a_set_with_itself_is_zero() {
        let x = GaussianMixture::eight_gaussians().sample(300, 1);
        assert_eq!(sliced_w2(&x, &x, 2, 64, 0), 0.0);
        // A permutation of the same points is the same distribution.
        let mut rev: Vec<f64> = x.chunks(2).rev().flatten().copied().collect();
        assert_eq!(sliced_w2(&x, &rev, 2, 64, 0), 0.0);
        rev.truncate(2); // different sizes still work
        assert!(sliced_w2(&x, &rev, 2, 8, 0) > 0.0);
    }

    #[test]
    fn sw2_of_a_shift_is_the_shift_over_sqrt_d() {
        // Every projection of a translation by t moves by θ·t, and E[(θ·t)²] = ‖t‖²/D for uniform θ;
        // many directions make the Monte Carlo average close to that.
        let x = gaussian_blob(200, &[0.0, 0.0], 1.0, 3);
        let shift = [0.3, -0.4]; // ‖t‖ = 0.5
        let y: Vec<f64> = x
            .chunks(2)
            .flat_map(|p| [p[0] + shift[0], p[1] + shift[1]])
            .collect();
        let sw = sliced_w2(&x, &y, 2, 4096, 5);
        assert!((sw - 0.5 / 2f64.sqrt()).abs() < 0.01, "sw2 = {sw}");
        // In 1-D there is one direction (up to sign) and the distance is exactly the shift.
        let a = [0.0, 1.0, 5.0];
        let b = [2.5, 3.5, 7.5];
        assert!((sliced_w2(&a, &b, 1, 3, 0) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn the_checked_version_refuses_bad_input() {
        let e = |r: Result<f64>| r.unwrap_err().to_string();
        assert!(e(sliced_w2_checked(&[], &[0.0], 1, 4, 0)).contains("sliced W2 samples X"));
        assert!(e(sliced_w2_checked(&[0.0], &[f64::NAN], 1, 4, 0)).contains("is NaN"));
        assert!(e(sliced_w2_checked(&[0.0], &[1.0], 1, 0, 0)).contains("one direction"));
        let a = [0.0, 1.0, 5.0];
        let b = [2.5, 3.5, 7.5];
        assert_eq!(
            sliced_w2_checked(&a, &b, 1, 3, 0).unwrap(),
            sliced_w2(&a, &b, 1, 3, 0)
        );
    }
}
