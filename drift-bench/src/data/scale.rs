//! The scale of a data set: the mean Euclidean distance between two distinct data points. The sweep
//! divides coordinates by it, so that a temperature means the same thing on every data set.

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::SeedableRng;

/// Above this many points the scale is estimated from a seeded sample of this many.
pub const SCALE_SAMPLE: usize = 2000;

/// The mean Euclidean distance `‖x_i − x_j‖` over all pairs `i < j` of rows of `points`
/// (row-major, `dim` columns): exact for at most [`SCALE_SAMPLE`] points, otherwise over a seeded
/// sample of that many distinct rows. Zero when there are fewer than two points (no pair) or all
/// points coincide; [`super::Dataset::scale`] turns that into an error.
///
/// ```
/// let corners = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
/// let s = drift_bench::data::data_scale(&corners, 2, 0);
/// assert!((s - (4.0 + 2.0 * 2f64.sqrt()) / 6.0).abs() < 1e-15);
/// ```
pub fn data_scale(points: &[f64], dim: usize, seed: u64) -> f64 {
    let n = points.len().checked_div(dim).unwrap_or(0);
    if n < 2 {
        return 0.0;
    }
    let rows: Vec<usize> = if n <= SCALE_SAMPLE {
        (0..n).collect()
    } else {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut rows = sample(&mut rng, n, SCALE_SAMPLE).into_vec();
        // The order of summation then follows the data, not the draw.
        rows.sort_unstable();
        rows
    };
    let row = |i: usize| &points[i * dim..(i + 1) * dim];
    // Serial on purpose: a fixed order of summation gives the same bits on every machine.
    let mut total = 0.0;
    for (a, &i) in rows.iter().enumerate() {
        let x = row(i);
        let mut sum_i = 0.0;
        for &j in &rows[a + 1..] {
            let d2: f64 = x.iter().zip(row(j)).map(|(p, q)| (p - q) * (p - q)).sum();
            sum_i += d2.sqrt();
        }
        total += sum_i;
    }
    let m = rows.len() as f64;
    total / (m * (m - 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(data_scale(&[0.0, 0.0, 3.0, 0.0], 2, 0), 3.0);
        assert_eq!(data_scale(&[1.0, 1.0, 4.0, 5.0], 2, 9), 5.0);
        let corners = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let want = (4.0 * 1.0 + 2.0 * 2f64.sqrt()) / 6.0;
        assert!((data_scale(&corners, 2, 0) - want).abs() < 1e-15);
        assert_eq!(data_scale(&[1.0, 2.0], 2, 0), 0.0);
        assert_eq!(data_scale(&[], 3, 0), 0.0);
        assert_eq!(data_scale(&[], 0, 0), 0.0);
    }

    #[test]
    fn large_sets_are_sampled_with_the_seed() {
        // 1-D points 0, 1, ..., n-1: the exact mean pairwise distance is (n + 1) / 3.
        let n = 5000;
        let points: Vec<f64> = (0..n).map(f64::from).collect();
        let a = data_scale(&points, 1, 1);
        assert_eq!(a, data_scale(&points, 1, 1));
        assert_ne!(a, data_scale(&points, 1, 2));
        let exact = f64::from(n + 1) / 3.0;
        assert!((a / exact - 1.0).abs() < 0.05, "{a} vs {exact}");
    }
}
