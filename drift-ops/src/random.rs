//! A small, seeded, platform-independent random source (SplitMix64) for random projections.

/// SplitMix64: a 64-bit generator with good statistical quality and a one-word state, so that
/// seeded directions are identical on every platform and in every version of the framework.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1]`.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// A standard normal sample (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A uniformly distributed unit vector in `dim` dimensions.
    pub fn unit_vector(&mut self, dim: usize) -> Vec<f64> {
        loop {
            let v: Vec<f64> = (0..dim).map(|_| self.normal()).collect();
            let norm = v.iter().map(|c| c * c).sum::<f64>().sqrt();
            if norm > 1e-12 {
                return v.into_iter().map(|c| c / norm).collect();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_vectors_are_unit_and_seeded() {
        let a = SplitMix64::new(7).unit_vector(5);
        let b = SplitMix64::new(7).unit_vector(5);
        assert_eq!(a, b);
        assert!((a.iter().map(|c| c * c).sum::<f64>() - 1.0).abs() < 1e-12);
        let mut r = SplitMix64::new(1);
        let mean: f64 = (0..20_000).map(|_| r.normal()).sum::<f64>() / 20_000.0;
        assert!(mean.abs() < 0.03);
    }
}
