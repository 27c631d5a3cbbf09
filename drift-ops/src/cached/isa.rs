//! The passes' units of parallel work, each run in the copy of the code for the CPU's best
//! instruction set ([`drift_api::math::on_isa`]).

use super::scaled::Entries;
use super::CachedPairs;
use crate::cpu::TILE;
use drift_api::math::IsaWork;
use drift_api::Real;

/// Row passes of one block of rows.
pub(super) struct RowPass<'s, 'a, T> {
    pub(super) pairs: &'s CachedPairs<'a, T>,
    pub(super) row0: usize,
    pub(super) tau: T,
    pub(super) g: Option<&'s [T]>,
    pub(super) shifts: Option<&'s [T]>,
    pub(super) out: &'s mut [T],
}

impl<T: Real> IsaWork for RowPass<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        self.pairs
            .row_block(self.row0, self.tau, self.g, self.shifts, self.out)
    }
}

/// One block of rows of a pass that builds the scaled matrix.
pub(super) struct BuildRows<'s, 'a, T> {
    pub(super) pairs: &'s CachedPairs<'a, T>,
    pub(super) row0: usize,
    pub(super) tau: T,
    pub(super) g: Option<&'s [T]>,
    pub(super) out: &'s mut [T],
    pub(super) rows: &'s mut [T],
    pub(super) shifts: &'s mut [T],
}

impl<T: Real> IsaWork for BuildRows<'_, '_, T> {
    type Output = bool;
    #[inline(always)]
    fn run<const FMA: bool>(self) -> bool {
        self.pairs.build_row_block(self)
    }
}

/// Row passes of one block of rows from the scaled matrix (the log-weights where it cannot).
pub(super) struct ScaledRows<'s, 'a, T> {
    pub(super) pairs: &'s CachedPairs<'a, T>,
    pub(super) entries: Entries<'s, T>,
    pub(super) shift: T,
    pub(super) min_sum: T,
    pub(super) row0: usize,
    pub(super) tau: T,
    pub(super) g: Option<&'s [T]>,
    pub(super) shifts: Option<&'s [T]>,
    pub(super) out: &'s mut [T],
}

impl<T: Real> IsaWork for ScaledRows<'_, '_, T> {
    type Output = bool;
    #[inline(always)]
    fn run<const FMA: bool>(self) -> bool {
        self.pairs.scaled_row_block(self)
    }
}

/// Column passes of one stripe: shifted by the hints where they keep every sum in range, else the
/// two-step path.
pub(super) struct ColPass<'s, 'a, T> {
    pub(super) pairs: &'s CachedPairs<'a, T>,
    pub(super) c0: usize,
    pub(super) tau: T,
    pub(super) f: Option<&'s [T]>,
    pub(super) shifts: Option<&'s [T]>,
    /// The scaled matrix holding `tau`, its factors' shift and the smallest exact sum.
    pub(super) scaled: Option<(Entries<'s, T>, T, T)>,
    pub(super) out: &'s mut [T],
}

impl<T: Real> IsaWork for ColPass<'_, '_, T> {
    /// Whether the scaled matrix (if any) is still good: it gave the stripe, or missed only columns
    /// it cannot reach.
    type Output = bool;
    #[inline(always)]
    fn run<const FMA: bool>(self) -> bool {
        if let Some((scaled, shift, min_sum)) = self.scaled {
            let mut failed = [false; TILE];
            let stale = self.pairs.scaled_col_stripe(
                scaled,
                shift,
                min_sum,
                self.c0,
                self.out,
                &mut failed,
            );
            self.pairs
                .redo_columns(&failed, self.c0, self.tau, self.f, self.shifts, self.out);
            return !stale;
        }
        let shifted = self.shifts.is_some_and(|h| {
            self.pairs
                .col_stripe_shifted(self.c0, self.tau, self.f, h, self.out)
        });
        if !shifted {
            self.pairs.col_stripe(self.c0, self.tau, self.f, self.out)
        }
        true
    }
}
