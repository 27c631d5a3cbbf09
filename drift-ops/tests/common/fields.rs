//! The reference drift operators: per-block row masses and displacements, the split and joint
//! engines' fields, and Deng et al.'s Algorithm 2 as written in the paper.

use super::*;

/// One side of a reference field: row masses, displacements, the plan's row log-sums
/// `LSE_j(g_j + ℓ_ij)` and the kernel log-densities `LSE_j(log b_j + ℓ_ij)`.
pub type SideRef = (Vec<f64>, Vec<Vec<f64>>, Vec<f64>, Vec<f64>);

/// Per block: row masses `exp(f_i + LSE_j(g_j + ℓ_ij))` (divided by `a_i` for plans that enforce
/// the row marginal), displacements, row log-sums and kernel log-densities.
pub fn block_terms(
    k: K,
    tau: f64,
    x: &[Vec<f64>],
    blocks: &[Block],
    p: &Plan,
    disp: DisplacementKind,
) -> Vec<SideRef> {
    let d = x[0].len();
    let f = p.f.clone().unwrap();
    blocks
        .iter()
        .zip(&p.g)
        .map(|(b, g)| {
            let mut masses = Vec::new();
            let mut disps = Vec::new();
            let mut sums = Vec::new();
            let mut dens = Vec::new();
            for (i, xi) in x.iter().enumerate() {
                dens.push(lse(b.pts.iter().enumerate().map(|(j, yj)| {
                    if b.mask && i == j {
                        f64::NEG_INFINITY
                    } else {
                        b.log_b[j] + k.ell(sq(xi, yj), tau)
                    }
                })));
                let s: Vec<f64> = b
                    .pts
                    .iter()
                    .enumerate()
                    .map(|(j, yj)| {
                        if b.mask && i == j {
                            f64::NEG_INFINITY
                        } else {
                            g[j] + k.ell(sq(xi, yj), tau)
                        }
                    })
                    .collect();
                let l = lse(s.iter().cloned());
                masses.push(match &p.mass_per_row_weight {
                    // The limit of a vanishing weight: the share of the row's plan mass.
                    Some(log_a) if log_a[i] == f64::NEG_INFINITY => {
                        let total = lse(p.g.iter().zip(blocks).flat_map(|(g, b)| {
                            b.pts.iter().enumerate().map(move |(j, yj)| {
                                if b.mask && i == j {
                                    f64::NEG_INFINITY
                                } else {
                                    g[j] + k.ell(sq(xi, yj), tau)
                                }
                            })
                        }));
                        (l - total).exp()
                    }
                    Some(log_a) => (f[i] + l - log_a[i]).exp(),
                    None => (f[i] + l).exp(),
                });
                sums.push(l);
                let mut acc = vec![0.0; d];
                for (j, yj) in b.pts.iter().enumerate() {
                    let w = (s[j] - l).exp();
                    let dist = sq(xi, yj).sqrt();
                    for c in 0..d {
                        let delta = yj[c] - xi[c];
                        acc[c] += match disp {
                            DisplacementKind::Mean => w * delta,
                            DisplacementKind::Unit if dist > 0.0 => w * delta / dist,
                            DisplacementKind::Unit => 0.0,
                        };
                    }
                }
                disps.push(acc);
            }
            (masses, disps, sums, dens)
        })
        .collect()
}

/// `V = α⁺ D⁺ − α⁻ D⁻`, flattened.
pub fn combine(w: RowWeighting, plus: &SideRef, minus: &SideRef) -> Vec<f64> {
    let mut v = Vec::new();
    for i in 0..plus.0.len() {
        let (mp, mm) = (plus.0[i], minus.0[i]);
        let r = (minus.3[i] - plus.3[i]).exp();
        let (ap, am) = match w {
            RowWeighting::Unit => (1.0, 1.0),
            RowWeighting::MassProduct => (mp * mm, mp * mm),
            RowWeighting::Masses { scale } => (scale * mp, scale * mm),
            RowWeighting::FDivergence { divergence } => {
                let a = match divergence {
                    FDivergenceKind::Kl => 1.0,
                    FDivergenceKind::ReverseKl => 1.0 / r,
                    FDivergenceKind::ChiSquared => 2.0 * r,
                    FDivergenceKind::JensenShannon => 1.0 / (1.0 + r),
                    FDivergenceKind::SquaredHellinger => 0.5 / r.sqrt(),
                };
                (a, a)
            }
        };
        for c in 0..plus.1[i].len() {
            v.push(ap * plus.1[i][c] - am * minus.1[i][c]);
        }
    }
    v
}

