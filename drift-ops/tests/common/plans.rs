//! The reference couplings: dense log-kernel matrices and the plans' potentials, computed on
//! the whole matrix.

use super::*;

/// A column block of the reference: points, normalised log-weights over the joint set, mask.
pub struct Block<'a> {
    pub pts: &'a [Vec<f64>],
    pub log_b: Vec<f64>,
    pub mask: bool,
}

/// Dense potentials: `f` (None = row-normalised) and `g` per block.
pub struct Plan {
    pub f: Option<Vec<f64>>,
    pub g: Vec<Vec<f64>>,
    /// The column-marginal error of a Sinkhorn plan after its last update.
    pub error: Option<f64>,
    /// For plans that enforce the row marginal (Sinkhorn), the rows' log-weights: row masses are
    /// reported as fractions of them.
    pub mass_per_row_weight: Option<Vec<f64>>,
}

/// The dense log-kernel matrix of rows against the concatenated blocks (`-inf` on masked pairs).
pub fn log_kernel(k: K, tau: f64, x: &[Vec<f64>], blocks: &[Block]) -> Vec<Vec<f64>> {
    x.iter()
        .enumerate()
        .map(|(i, xi)| {
            blocks
                .iter()
                .flat_map(|b| {
                    b.pts.iter().enumerate().map(move |(j, yj)| {
                        if b.mask && i == j {
                            f64::NEG_INFINITY
                        } else {
                            k.ell(sq(xi, yj), tau)
                        }
                    })
                })
                .collect()
        })
        .collect()
}

pub fn row_lse(l: &[Vec<f64>], g: &[f64]) -> Vec<f64> {
    l.iter()
        .map(|row| lse(row.iter().zip(g).map(|(a, b)| a + b)))
        .collect()
}

pub fn col_lse(l: &[Vec<f64>], f: &[f64]) -> Vec<f64> {
    (0..l[0].len())
        .map(|j| lse(l.iter().zip(f).map(|(row, fi)| row[j] + fi)))
        .collect()
}

/// The reference coupling on the dense matrix.
pub fn plan(
    c: C,
    k: K,
    tau: f64,
    x: &[Vec<f64>],
    log_a: &[f64],
    blocks: &[Block],
    symmetric: bool,
) -> Plan {
    let l = log_kernel(k, tau, x, blocks);
    let log_b: Vec<f64> = blocks.iter().flat_map(|b| b.log_b.clone()).collect();
    let (n, mt) = (x.len() as f64, log_b.len() as f64);
    let split = |g: Vec<f64>| -> Vec<Vec<f64>> {
        let mut out = Vec::new();
        let mut s = 0;
        for b in blocks {
            out.push(g[s..s + b.pts.len()].to_vec());
            s += b.pts.len();
        }
        out
    };
    match c {
        C::None => Plan {
            f: Some(vec![0.0; x.len()]),
            g: split(log_b),
            error: None,
            mass_per_row_weight: None,
        },
        C::Row => Plan {
            f: Some(row_lse(&l, &log_b).iter().map(|v| -v).collect()),
            g: split(log_b),
            error: None,
            mass_per_row_weight: None,
        },
        C::Proxy => {
            let ra: Vec<f64> = log_a.iter().map(|v| v + n.ln()).collect();
            let rb: Vec<f64> = log_b.iter().map(|v| v + mt.ln()).collect();
            let f = ra
                .iter()
                .zip(row_lse(&l, &rb))
                .map(|(a, r)| 0.5 * (a - r))
                .collect();
            let g = rb
                .iter()
                .zip(col_lse(&l, &ra))
                .map(|(b, c)| 0.5 * (b - c))
                .collect();
            Plan {
                f: Some(f),
                g: split(g),
                error: None,
                mass_per_row_weight: None,
            }
        }
        C::Sinkhorn(iters) => {
            if symmetric {
                let mut f = log_a.to_vec();
                for _ in 0..iters {
                    let r = row_lse(&l, &f);
                    f = (0..f.len())
                        .map(|i| 0.5 * (f[i] + log_a[i] - r[i]))
                        .collect();
                }
                let r = row_lse(&l, &f);
                let error = (0..f.len())
                    .map(|i| ((f[i] + r[i]).exp() - log_a[i].exp()).abs())
                    .sum();
                Plan {
                    f: Some(f.clone()),
                    g: vec![f],
                    error: Some(error),
                    mass_per_row_weight: Some(log_a.to_vec()),
                }
            } else {
                let mut g = log_b.clone();
                let mut f: Vec<f64> = log_a
                    .iter()
                    .zip(row_lse(&l, &g))
                    .map(|(a, r)| a - r)
                    .collect();
                for _ in 0..iters {
                    g = log_b
                        .iter()
                        .zip(col_lse(&l, &f))
                        .map(|(b, c)| b - c)
                        .collect();
                    f = log_a
                        .iter()
                        .zip(row_lse(&l, &g))
                        .map(|(a, r)| a - r)
                        .collect();
                }
                let c = col_lse(&l, &f);
                let error = (0..g.len())
                    .map(|j| ((g[j] + c[j]).exp() - log_b[j].exp()).abs())
                    .sum();
                Plan {
                    f: Some(f),
                    g: split(g),
                    error: Some(error),
                    mass_per_row_weight: Some(log_a.to_vec()),
                }
            }
        }
    }
}
