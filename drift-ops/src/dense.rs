//! Small dense matrix products for the batched paths, on the `gemm` crate (run-time dispatch to
//! AVX2/FMA or AVX-512 where the CPU has them; single-threaded per call: the batch parallelises over
//! problems).

use drift_api::Real;

/// A row-major matrix view: `rows × cols` values starting at `data[0]`, rows `stride` apart.
#[derive(Clone, Copy, Debug)]
pub struct View<'a, T> {
    /// The values (at least `(rows − 1) · stride + cols` of them).
    pub data: &'a [T],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between the starts of two rows.
    pub stride: usize,
}

impl<'a, T> View<'a, T> {
    /// A contiguous `rows × cols` matrix.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            stride: cols,
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.stride + self.cols <= self.data.len()
    }
}

/// `c = keep · c + alpha · a · op(b)` where `op(b) = bᵀ` when `b_transposed` (`a` is `m × k`, `b` is
/// `n × k` then, `k × n` otherwise), `c` row-major `m × n` with rows `c_stride` apart.
///
/// # Panics
/// When a view does not hold its shape (a bug of the caller: every call site sizes its buffers).
pub fn matmul<T: Real>(
    c: &mut [T],
    c_stride: usize,
    keep: bool,
    a: View<'_, T>,
    b: View<'_, T>,
    b_transposed: bool,
    alpha: T,
) {
    let (m, k) = (a.rows, a.cols);
    let n = if b_transposed { b.rows } else { b.cols };
    let inner = if b_transposed { b.cols } else { b.rows };
    assert!(a.fits() && b.fits() && inner == k, "matmul: shapes");
    assert!(
        m == 0 || n == 0 || (m - 1) * c_stride + n <= c.len(),
        "matmul: output"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !keep {
            (0..m).for_each(|i| c[i * c_stride..i * c_stride + n].fill(T::zero()));
        }
        return;
    }
    let (b_cs, b_rs) = if b_transposed {
        (b.stride as isize, 1)
    } else {
        (1, b.stride as isize)
    };
    // SAFETY: the asserts above bound every index the product touches by its slice: `a` reads
    // rows < m with stride a.stride and columns < k, `b` reads k × n entries within its view, `c`
    // writes rows < m with stride c_stride and columns < n; `c` is a unique borrow, so it aliases
    // neither input.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            c_stride as isize,
            keep,
            a.data.as_ptr(),
            1,
            a.stride as isize,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            T::one(),
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_with_strides_and_transposes() {
        let a: Vec<f64> = (0..12).map(|v| v as f64 * 0.5 - 2.0).collect(); // 3 × 4, stride 4
        let b: Vec<f64> = (0..15).map(|v| (v as f64).sin()).collect(); // 5 × 3 in stride 3
                                                                       // a (3 × 3, first three columns) · bᵀ (b as 5 × 3): c is 3 × 5 in stride 6.
        let mut c = vec![1.0; 18];
        let av = View {
            data: &a,
            rows: 3,
            cols: 3,
            stride: 4,
        };
        matmul(&mut c, 6, true, av, View::new(&b, 5, 3), true, 2.0);
        for i in 0..3 {
            for j in 0..5 {
                let want: f64 =
                    1.0 + 2.0 * (0..3).map(|l| a[i * 4 + l] * b[j * 3 + l]).sum::<f64>();
                assert!((c[i * 6 + j] - want).abs() < 1e-12);
            }
            assert_eq!(c[i * 6 + 5], 1.0);
        }
        // Not transposed, overwriting: a (3 × 3) · b (3 × 5 in stride 5).
        let mut c = vec![7.0; 15];
        matmul(&mut c, 5, false, av, View::new(&b, 3, 5), false, 1.0);
        for i in 0..3 {
            for j in 0..5 {
                let want: f64 = (0..3).map(|l| a[i * 4 + l] * b[l * 5 + j]).sum();
                assert!((c[i * 5 + j] - want).abs() < 1e-12);
            }
        }
    }
}