/// Parts of a reference term.
#[derive(Clone, Copy, Debug)]
pub struct RefTerm {
    pub k: K,
    pub c: C,
    pub tau: f64,
    pub disp: DisplacementKind,
}

/// Reference split cross-minus-self drift.
pub fn split_drift(
    x: &Cloud,
    y: &Cloud,
    attraction: RefTerm,
    rep: RefTerm,
    mask: bool,
    w: RowWeighting,
) -> Vec<f64> {
    let cb = [Block {
        pts: &y.pts,
        log_b: y.log_w.clone(),
        mask: false,
    }];
    let sb = [Block {
        pts: &x.pts,
        log_b: x.log_w.clone(),
        mask,
    }];
    let pc = plan(
        attraction.c,
        attraction.k,
        attraction.tau,
        &x.pts,
        &x.log_w,
        &cb,
        false,
    );
    let ps = plan(rep.c, rep.k, rep.tau, &x.pts, &x.log_w, &sb, true);
    let tc = block_terms(
        attraction.k,
        attraction.tau,
        &x.pts,
        &cb,
        &pc,
        attraction.disp,
    );
    let ts = block_terms(rep.k, rep.tau, &x.pts, &sb, &ps, rep.disp);
    combine(w, &tc[0], &ts[0])
}

/// Reference joint drift over `[Y; X]`.
pub fn joint_drift(x: &Cloud, y: &Cloud, t: RefTerm, mask: bool, w: RowWeighting) -> Vec<f64> {
    let (n, m) = (x.n() as f64, y.n() as f64);
    let blocks = [
        Block {
            pts: &y.pts,
            log_b: y.log_w.iter().map(|v| v + (m / (n + m)).ln()).collect(),
            mask: false,
        },
        Block {
            pts: &x.pts,
            log_b: x.log_w.iter().map(|v| v + (n / (n + m)).ln()).collect(),
            mask,
        },
    ];
    let p = plan(t.c, t.k, t.tau, &x.pts, &x.log_w, &blocks, false);
    let terms = block_terms(t.k, t.tau, &x.pts, &blocks, &p, t.disp);
    combine(w, &terms[0], &terms[1])
}

/// Deng et al. Algorithm 2 literally, as in the paper's pseudocode (uniform weights).
pub fn deng_alg2_literal(k: K, tau: f64, x: &[Vec<f64>], y: &[Vec<f64>]) -> Vec<f64> {
    let (n, m, d) = (x.len(), y.len(), x[0].len());
    let cols: Vec<&Vec<f64>> = y.iter().chain(x.iter()).collect();
    let logit: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..m + n)
                .map(|j| {
                    if j >= m && j - m == i {
                        f64::NEG_INFINITY
                    } else {
                        k.ell(sq(&x[i], cols[j]), tau)
                    }
                })
                .collect()
        })
        .collect();
    let row_sm: Vec<Vec<f64>> = logit
        .iter()
        .map(|r| {
            let l = lse(r.iter().cloned());
            r.iter().map(|v| (v - l).exp()).collect()
        })
        .collect();
    let col_l: Vec<f64> = (0..m + n)
        .map(|j| lse(logit.iter().map(|r| r[j])))
        .collect();
    let a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..m + n)
                .map(|j| (row_sm[i][j] * (logit[i][j] - col_l[j]).exp()).sqrt())
                .collect()
        })
        .collect();
    let mut v = vec![0.0; n * d];
    for i in 0..n {
        let pos_sum: f64 = a[i][..m].iter().sum();
        let neg_sum: f64 = a[i][m..].iter().sum();
        for j in 0..m + n {
            let (w, sign) = if j < m {
                (a[i][j] * neg_sum, 1.0)
            } else {
                (a[i][j] * pos_sum, -1.0)
            };
            for c in 0..d {
                v[i * d + c] += sign * w * cols[j][c];
            }
        }
    }
    v
}
